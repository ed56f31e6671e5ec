// The JSON the server answers (docs/protocol.md).

export type RunStatus = "running" | "succeeded" | "failed" | "stale" | "unknown";
export type TaskStatus = "pending" | "running" | "succeeded" | "failed" | "unknown";

export interface Run {
  flow: string;
  run_id: string;
  pathspec: string;
  status: RunStatus;
  user: string | null;
  tags: string[];
  system_tags: string[];
  started_at: string | null;
  finished_at: string | null;
  last_activity: string | null;
  origin_run_id: string | null;
  end_step: string;
  source: string;
  errors: string[];
  duration_s: number | null;
}

export interface RunsPage {
  runs: Run[];
  next_cursor: string | null;
  notes: string[];
}

export interface FlowEntry {
  name: string;
  has_runs: boolean;
  source: string | null;
}

export interface Attempt {
  attempt: number;
  started_at: string | null;
  finished_at: string | null;
  ok: boolean | null;
  done: boolean;
  return_code: number | null;
  killed: boolean;
  ended_at: string | null;
}

export interface Task {
  flow: string;
  run_id: string;
  step: string;
  task_id: string;
  pathspec: string;
  status: TaskStatus;
  attempt: number;
  attempts: Attempt[];
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  foreach_index: number | null;
  foreach_stack: string[];
  origin_pathspec: string | null;
  user: string | null;
  errors: string[];
  duration_s: number | null;
  metadata?: Record<string, unknown>;
}

// [task_id, status, attempt, foreach_index, created_ms, started_ms, ended_ms, attempts]
export type AttemptRow = [number, number | null, number | null, TaskStatus];
export type TaskRow = [
  string,
  TaskStatus,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  AttemptRow[],
];

export interface StepOfRun {
  step: string;
  pathspec: string;
  status: TaskStatus;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  errors: string[];
  task_count: number;
  tasks: TaskRow[];
}

export interface RunDetail {
  run: Run;
  steps: StepOfRun[];
}

export interface Decorator {
  name: string;
  attributes: Record<string, unknown>;
}

export interface GraphStep {
  name: string;
  type: string;
  line: number;
  source_file: string;
  doc: string;
  decorators: Decorator[];
  next: string[];
  foreach_artifact?: string | null;
  num_parallel?: unknown;
  condition?: string | null;
  switch_cases?: Record<string, string>;
  matching_join?: string;
  parallel_step: boolean;
  group: string | null;
  in_funcs: string[];
  reachable: boolean;
  inherited_from: string | null;
  position: { line: number; character: number };
  broken: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: "linear" | "split" | "foreach" | "parallel" | "switch";
  label: string | null;
}

export interface GraphGroup {
  id: string;
  kind: "foreach" | "parallel";
  split: string;
  join: string | null;
  foreach_artifact: string | null;
  num_parallel: unknown;
  parent: string | null;
  steps: string[];
}

export interface Graph {
  flow: string;
  file: string;
  doc: string;
  parameters: { name: string; kind: string; default: string | null; help: string | null }[];
  start: string | null;
  end: string | null;
  steps: GraphStep[];
  edges: GraphEdge[];
  groups: GraphGroup[];
  errors: { line: number; message: string; code: string }[];
}

export interface LogLine {
  timestamp: string | null;
  text: string;
  source: string | null;
}

export interface LogChunk {
  task_pathspec: string;
  stream: "stdout" | "stderr";
  attempt: number;
  offset: number;
  next_offset: number;
  total_lines: number;
  complete: boolean;
  lines: LogLine[];
  origin_pathspec: string | null;
  note: string | null;
}

export interface PreviewField {
  name: string;
  type: string;
  summary: string;
  repr: string;
}

export interface Preview {
  type?: string;
  kind?: string;
  summary?: string;
  repr?: string;
  fields?: PreviewField[];
  length?: number;
  shape?: number[];
  dtype?: string;
  truncated?: boolean;
}

export interface Artifact {
  name: string;
  sha: string;
  type: string;
  size: number | null;
  encoding: string | null;
  attempt: number;
  created_at: string | null;
  error: string | null;
  preview?: Preview | null;
  preview_error?: string | null;
}

export interface Card {
  task_pathspec: string;
  type: string;
  id: string | null;
  hash: string;
  size: number;
  modified_at: string | null;
}

export interface TaskDetail {
  task: Task;
  artifacts: Artifact[];
  artifacts_error: string | null;
  logs: { stdout: LogChunk; stderr: LogChunk };
  cards: Card[];
  cards_error: string | null;
  interpreter: string | null;
}
