// A run: its header, the DAG coloured by the steps' states, the timeline of its tasks, and the
// selected step's details (in VS Code, clicking a step also opens its `def`).

import { App, errorBox, guarded, loading } from "../app";
import { h, link } from "../dom";
import { age, duration, mark, when } from "../format";
import { formatRoute, Route } from "../route";
import { Graph, GraphStep, RunDetail, StepOfRun, TaskRow } from "../types";
import { DagHandle, renderDag, StepState } from "./dag";
import { renderTimeline, TimelineHandle } from "./timeline";

export function stepStates(detail: RunDetail, graph: Graph | null): Map<string, StepState> {
  const states = new Map<string, StepState>();
  for (const step of detail.steps) {
    let failed = 0, running = 0;
    for (const row of step.tasks) {
      if (row[1] === "failed") failed++;
      else if (row[1] === "running") running++;
    }
    states.set(step.step, { status: step.status, tasks: step.task_count, failed, running });
  }
  if (graph) {
    const finished = detail.run.status !== "running";
    for (const step of graph.steps)
      if (!states.has(step.name)) states.set(step.name, { status: finished ? "not-run" : "pending", tasks: 0, failed: 0, running: 0 });
  }
  return states;
}

function header(detail: RunDetail): HTMLElement {
  const run = detail.run;
  const running = run.status === "running";
  const dur = running && run.started_at ? (Date.now() - Date.parse(run.started_at)) / 1000 : run.duration_s;
  return h(
    "div",
    { class: `run-header status-${run.status}`, data: { status: run.status } },
    h("span", { class: "badge" }, `${mark(run.status)} ${run.status}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Run"), h("dd", null, run.run_id),
      h("dt", null, "User"), h("dd", null, run.user ?? "—"),
      h("dt", null, "Started"), h("dd", { title: run.started_at ?? "" }, `${when(run.started_at)} (${age(run.started_at)})`),
      h("dt", null, "Duration"), h("dd", null, running ? `${duration(dur)} so far` : duration(dur)),
      h("dt", null, "Steps"), h("dd", null, String(detail.steps.length)),
      h("dt", null, "Tasks"), h("dd", null, String(detail.steps.reduce((n, st) => n + st.task_count, 0))),
      run.origin_run_id ? [h("dt", null, "Resumed from"), h("dd", null, link(formatRoute([run.flow, run.origin_run_id]), run.origin_run_id))] : null,
      run.tags.length ? [h("dt", null, "Tags"), h("dd", null, run.tags.map((t) => h("span", { class: "chip" }, t)))] : null,
    ),
    run.errors.map((e) => h("p", { class: "note" }, e)),
  );
}

const TASK_LIST_LIMIT = 300;

function stepPanel(app: App, detail: RunDetail, graph: Graph | null, name: string): HTMLElement {
  const step = graph?.steps.find((st) => st.name === name) ?? null;
  const ran: StepOfRun | undefined = detail.steps.find((st) => st.step === name);
  const run = detail.run;
  const open =
    step && app.transport.kind === "vscode"
      ? h("button", { attrs: { type: "button" }, on: { click: () => openSource(app, graph!, step) } }, "Open in editor")
      : null;
  const rows: TaskRow[] = ran?.tasks ?? [];
  const list = h(
    "ul",
    { class: "task-list" },
    rows.slice(0, TASK_LIST_LIMIT).map((row) =>
      h(
        "li",
        { class: `status-${row[1]}` },
        h("span", { class: "mark" }, mark(row[1])),
        " ",
        link(formatRoute([run.flow, run.run_id, name, row[0]]), `task ${row[0]}`),
        row[3] !== null ? h("span", { class: "muted" }, ` [${row[3]}]`) : null,
        row[7].length > 1 ? h("span", { class: "chip" }, `${row[7].length} attempts`) : null,
      ),
    ),
  );
  return h(
    "aside",
    { class: "step-panel", data: { step: name } },
    h("h3", null, name, " ", h("span", { class: "muted" }, step?.type ?? "")),
    open,
    step ? h("div", { class: "muted" }, `${step.source_file}:${step.line}`) : null,
    step?.decorators.length ? h("div", null, step.decorators.map((d) => h("span", { class: "chip" }, `@${d.name}`))) : null,
    step?.doc ? h("p", { class: "doc" }, step.doc) : null,
    ran
      ? h("p", null, `${mark(ran.status)} ${ran.status} · ${ran.task_count} task${ran.task_count === 1 ? "" : "s"}`, ran.started_at ? ` · started ${when(ran.started_at)}` : "")
      : h("p", { class: "muted" }, "This step has no tasks in this run."),
    list,
    rows.length > TASK_LIST_LIMIT ? h("p", { class: "muted" }, `… and ${rows.length - TASK_LIST_LIMIT} more: see the timeline.`) : null,
  );
}

function openSource(app: App, graph: Graph, step: GraphStep): boolean {
  return app.transport.openSource({
    flow: graph.flow,
    step: step.name,
    path: step.source_file,
    line: step.position.line,
    character: step.position.character,
  });
}

export async function renderRunPage(app: App, main: HTMLElement, route: Route): Promise<void> {
  const [flow, runId, selectedStep] = route.parts;
  const pathspec = `${flow}/${runId}`;
  const view = route.query.get("view") === "timeline" ? "timeline" : "dag";
  const headerBox = h("div", { class: "run-header-box" }, loading());
  const tabs = h(
    "div",
    { class: "tabs", attrs: { role: "tablist" } },
    link(formatRoute(route.parts, { view: "dag" }), "DAG"),
    link(formatRoute(route.parts, { view: "timeline" }), "Timeline"),
  );
  tabs.children[view === "dag" ? 0 : 1].classList.add("active");
  const body = h("div", { class: `run-body view-${view}` });
  const side = h("div", { class: "side" });
  main.replaceChildren(h("h1", null, `${flow} / ${runId}`), headerBox, tabs, h("div", { class: "run-layout" }, body, side));

  const detailPromise = app.request<RunDetail>("metaflow/run", { pathspec, tasks: "rows" });
  const graphPromise: Promise<Graph | null> =
    view === "dag" || selectedStep ? app.request<Graph>("metaflow/graph", { flow }).catch((error) => {
      graphError = error;
      return null;
    }) : Promise.resolve(null);
  let graphError: unknown = null;
  let detail: RunDetail;
  try {
    detail = await detailPromise;
  } catch (error) {
    headerBox.replaceChildren(errorBox(error, `Run ${pathspec}`));
    body.replaceChildren();
    return;
  }
  headerBox.replaceChildren(header(detail));
  const graph = await graphPromise;
  if (selectedStep) side.replaceChildren(stepPanel(app, detail, graph, selectedStep));

  let dag: DagHandle | null = null;
  let timeline: TimelineHandle | null = null;
  await guarded(body, view === "dag" ? "The DAG" : "The timeline", async () => {
    if (view === "dag") {
      if (!graph) {
        body.replaceChildren(errorBox(graphError ?? "no source", "The DAG needs the flow's source"), fallbackSteps(detail));
        return;
      }
      dag = renderDag(app, body, graph, {
        states: stepStates(detail, graph),
        selected: selectedStep ?? null,
        onSelect: (step) => {
          if (app.transport.kind === "vscode") openSource(app, graph, step);
          app.navigate(formatRoute([flow, runId, step.name], { view: "dag" }));
        },
      });
    } else {
      timeline = renderTimeline(body, detail, {
        onOpen: (step, task) => app.navigate(formatRoute([flow, runId, step, task])),
      });
      app.onLeave(() => timeline?.destroy());
    }
  });

  if (detail.run.status === "running") {
    app.poll(async () => {
      const fresh = await app.request<RunDetail>("metaflow/run", { pathspec, tasks: "rows" });
      detail = fresh;
      headerBox.replaceChildren(header(fresh));
      dag?.update(stepStates(fresh, graph));
      timeline?.update(fresh);
      if (selectedStep) side.replaceChildren(stepPanel(app, fresh, graph, selectedStep));
    }, 2000);
  }
}

function fallbackSteps(detail: RunDetail): HTMLElement {
  return h(
    "ul",
    { class: "task-list" },
    detail.steps.map((st) =>
      h("li", { class: `status-${st.status}` }, h("span", { class: "mark" }, mark(st.status)), " ", link(formatRoute([detail.run.flow, detail.run.run_id, st.step]), st.step), ` · ${st.task_count} tasks`),
    ),
  );
}
