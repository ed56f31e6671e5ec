// How to start the language server, without `vscode`: the configured executable when it exists
// (on PATH, or in a workspace folder's .venv), else `python -m metaflow_lsp serve`.
import { existsSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

export interface LaunchSettings {
  command: string;
  args: string[];
  /** `metaflow.python`: the flows' interpreter. */
  python: string | null;
}

export interface Launch {
  command: string;
  args: string[];
  /** Why this and not the setting, for the log. */
  note: string | null;
}

function isExecutable(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `command` resolved on `PATH` (or as given when it is a path); null when it is nowhere. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv): string | null {
  if (command.includes("/") || command.includes("\\") || isAbsolute(command)) return isExecutable(command) ? command : null;
  const extensions = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const extension of extensions) {
      const candidate = join(dir, command + extension);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

/** The server's command line for these settings and workspace folders. */
export function serverLaunch(settings: LaunchSettings, folders: string[], env: NodeJS.ProcessEnv): Launch {
  const found = findExecutable(settings.command, env);
  if (found) return { command: found, args: settings.args, note: null };
  const bin = process.platform === "win32" ? "Scripts" : "bin";
  for (const folder of folders) {
    for (const venv of [".venv", "venv"]) {
      const candidate = join(folder, venv, bin, settings.command);
      if (!settings.command.includes("/") && existsSync(candidate)) {
        return { command: candidate, args: settings.args, note: `${settings.command} is not on PATH: using ${candidate}` };
      }
    }
  }
  const python = settings.python || findExecutable("python3", env) || "python";
  return {
    command: python,
    args: ["-m", "metaflow_lsp", "serve"],
    note: `${settings.command} was not found (PATH, the workspace's .venv): trying ${python} -m metaflow_lsp serve`,
  };
}
