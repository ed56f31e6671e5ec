// A task: its status and attempts, its logs (paged from the end, searchable, followed while it
// runs), its artifacts with previews (the server's worker loads them), its cards in a sandboxed
// frame, and its metadata.

import { App, errorBox, guarded, loading, markRendered } from "../app";
import { h, link, replace } from "../dom";
import { age, bytes, duration, mark, when } from "../format";
import { formatRoute, Route } from "../route";
import { Artifact, Card, LogChunk, LogLine, Preview, TaskDetail } from "../types";

const PAGE = 1000;

function header(detail: TaskDetail): HTMLElement {
  const t = detail.task;
  return h(
    "div",
    { class: `run-header status-${t.status}`, data: { status: t.status } },
    h("span", { class: "badge" }, `${mark(t.status)} ${t.status}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Task"), h("dd", null, t.pathspec),
      h("dt", null, "Started"), h("dd", { title: t.started_at ?? "" }, `${when(t.started_at ?? t.created_at)} (${age(t.started_at ?? t.created_at)})`),
      h("dt", null, "Duration"), h("dd", null, duration(t.duration_s)),
      t.foreach_index !== null ? [h("dt", null, "Foreach"), h("dd", null, `index ${t.foreach_index}`, t.foreach_stack.length ? ` (${t.foreach_stack.join(", ")})` : "")] : null,
      h("dt", null, "Attempts"),
      h(
        "dd",
        null,
        t.attempts.map((a) =>
          h("span", { class: `chip status-${a.ok === true ? "succeeded" : a.ok === false ? "failed" : a.done ? "unknown" : "running"}` }, `#${a.attempt} ${a.ok === true ? "ok" : a.ok === false ? "failed" : a.done ? "?" : "running"}${a.return_code !== null && a.return_code !== 0 ? ` (exit ${a.return_code})` : ""}`),
        ),
      ),
      t.origin_pathspec ? [h("dt", null, "Cloned from"), h("dd", null, link(formatRoute(t.origin_pathspec.split("/")), t.origin_pathspec))] : null,
    ),
    t.errors.map((e) => h("p", { class: "note" }, e)),
  );
}

// ---------------------------------------------------------------------------------------------
// Logs

function highlight(text: string, query: string): (Node | string)[] {
  if (!query) return [text];
  const out: (Node | string)[] = [];
  const lower = text.toLowerCase();
  const q = query.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h("mark", null, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function logPanel(app: App, pathspec: string, initialStream: "stdout" | "stderr", attempts: number[]): HTMLElement {
  let stream = initialStream;
  let attempt: number | null = null;
  let lines: LogLine[] = [];
  let first = 0; // offset of lines[0]
  let next = 0;
  let complete = true;
  let query = "";
  let token = 0;

  const tabs = h("div", { class: "tabs small", attrs: { role: "tablist" } });
  const search = h("input", { attrs: { type: "search", placeholder: "Search the log", "aria-label": "search the log" } });
  const count = h("span", { class: "muted" });
  const earlier = h("button", { attrs: { type: "button" } }, "Earlier lines…");
  const all = h("button", { attrs: { type: "button" } }, "Load the whole log");
  const attemptSelect = h(
    "select",
    { attrs: { "aria-label": "attempt" } },
    h("option", { attrs: { value: "" } }, "latest attempt"),
    attempts.map((a) => h("option", { attrs: { value: String(a) } }, `attempt ${a}`)),
  );
  const body = h("div", { class: "log", attrs: { role: "log", tabindex: "0" }, data: { stream } });
  const note = h("div", { class: "muted" });
  const panel = h("section", { class: "logs" }, h("div", { class: "log-toolbar" }, tabs, attemptSelect, search, earlier, all, count), note, body);

  function renderTabs(): void {
    tabs.replaceChildren(
      ...(["stdout", "stderr"] as const).map((name) =>
        h("button", { class: name === stream ? "active" : "", attrs: { type: "button", role: "tab", "aria-selected": String(name === stream) }, on: { click: () => { stream = name; void reload(); } } }, name),
      ),
    );
  }

  function render(): void {
    const shown: HTMLElement[] = [];
    let matches = 0;
    lines.forEach((line, i) => {
      if (query && !line.text.toLowerCase().includes(query.toLowerCase())) return;
      matches++;
      shown.push(
        h("div", { class: "log-line", data: { n: String(first + i + 1) } }, h("span", { class: "ln" }, String(first + i + 1)), h("span", { class: "lt" }, ...highlight(line.text, query))),
      );
    });
    body.replaceChildren(...shown);
    body.dataset.stream = stream;
    earlier.hidden = first <= 0;
    all.hidden = first <= 0;
    count.textContent = query
      ? `${matches} matching line${matches === 1 ? "" : "s"} of ${lines.length} loaded${first > 0 ? ` (${first} earlier not loaded)` : ""}`
      : `${lines.length} line${lines.length === 1 ? "" : "s"}${first > 0 ? ` (last ${lines.length} of ${first + lines.length})` : ""}${complete ? "" : " · following…"}`;
    if (!lines.length && !note.textContent) note.textContent = `No ${stream} output.`;
  }

  async function fetchChunk(offset: number, limit: number): Promise<LogChunk> {
    return app.request<LogChunk>("metaflow/logs", { pathspec, stream, offset, limit, attempt });
  }

  async function reload(): Promise<void> {
    const mine = ++token;
    renderTabs();
    body.replaceChildren(loading());
    note.textContent = "";
    try {
      const chunk = await fetchChunk(-PAGE, PAGE);
      if (mine !== token) return;
      lines = chunk.lines;
      first = chunk.offset;
      next = chunk.next_offset;
      complete = chunk.complete;
      note.textContent = [chunk.note, chunk.origin_pathspec ? `Logs of ${chunk.origin_pathspec} (this task was cloned by resume).` : null].filter(Boolean).join(" ");
      render();
      body.scrollTop = body.scrollHeight;
    } catch (error) {
      body.replaceChildren(errorBox(error, `The ${stream} log`));
    }
  }

  async function loadEarlier(everything: boolean): Promise<void> {
    const mine = token;
    while (first > 0 && mine === token) {
      const start = Math.max(0, first - (everything ? 10000 : PAGE));
      const chunk = await fetchChunk(start, first - start);
      if (mine !== token) return;
      lines = [...chunk.lines, ...lines];
      first = start;
      if (!everything) break;
    }
    render();
  }

  earlier.addEventListener("click", () => void loadEarlier(false).catch((e) => note.replaceChildren(errorBox(e, "Earlier lines"))));
  all.addEventListener("click", () => void loadEarlier(true).catch((e) => note.replaceChildren(errorBox(e, "The whole log"))));
  search.addEventListener("input", () => {
    query = search.value;
    render();
  });
  attemptSelect.addEventListener("change", () => {
    attempt = attemptSelect.value === "" ? null : Number(attemptSelect.value);
    void reload();
  });

  // Follow a running task's log.
  app.poll(async () => {
    if (complete) return;
    const mine = token;
    const chunk = await fetchChunk(next, 10000);
    if (mine !== token) return;
    const atBottom = body.scrollTop + body.clientHeight >= body.scrollHeight - 4;
    lines = lines.concat(chunk.lines);
    next = chunk.next_offset;
    complete = chunk.complete;
    if (chunk.lines.length || complete) note.textContent = chunk.note ?? "";
    render();
    if (atBottom) body.scrollTop = body.scrollHeight;
  }, 2000);

  void reload();
  return panel;
}

// ---------------------------------------------------------------------------------------------
// Artifacts

function previewBlock(preview: Preview | null | undefined, error: string | null | undefined): HTMLElement {
  if (!preview) return h("div", { class: "muted" }, error ? `Value not shown: ${error}` : "—");
  return h(
    "div",
    { class: "preview" },
    h("div", { class: "muted" }, `${preview.summary ?? preview.type ?? ""}${preview.shape ? ` · shape ${JSON.stringify(preview.shape)}` : ""}${preview.dtype ? ` · ${preview.dtype}` : ""}${preview.truncated ? " · truncated" : ""}`),
    h("pre", { class: "value" }, preview.repr ?? ""),
  );
}

function artifactsPanel(app: App, detail: TaskDetail): HTMLElement {
  const pathspec = detail.task.pathspec;
  const publicOnes = detail.artifacts.filter((a) => !a.name.startsWith("_"));
  const privateOnes = detail.artifacts.filter((a) => a.name.startsWith("_"));
  const full = h("div", { class: "artifact-full" });
  const row = (a: Artifact) =>
    h(
      "tr",
      { class: "artifact", data: { name: a.name } },
      h("td", null, h("button", { class: "linkish", attrs: { type: "button", title: "Show the whole value" }, on: { click: () => void showFull(a) } }, a.name)),
      h("td", null, a.type.replace(/^<class '(.*)'>$/, "$1")),
      h("td", { class: "num" }, bytes(a.size)),
      h("td", { class: "preview-cell" }, a.error ? h("span", { class: "note" }, a.error) : previewBlock(a.preview, a.preview_error)),
    );
  async function showFull(a: Artifact): Promise<void> {
    full.replaceChildren(loading(`Loading ${a.name}…`));
    await guarded(full, `Artifact ${a.name}`, async () => {
      const result = await app.request<{ preview: Preview }>("metaflow/artifact", { pathspec, name: a.name, max_items: 200, max_chars: 20000 });
      const p = result.preview;
      replace(
        full,
        h("h4", null, `self.${a.name}`),
        previewBlock(p, null),
        p.fields?.length
          ? h("table", { class: "fields" }, h("tbody", null, p.fields.map((f) => h("tr", null, h("td", null, f.name), h("td", { class: "muted" }, f.type), h("td", null, h("code", null, f.repr))))))
          : null,
      );
    });
  }
  const table = (items: Artifact[]) =>
    h("table", { class: "artifacts" }, h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Type"), h("th", { class: "num" }, "Size"), h("th", null, "Value"))), h("tbody", null, items.map(row)));
  return h(
    "section",
    { class: "artifacts-section" },
    detail.artifacts_error ? h("p", { class: "note" }, detail.artifacts_error) : null,
    publicOnes.length ? table(publicOnes) : detail.artifacts_error ? null : h("p", { class: "muted" }, "No artifacts."),
    detail.interpreter ? h("p", { class: "muted small" }, `Values loaded by ${detail.interpreter}.`) : null,
    full,
    privateOnes.length ? h("details", null, h("summary", null, `Metaflow's own artifacts (${privateOnes.length})`), table(privateOnes)) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Cards

function cardsPanel(app: App, detail: TaskDetail): HTMLElement {
  const pathspec = detail.task.pathspec;
  if (detail.cards_error) return h("section", null, errorBox(detail.cards_error, "Cards"));
  if (!detail.cards.length) return h("section", null, h("p", { class: "muted" }, "This task has no cards."));
  const frameBox = h("div", { class: "card-frame" });
  const show = async (card: Card) => {
    // No allow-same-origin: the card runs in an opaque origin, away from the app, its token
    // (an HttpOnly cookie) and the editor; its own CSP (sent by the server) forbids the network.
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "allow-scripts");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.title = `card ${card.type}${card.id ? ` ${card.id}` : ""}`;
    frame.className = "card";
    const url = app.transport.cardUrl(pathspec, card.hash);
    if (url) frame.src = url;
    else {
      const result = await app.request<{ html: string; url?: string }>("metaflow/card", { pathspec, hash: card.hash });
      if (result.url) frame.src = result.url;
      else frame.srcdoc = result.html;
    }
    frameBox.replaceChildren(frame);
  };
  const list = h(
    "div",
    { class: "card-list" },
    detail.cards.map((card) =>
      h("button", { attrs: { type: "button" }, on: { click: () => void show(card).catch((e) => frameBox.replaceChildren(errorBox(e, "The card"))) } }, `${card.type}${card.id ? ` · ${card.id}` : ""}`, h("span", { class: "muted" }, ` ${bytes(card.size)}`)),
    ),
  );
  void show(detail.cards[0]).catch((e) => frameBox.replaceChildren(errorBox(e, "The card")));
  return h("section", { class: "cards" }, list, frameBox);
}

// ---------------------------------------------------------------------------------------------
// Metadata

function metadataPanel(detail: TaskDetail): HTMLElement {
  const entries = Object.entries(detail.task.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return h(
    "section",
    null,
    h(
      "table",
      { class: "metadata" },
      h("tbody", null, entries.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, h("code", null, typeof v === "string" ? v : JSON.stringify(v)))))),
    ),
  );
}

export async function renderTaskPage(app: App, main: HTMLElement, route: Route): Promise<void> {
  const [flow, runId, step, taskId] = route.parts;
  const pathspec = `${flow}/${runId}/${step}/${taskId}`;
  const tab = route.query.get("tab") ?? "logs";
  main.replaceChildren(h("h1", null, `${step} / ${taskId}`), loading("Reading the task…"));
  const detail = await app.request<TaskDetail>("metaflow/task", { pathspec, log_lines: 0, previews: true });
  const tabNames: [string, string][] = [
    ["logs", "Logs"],
    ["artifacts", `Artifacts (${detail.artifacts.filter((a) => !a.name.startsWith("_")).length})`],
    ["cards", `Cards (${detail.cards.length})`],
    ["metadata", "Metadata"],
  ];
  const tabs = h(
    "div",
    { class: "tabs", attrs: { role: "tablist" } },
    tabNames.map(([key, label]) => h("a", { class: key === tab ? "active" : "", attrs: { href: formatRoute(route.parts, { tab: key }), role: "tab" } }, label)),
  );
  let panel: HTMLElement;
  const failed = detail.task.status === "failed";
  if (tab === "artifacts") panel = artifactsPanel(app, detail);
  else if (tab === "cards") panel = cardsPanel(app, detail);
  else if (tab === "metadata") panel = metadataPanel(detail);
  else panel = logPanel(app, pathspec, route.query.get("stream") === "stdout" ? "stdout" : route.query.get("stream") === "stderr" || failed ? "stderr" : "stdout", detail.task.attempts.map((a) => a.attempt));
  main.replaceChildren(
    h("h1", null, `${step} / ${taskId}`, " ", h("span", { class: "muted" }, link(formatRoute([flow, runId, step]), `in run ${runId}`))),
    header(detail),
    tabs,
    panel,
  );
  markRendered(main, "task");
  if (detail.task.status === "running") {
    app.poll(async () => {
      const fresh = await app.request<TaskDetail>("metaflow/task", { pathspec, log_lines: 0, previews: false });
      main.children[1]?.replaceWith(header(fresh));
      if (fresh.task.status !== "running") app.navigate(location.hash);
    }, 3000);
  }
}
