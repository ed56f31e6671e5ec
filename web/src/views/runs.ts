// Run history: newest first, grouped by flow, filtered by user, tag and status (in the URL),
// paged from the server with its cursor; refreshed while a run is running.

import { App, errorBox, guarded, loading, markRendered } from "../app";
import { h, link, replace } from "../dom";
import { age, duration, mark } from "../format";
import { formatRoute, Route } from "../route";
import { ApiError } from "../transport";
import { FlowEntry, Graph, Run, RunsPage } from "../types";
import { renderDag } from "./dag";

const STATUSES = ["", "running", "succeeded", "failed", "stale", "unknown"];

interface Filters {
  user: string | null;
  tag: string | null;
  status: string | null;
}

function filtersOf(route: Route): Filters {
  return {
    user: route.query.get("user"),
    tag: route.query.get("tag"),
    status: route.query.get("status"),
  };
}

function filterBar(app: App, route: Route, filters: Filters): HTMLElement {
  const user = h("input", { attrs: { type: "text", name: "user", placeholder: "user", value: filters.user ?? "" } });
  const tag = h("input", { attrs: { type: "text", name: "tag", placeholder: "tag", value: filters.tag ?? "" } });
  const status = h(
    "select",
    { attrs: { name: "status", "aria-label": "status" } },
    STATUSES.map((s) => {
      const option = h("option", { attrs: { value: s } }, s || "any status");
      if (s === (filters.status ?? "")) option.selected = true;
      return option;
    }),
  );
  const form = h(
    "form",
    { class: "filters" },
    h("label", null, "User ", user),
    h("label", null, "Tag ", tag),
    h("label", null, "Status ", status),
    h("button", { attrs: { type: "submit" } }, "Filter"),
  );
  const apply = (event?: Event) => {
    event?.preventDefault();
    app.navigate(
      formatRoute(route.parts, {
        user: user.value.trim(),
        tag: tag.value.trim(),
        status: status.value,
      }),
    );
  };
  form.addEventListener("submit", apply);
  status.addEventListener("change", () => apply());
  return form;
}

function runRow(run: Run): HTMLTableRowElement {
  const started = run.started_at;
  const running = run.status === "running";
  const dur = running && started ? (Date.now() - Date.parse(started)) / 1000 : run.duration_s;
  return h(
    "tr",
    { class: `run status-${run.status}`, data: { run: run.run_id, status: run.status } },
    h("td", { class: "status", title: run.status }, h("span", { class: "mark" }, mark(run.status)), " ", run.status),
    h("td", { class: "id" }, link(formatRoute([run.flow, run.run_id]), run.run_id)),
    h("td", null, run.user ?? "—"),
    h(
      "td",
      { class: "tags" },
      run.tags.map((t) => h("span", { class: "chip" }, t)),
      run.origin_run_id ? h("span", { class: "chip muted", title: "resumed from" }, `↻ ${run.origin_run_id}`) : null,
    ),
    h("td", { title: started ?? "" }, age(started)),
    h("td", { class: "num" }, running ? `${duration(dur)} so far` : duration(dur)),
  );
}

/** A flow's runs as a table with a "more" button (cursor paging) and live refresh. */
function runsTable(app: App, flow: string, filters: Filters, pageSize: number): HTMLElement {
  const body = h("tbody");
  const more = h("button", { class: "more", attrs: { type: "button" } }, "Older runs…");
  const notes = h("div", { class: "notes" });
  const status = h("div", { class: "table-status" });
  const section = h(
    "div",
    { class: "runs", data: { flow } },
    h(
      "table",
      { class: "runs-table" },
      h(
        "thead",
        null,
        h("tr", null, h("th", null, "Status"), h("th", null, "Run"), h("th", null, "User"), h("th", null, "Tags"), h("th", null, "Started"), h("th", { class: "num" }, "Duration")),
      ),
      body,
    ),
    status,
    more,
    notes,
  );
  let cursor: string | null = null;
  let shown = 0;
  let running = false;

  const params = (limit: number, from: string | null) => ({
    flow,
    user: filters.user,
    tag: filters.tag,
    status: filters.status,
    limit,
    cursor: from,
  });

  const fill = (page: RunsPage, replace: boolean) => {
    const rows = page.runs.map(runRow);
    if (replace) body.replaceChildren(...rows);
    else body.append(...rows);
    shown = body.rows.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    running = Array.from(body.rows).some((r) => r.dataset.status === "running");
    status.replaceChildren(shown ? "" : h("p", { class: "muted" }, "No runs match."));
    notes.replaceChildren(...page.notes.map((n) => h("p", { class: "note" }, n)));
  };

  const load = async () => {
    more.disabled = true;
    try {
      fill(await app.request<RunsPage>("metaflow/runs", params(pageSize, cursor)), false);
    } catch (error) {
      if (error instanceof ApiError && error.kind === "not_found" && !cursor) {
        status.replaceChildren(h("p", { class: "muted" }, `No runs of ${flow} yet: run the flow (python <flow file> run) and they show up here.`));
        more.hidden = true;
      } else status.replaceChildren(errorBox(error, `Runs of ${flow}`));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => void load());
  void load();

  // Live: the newest page again, often while something runs.
  let last = Date.now();
  app.poll(async () => {
    const wait = running ? 2000 : 10000;
    if (Date.now() - last < wait) return;
    last = Date.now();
    const page = await app.request<RunsPage>("metaflow/runs", params(Math.min(500, Math.max(pageSize, shown)), null));
    fill(page, true);
  }, 1000);
  return section;
}

export async function renderHome(app: App, main: HTMLElement, route: Route): Promise<void> {
  const filters = filtersOf(route);
  const result = await app.request<{ flows: FlowEntry[]; notes: string[] }>("metaflow/flows", {});
  const withRuns = result.flows.filter((f) => f.has_runs);
  const withoutRuns = result.flows.filter((f) => !f.has_runs);
  replace(
    main,
    h("h1", null, "Runs"),
    filterBar(app, route, filters),
    withRuns.length ? null : h("p", { class: "muted" }, "No runs yet: run a flow (`python flow.py run`) and it shows up here."),
    withRuns.map((flow) =>
      h(
        "section",
        { class: "flow-group", data: { flow: flow.name } },
        h("h2", null, link(formatRoute([flow.name], { user: filters.user, tag: filters.tag, status: filters.status }), flow.name)),
        runsTable(app, flow.name, filters, 10),
      ),
    ),
    withoutRuns.length
      ? h(
          "section",
          { class: "flow-group" },
          h("h2", null, "Flows without runs"),
          h("ul", null, withoutRuns.map((f) => h("li", null, link(formatRoute([f.name]), f.name), h("span", { class: "muted" }, ` ${f.source ?? ""}`)))),
        )
      : null,
    result.notes.map((n) => h("p", { class: "note" }, n)),
  );
  markRendered(main, "home");
}

export async function renderFlowPage(app: App, main: HTMLElement, route: Route): Promise<void> {
  const flow = route.parts[0];
  const filters = filtersOf(route);
  const dagBox = h("div", { class: "dag-box" }, loading("Reading the flow's source…"));
  const doc = h("p", { class: "doc" });
  main.replaceChildren(
    h("h1", null, flow),
    doc,
    dagBox,
    h("h2", null, "Runs"),
    filterBar(app, route, filters),
    runsTable(app, flow, filters, 25),
  );
  await guarded(dagBox, `The graph of ${flow}`, async () => {
    const graph = await app.request<Graph>("metaflow/graph", { flow });
    doc.textContent = graph.doc;
    renderDag(app, dagBox, graph, {});
  });
}
