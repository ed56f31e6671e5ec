// The real language server for the tests: `metaflow-lsp serve` (METAFLOW_LSP, default the
// repository's .venv) over stdio with vscode-jsonrpc, initialized like the extension does.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  CancellationTokenSource,
  type MessageConnection,
} from "vscode-jsonrpc/node";

export const REPO = resolve(__dirname, "..", "..", "..");
export const SERVER = process.env.METAFLOW_LSP ?? join(REPO, ".venv", "bin", "metaflow-lsp");
/** The interpreter that runs the flows (Metaflow is in the repository's venv). */
export const PYTHON = process.env.METAFLOW_LSP_PYTHON ?? join(REPO, ".venv", "bin", "python");
export const FLOWS = join(REPO, "editors", "vscode", "test", "flows");

/** No METAFLOW_* of the developer's, an empty METAFLOW_HOME, USERNAME=tester. */
export function metaflowEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("METAFLOW_")) env[key] = value;
  return { ...env, METAFLOW_HOME: home, USERNAME: "tester", PYTHONUNBUFFERED: "1" };
}

export function fileUri(path: string): string {
  return pathToFileURL(path).href;
}

/** A temp workspace with copies of the test flows. */
export function workspace(prefix: string, files: Record<string, string>): { dir: string; home: string } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const home = mkdtempSync(join(tmpdir(), `${prefix}-home-`));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, home };
}

/** A real Metaflow run of `flowFile` in `dir`; its run id. */
export function metaflowRun(dir: string, home: string, flowFile: string, flow: string, ...args: string[]): string {
  const root = join(dir, ".metaflow", flow);
  const before = new Set(existsSync(root) ? readdirSync(root) : []);
  const proc = spawnSync(PYTHON, [flowFile, "--quiet", "run", ...args], {
    cwd: dir,
    env: metaflowEnv(home),
    encoding: "utf-8",
    timeout: 240_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (proc.status !== 0) throw new Error(`${flowFile} run failed (${proc.status}): ${proc.stderr.slice(-3000)}`);
  const made = readdirSync(root).filter((name) => /^\d+$/.test(name) && !before.has(name));
  if (made.length !== 1) throw new Error(`expected one new run of ${flow}, found ${made.join(", ")}`);
  return made[0];
}

export interface Server {
  connection: MessageConnection;
  process: ChildProcessWithoutNullStreams;
  notifications: { method: string; params: unknown }[];
  stderr: string[];
  /** The server's `initialize` answer. */
  initialized: { capabilities: Record<string, any> };
  /** Send a request; rejects with the ResponseError (code, message, data). */
  request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown>;
  stop(): Promise<void>;
}

/** Start and initialize the server for a workspace folder. */
export async function startServer(folder: string, home: string): Promise<Server> {
  if (!existsSync(SERVER)) {
    throw new Error(`${SERVER} is missing: run scripts/setup.sh, or set METAFLOW_LSP to metaflow-lsp's path`);
  }
  const child = spawn(SERVER, ["serve"], { cwd: folder, env: metaflowEnv(home), stdio: "pipe" });
  const stderr: string[] = [];
  child.stderr.setEncoding("utf-8");
  child.stderr.on("data", (chunk: string) => stderr.push(chunk));
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const notifications: { method: string; params: unknown }[] = [];
  connection.onNotification((method, params) => notifications.push({ method, params }));
  // The server may ask the client things (progress tokens, lens refreshes): answer as VS Code would.
  connection.onRequest(() => null);
  connection.listen();
  const initialized = (await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: fileUri(folder),
    workspaceFolders: [{ uri: fileUri(folder), name: "ws" }],
    capabilities: { window: { showDocument: { support: true }, workDoneProgress: true } },
    initializationOptions: { python: PYTHON },
  })) as Server["initialized"];
  await connection.sendNotification("initialized", {});
  const request = (method: string, params: unknown, signal?: AbortSignal) => {
    const source = new CancellationTokenSource();
    signal?.addEventListener("abort", () => source.cancel());
    return connection.sendRequest(method, params, source.token);
  };
  /** Resolves after `ms` without keeping node alive. */
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
  const stop = async () => {
    try {
      await Promise.race([connection.sendRequest("shutdown"), delay(10_000)]);
      await connection.sendNotification("exit");
    } catch {
      // already gone
    }
    const exited = new Promise((r) => child.once("exit", r));
    if (child.exitCode === null) await Promise.race([exited, delay(10_000)]);
    if (child.exitCode === null) child.kill("SIGKILL");
    connection.dispose();
    // The server's helper processes may hold its stdio a while longer: do not wait for them.
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
  };
  return { connection, process: child, notifications, stderr, initialized, request, stop };
}
