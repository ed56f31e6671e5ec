// The run history side panel's data, without `vscode`: flows (`metaflow/flows`) → runs
// (`metaflow/runs`, paged by its cursor, then a "Load more" item) → steps (`metaflow/run`) →
// tasks. Each node says what VS Code shows (label, description, tooltip, status) and which view
// route a click opens. Tested under plain node on the real server's answers.

export type Request = (method: string, params: Record<string, unknown>) => Promise<unknown>;

export type NodeKind = "flow" | "run" | "step" | "task" | "more" | "note";

export interface TreeNode {
  id: string;
  kind: NodeKind;
  label: string;
  description?: string;
  tooltip?: string;
  /** succeeded, failed, running, stale, unknown, pending… (the icon) */
  status?: string;
  collapsible: boolean;
  /** The view to open on click (`#/Flow/run/step/task`). */
  route?: string;
  flow?: string;
  pathspec?: string;
  /** Where the flow is defined (`metaflow/flows`' source), for requests about it. */
  source?: string | null;
}

interface FlowInfo {
  name: string;
  has_runs: boolean;
  source?: string | null;
}

interface RunInfo {
  flow: string;
  run_id: string;
  pathspec: string;
  status: string;
  user?: string | null;
  tags?: string[];
  started_at?: string | null;
  finished_at?: string | null;
  duration_s?: number | null;
  origin_run_id?: string | null;
  errors?: unknown[];
}

interface TaskInfo {
  task_id: string;
  pathspec: string;
  status: string;
  attempt?: number;
  attempts?: unknown[];
  foreach_index?: number | null;
  started_at?: string | null;
  duration_s?: number | null;
  origin_pathspec?: string | null;
}

interface StepInfo {
  step: string;
  pathspec: string;
  status: string;
  started_at?: string | null;
  finished_at?: string | null;
  task_count?: number;
  tasks: TaskInfo[];
}

/** Runs per page in the panel. */
export const PAGE = 20;
/** A step lists at most this many tasks (the view shows all of them). */
export const MAX_TASKS = 100;

/** `850 ms`, `5.7 s`, `1 min 3 s`, `2 h 5 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    const rest = Math.round(seconds - minutes * 60);
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes - hours * 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function formatAge(iso: string | null | undefined, now: number): string {
  if (!iso) return "";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, (now - then) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function route(pathspec: string): string {
  return "#/" + pathspec.split("/").map(encodeURIComponent).join("/");
}

function joined(parts: (string | null | undefined | false)[]): string {
  return parts.filter((part): part is string => !!part).join(" · ");
}

function secondsBetween(start?: string | null, end?: string | null): number | null {
  if (!start || !end) return null;
  const value = (Date.parse(end) - Date.parse(start)) / 1000;
  return Number.isFinite(value) ? value : null;
}

/** The flows: those with runs can be opened to list them. */
export function flowNodes(answer: { flows: FlowInfo[]; notes?: string[] }): TreeNode[] {
  const flows = [...answer.flows].sort((a, b) => Number(b.has_runs) - Number(a.has_runs) || a.name.localeCompare(b.name));
  const nodes: TreeNode[] = flows.map((flow) => ({
    id: `flow:${flow.name}`,
    kind: "flow",
    label: flow.name,
    description: flow.has_runs ? undefined : "no runs yet",
    tooltip: joined([flow.name, flow.source ?? undefined, flow.has_runs ? undefined : "No runs yet: ▶ Run the flow"]),
    collapsible: flow.has_runs,
    route: route(flow.name),
    flow: flow.name,
    source: flow.source ?? null,
  }));
  return [...nodes, ...(answer.notes ?? []).map((note, i) => noteNode(`flows-note:${i}`, note))];
}

/** One run: status, duration, age and user. */
export function runNode(run: RunInfo, now: number): TreeNode {
  const age = formatAge(run.started_at, now);
  const duration = run.status === "running" ? "running" : formatDuration(run.duration_s);
  return {
    id: `run:${run.pathspec}`,
    kind: "run",
    label: run.run_id,
    description: joined([run.status === "running" ? undefined : run.status, duration, age, run.user]),
    tooltip: joined([
      `${run.pathspec}: ${run.status}`,
      run.started_at ? `started ${run.started_at}` : undefined,
      run.user ? `by ${run.user}` : undefined,
      run.tags?.length ? `tags ${run.tags.join(", ")}` : undefined,
      run.origin_run_id ? `resumed from ${run.origin_run_id}` : undefined,
    ]),
    status: run.status,
    collapsible: true,
    route: route(run.pathspec),
    flow: run.flow,
    pathspec: run.pathspec,
  };
}

/** A page of runs, then "Load more" when the server gave a cursor. */
export function runNodes(
  flow: string,
  runs: RunInfo[],
  nextCursor: string | null,
  notes: string[],
  now: number,
): TreeNode[] {
  const nodes = runs.map((run) => runNode(run, now));
  if (nextCursor) {
    nodes.push({ id: `more:${flow}:${nextCursor}`, kind: "more", label: "Load more…", collapsible: false, flow });
  }
  if (!runs.length) nodes.push(noteNode(`runs-none:${flow}`, "No runs."));
  return [...nodes, ...notes.map((note, i) => noteNode(`runs-note:${flow}:${i}`, note))];
}

/** The steps of a run, in the order they started: status, tasks and duration. */
export function stepNodes(answer: { run: RunInfo; steps: StepInfo[] }, now: number): TreeNode[] {
  return answer.steps.map((step) => {
    const count = step.task_count ?? step.tasks.length;
    const duration = step.status === "running" ? "running" : formatDuration(secondsBetween(step.started_at, step.finished_at));
    return {
      id: `step:${step.pathspec}`,
      kind: "step",
      label: step.step,
      description: joined([count > 1 ? `${count} tasks` : undefined, duration, formatAge(step.started_at, now)]),
      tooltip: `${step.pathspec}: ${step.status}${count > 1 ? `, ${count} tasks` : ""}`,
      status: step.status,
      collapsible: count > 1,
      route: route(step.pathspec),
      flow: answer.run.flow,
      pathspec: step.pathspec,
    };
  });
}

/** The tasks of a step (foreach index, status, attempts, duration). */
export function taskNodes(step: StepInfo, flow: string): TreeNode[] {
  const nodes: TreeNode[] = step.tasks.slice(0, MAX_TASKS).map((task) => {
    const attempts = task.attempts?.length ?? 0;
    return {
      id: `task:${task.pathspec}`,
      kind: "task",
      label: task.foreach_index === null || task.foreach_index === undefined ? `task ${task.task_id}` : `[${task.foreach_index}] task ${task.task_id}`,
      description: joined([
        task.status === "running" ? "running" : formatDuration(task.duration_s),
        attempts > 1 ? `${attempts} attempts` : undefined,
        task.origin_pathspec ? "cloned" : undefined,
      ]),
      tooltip: joined([`${task.pathspec}: ${task.status}`, task.origin_pathspec ? `cloned from ${task.origin_pathspec}` : undefined]),
      status: task.status,
      collapsible: false,
      route: route(task.pathspec),
      flow,
      pathspec: task.pathspec,
    };
  });
  const count = step.task_count ?? step.tasks.length;
  if (count > MAX_TASKS) {
    nodes.push(noteNode(`tasks-more:${step.pathspec}`, `${count - MAX_TASKS} more tasks: open the step in the view`, route(step.pathspec)));
  }
  return nodes;
}

export function noteNode(id: string, text: string, to?: string): TreeNode {
  return { id: `note:${id}`, kind: "note", label: text, tooltip: text, collapsible: false, route: to };
}

function errorText(error: unknown): string {
  if (error && typeof error === "object" && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message;
  }
  return String(error);
}

interface RunPages {
  runs: RunInfo[];
  cursor: string | null;
  notes: string[];
}

/** The tree's state: pages of runs loaded per flow, runs' steps read once (until refresh). */
export class RunsModel {
  private flows = new Map<string, FlowInfo>();
  private pages = new Map<string, RunPages>();
  private runs = new Map<string, Promise<{ run: RunInfo; steps: StepInfo[] }>>();

  constructor(
    private readonly request: Request,
    private readonly now: () => number = Date.now,
    private readonly pageSize = PAGE,
  ) {}

  /** Forget everything read (the refresh button, a run ended). */
  clear(): void {
    this.flows.clear();
    this.pages.clear();
    this.runs.clear();
  }

  /** The children of a node (the flows at the top); a failed request is one note saying why. */
  async children(node?: TreeNode): Promise<TreeNode[]> {
    try {
      if (!node) return await this.flowChildren();
      if (node.kind === "flow" && node.flow) return await this.runChildren(node.flow);
      if (node.kind === "run" && node.pathspec) return stepNodes(await this.run(node.pathspec), this.now());
      if (node.kind === "step" && node.pathspec && node.flow) {
        const runPathspec = node.pathspec.split("/").slice(0, 2).join("/");
        const answer = await this.run(runPathspec);
        const step = answer.steps.find((s) => s.pathspec === node.pathspec);
        return step ? taskNodes(step, node.flow) : [];
      }
      return [];
    } catch (error) {
      return [noteNode(`error:${node?.id ?? "root"}`, errorText(error), node?.route)];
    }
  }

  /** Read the next page of a flow's runs; false when there was none. */
  async loadMore(flow: string): Promise<boolean> {
    const pages = this.pages.get(flow);
    if (!pages || !pages.cursor) return false;
    const answer = (await this.request("metaflow/runs", this.runsParams(flow, pages.cursor))) as {
      runs: RunInfo[];
      next_cursor: string | null;
      notes?: string[];
    };
    const seen = new Set(pages.runs.map((run) => run.pathspec));
    pages.runs.push(...answer.runs.filter((run) => !seen.has(run.pathspec)));
    pages.cursor = answer.next_cursor;
    return true;
  }

  private async flowChildren(): Promise<TreeNode[]> {
    const answer = (await this.request("metaflow/flows", {})) as { flows: FlowInfo[]; notes?: string[] };
    this.flows = new Map(answer.flows.map((flow) => [flow.name, flow]));
    return flowNodes(answer);
  }

  private runsParams(flow: string, cursor: string | null): Record<string, unknown> {
    const params: Record<string, unknown> = { flow, limit: this.pageSize, cursor };
    const source = this.flows.get(flow)?.source;
    if (source) params.uri = source;
    return params;
  }

  private async runChildren(flow: string): Promise<TreeNode[]> {
    let pages = this.pages.get(flow);
    if (!pages) {
      const answer = (await this.request("metaflow/runs", this.runsParams(flow, null))) as {
        runs: RunInfo[];
        next_cursor: string | null;
        notes?: string[];
      };
      pages = { runs: answer.runs, cursor: answer.next_cursor, notes: answer.notes ?? [] };
      this.pages.set(flow, pages);
    }
    return runNodes(flow, pages.runs, pages.cursor, pages.notes, this.now());
  }

  private run(pathspec: string): Promise<{ run: RunInfo; steps: StepInfo[] }> {
    let answer = this.runs.get(pathspec);
    if (!answer) {
      // Only the tasks shown: a 10,000-task run answers in about a second, not in 15.
      const params: Record<string, unknown> = { pathspec, max_tasks: MAX_TASKS };
      const source = this.flows.get(pathspec.split("/")[0])?.source;
      if (source) params.uri = source;
      answer = this.request("metaflow/run", params) as Promise<{ run: RunInfo; steps: StepInfo[] }>;
      // A running run changes: read it again next time; a failed read too.
      answer.then(
        (value) => {
          if (value.run.status === "running") this.runs.delete(pathspec);
        },
        () => this.runs.delete(pathspec),
      );
      this.runs.set(pathspec, answer);
    }
    return answer;
  }
}
