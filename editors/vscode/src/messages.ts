// What the extension says about runs started from the editor, without `vscode`: the Output
// channel's lines for `metaflow/output`, and the notification for `metaflow/finished` (shapes in
// docs/protocol.md, "While it runs" and "When it ends").

export interface OutputParams {
  execution: string;
  flow?: string;
  kind?: string;
  run_id?: string | null;
  step?: string | null;
  task?: string | null;
  stream?: string;
  text: string;
}

export interface Execution {
  execution?: string;
  kind?: string;
  flow?: string;
  status?: string;
  command?: string;
  cwd?: string;
  message?: string;
  notes?: string[];
}

export interface FinishedParams extends Execution {
  execution: string;
  status: string;
  message: string;
  pathspec?: string | null;
  run_id?: string | null;
  cards?: string[];
}

/** The header the Output channel shows when an execution starts (or is queued). */
export function startedLines(execution: Execution): string[] {
  if (!execution.execution || !["running", "queued"].includes(String(execution.status))) return [];
  const lines = [`── ${execution.execution} · ${execution.status === "queued" ? "queued: " : ""}${execution.command ?? execution.kind ?? ""}`];
  if (execution.cwd) lines.push(`   in ${execution.cwd}`);
  for (const note of execution.notes ?? []) lines.push(`   ⚠ ${note}`);
  return lines;
}

/** The line that closes an execution in the Output channel. */
export function finishedLine(params: FinishedParams): string {
  return `── ${params.execution} ${params.status}: ${params.message}`;
}

export type Severity = "info" | "warning" | "error";

/** How loud the end of an execution is. */
export function finishedSeverity(params: FinishedParams): Severity {
  if (params.status === "succeeded") return "info";
  if (params.status === "cancelled") return "warning";
  return "error";
}

/** The route of what an execution made (a run, a resumed run), or null for a spin (its task lives
 * in `.metaflow_spin`, which the view does not read). */
export function finishedRoute(params: FinishedParams): string | null {
  if (params.kind === "spin" || !params.pathspec) return null;
  return "#/" + params.pathspec.split("/").map(encodeURIComponent).join("/");
}

/** Messages the server shows after `metaflow/finished` that the extension has already shown:
 * remembered a short while, so that the server's copy is dropped. */
export class RecentMessages {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  remember(message: string): void {
    this.seen.set(message, this.now() + this.ttlMs);
  }

  /** True (once) when `message` starts with a remembered one. */
  take(message: string): boolean {
    const now = this.now();
    for (const [text, until] of this.seen) {
      if (until < now) this.seen.delete(text);
      else if (message.startsWith(text)) {
        this.seen.delete(text);
        return true;
      }
    }
    return false;
  }
}
