// The DAG: laid out by dagre (compound graph: a foreach's or @parallel's body is a group), drawn
// as SVG, panned and zoomed by d3-zoom. With a run, each step is coloured by its tasks' state.

import { graphlib, layout } from "@dagrejs/dagre";
import { select } from "d3-selection";
import { zoom, zoomIdentity, zoomTransform, ZoomBehavior, ZoomTransform } from "d3-zoom";
import { App, markRendered } from "../app";
import { h, replace, s } from "../dom";
import { mark } from "../format";
import { Graph, GraphGroup, GraphStep, TaskStatus } from "../types";

export interface StepState {
  status: TaskStatus | "not-run";
  tasks: number;
  failed: number;
  running: number;
}

export interface DagOptions {
  states?: Map<string, StepState>;
  selected?: string | null;
  onSelect?: (step: GraphStep) => void;
}

export interface DagHandle {
  select(step: string | null): void;
  update(states: Map<string, StepState>): void;
}

const NAME_FONT = "600 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
const SUB_FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
const GROUP_FONT = "600 11px system-ui, -apple-system, 'Segoe UI', sans-serif";
const NODE_H = 46;
const PAD_X = 16;

let measureCtx: CanvasRenderingContext2D | null = null;
function textWidth(text: string, font: string): number {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  if (!measureCtx) return text.length * 7.5;
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

function subtitle(step: GraphStep): string {
  const parts: string[] = [];
  switch (step.type) {
    case "split-foreach":
      parts.push(`foreach ${step.foreach_artifact ?? "?"}`);
      break;
    case "split-parallel":
      parts.push(`num_parallel=${String(step.num_parallel ?? "?")}`);
      break;
    case "split-switch":
      parts.push(`switch on ${step.condition ?? "?"}`);
      break;
    case "split-static":
      parts.push("split");
      break;
    case "join":
      parts.push("join");
      break;
    case "start":
    case "end":
      break;
    default:
      break;
  }
  for (const d of step.decorators) parts.push(`@${d.name}`);
  return parts.join(" · ");
}

function decoratorText(step: GraphStep): string[] {
  return step.decorators.map((d) => {
    const attrs = Object.entries(d.attributes ?? {})
      .filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0))
      .slice(0, 6)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
    return `@${d.name}${attrs.length ? `(${attrs.join(", ")})` : ""}`;
  });
}

function basis(points: { x: number; y: number }[]): string {
  // A B-spline through dagre's control points (as d3's curveBasis draws it).
  if (points.length < 3) return `M${points.map((p) => `${p.x},${p.y}`).join("L")}`;
  let d = `M${points[0].x},${points[0].y}`;
  const p = points;
  d += `L${(5 * p[0].x + p[1].x) / 6},${(5 * p[0].y + p[1].y) / 6}`;
  for (let i = 1; i < p.length - 1; i++) {
    const x0 = p[i - 1].x, y0 = p[i - 1].y, x1 = p[i].x, y1 = p[i].y, x2 = p[i + 1].x, y2 = p[i + 1].y;
    d += `C${(2 * x0 + x1) / 3},${(2 * y0 + y1) / 3} ${(x0 + 2 * x1) / 3},${(y0 + 2 * y1) / 3} ${(x0 + 4 * x1 + x2) / 6},${(y0 + 4 * y1 + y2) / 6}`;
  }
  const n = p.length - 1;
  const a = p[n - 1], b = p[n];
  d += `C${(2 * a.x + b.x) / 3},${(2 * a.y + b.y) / 3} ${(a.x + 2 * b.x) / 3},${(a.y + 2 * b.y) / 3} ${b.x},${b.y}`;
  return d;
}

function groupLabel(group: GraphGroup, states?: Map<string, StepState>): string {
  const first = group.steps[0];
  const count = first && states?.get(first)?.tasks;
  const what = group.kind === "parallel" ? `@parallel × ${String(group.num_parallel ?? "?")}` : `foreach ${group.foreach_artifact ?? ""}`;
  return count ? `${what} · ${count} task${count === 1 ? "" : "s"}` : what;
}

export function renderDag(app: App, container: HTMLElement, graph: Graph, options: DagOptions): DagHandle {
  const g = new graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: "TB", nodesep: 34, ranksep: 50, edgesep: 14, marginx: 24, marginy: 30 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const group of graph.groups) g.setNode(`group:${group.id}`, { width: 0, height: 0 });
  for (const group of graph.groups) if (group.parent) g.setParent(`group:${group.id}`, `group:${group.parent}`);
  for (const step of graph.steps) {
    const width = Math.max(120, textWidth(`${mark("succeeded")} ${step.name}`, NAME_FONT), textWidth(subtitle(step), SUB_FONT)) + PAD_X * 2;
    g.setNode(step.name, { width, height: NODE_H });
    if (step.group) g.setParent(step.name, `group:${step.group}`);
  }
  for (const edge of graph.edges) {
    const label = edge.label ? { label: edge.label, width: textWidth(edge.label, SUB_FONT) + 12, height: 18, labelpos: "c" as const } : {};
    g.setEdge(edge.from, edge.to, label);
  }
  // The crossing-minimisation pass dagre runs last costs a third of the layout on big flows
  // and changes little on Metaflow's series-parallel graphs: skipped above 150 steps.
  layout(g, { disableOptimalOrderHeuristic: graph.steps.length > 150 });

  const size = g.graph() as { width?: number; height?: number };
  const width = Math.max(1, size.width ?? 1);
  const height = Math.max(1, size.height ?? 1);
  const stepsByName = new Map(graph.steps.map((st) => [st.name, st]));

  const defs = s(
    "defs",
    null,
    s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, s("path", { d: "M0,0L10,5L0,10z", class: "arrowhead" })),
  );
  const groupsLayer = s("g", { class: "groups" });
  const edgesLayer = s("g", { class: "edges" });
  const nodesLayer = s("g", { class: "nodes" });
  const labelsLayer = s("g", { class: "group-tags" });
  const viewport = s("g", { class: "viewport" }, groupsLayer, edgesLayer, nodesLayer, labelsLayer);
  const svg = s("svg", { class: "dag", role: "img", "aria-label": `DAG of ${graph.flow}`, width: "100%", height: "100%" }, defs, viewport);

  // Groups, outermost first (drawn under their children).
  const depth = (group: GraphGroup): number => (group.parent ? 1 + depth(graph.groups.find((x) => x.id === group.parent) ?? { ...group, parent: null }) : 0);
  const groupLabels = new Map<string, SVGTextElement>();
  const groupPills = new Map<string, SVGRectElement>();
  // Each group's box is drawn around its steps and inner groups, innermost first (dagre's own
  // cluster borders are off when its last ordering pass is skipped on big flows).
  const boxes = new Map<string, { x: number; y: number; width: number; height: number }>();
  for (const group of [...graph.groups].sort((a, b) => depth(b) - depth(a))) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const include = (b: { x: number; y: number; width: number; height: number }) => {
      x0 = Math.min(x0, b.x - b.width / 2);
      x1 = Math.max(x1, b.x + b.width / 2);
      y0 = Math.min(y0, b.y - b.height / 2);
      y1 = Math.max(y1, b.y + b.height / 2);
    };
    for (const name of group.steps) {
      const n = g.node(name) as { x: number; y: number; width: number; height: number } | undefined;
      if (n) include(n);
    }
    for (const inner of graph.groups) if (inner.parent === group.id && boxes.has(inner.id)) include(boxes.get(inner.id)!);
    if (!isFinite(x0)) continue;
    const pad = 16;
    boxes.set(group.id, { x: (x0 + x1) / 2, y: (y0 + y1) / 2, width: x1 - x0 + 2 * pad, height: y1 - y0 + 2 * pad });
  }
  for (const group of [...graph.groups].sort((a, b) => depth(a) - depth(b))) {
    const box = boxes.get(group.id);
    if (!box) continue;
    const x = box.x - box.width / 2, y = box.y - box.height / 2;
    // The label hangs on the box's top border, left of where the split's edge comes in.
    const text = groupLabel(group, options.states);
    const right = box.x - 10;
    const label = s("text", { x: right - 6, y: y + 4, "text-anchor": "end", class: "group-label" }, text);
    const pill = s("rect", { x: right - textWidth(text, GROUP_FONT) - 12, y: y - 8, width: textWidth(text, GROUP_FONT) + 12, height: 17, rx: 8, class: "group-pill" });
    groupLabels.set(group.id, label);
    groupPills.set(group.id, pill);
    const shapes = [s("rect", { x, y, width: box.width, height: box.height, rx: 10, class: "group-box" })];
    if (group.kind === "foreach") shapes.push(s("rect", { x: x + 4, y: y + 4, width: box.width - 8, height: box.height - 8, rx: 8, class: "group-inner" }));
    groupsLayer.append(s("g", { class: `group group-${group.kind}`, "data-group": group.id }, ...shapes));
    labelsLayer.append(s("g", { class: `group-tag group-${group.kind}`, "data-group": group.id }, pill, label));
  }

  for (const edge of graph.edges) {
    const e = g.edge(edge.from, edge.to) as { points?: { x: number; y: number }[]; x?: number; y?: number } | undefined;
    if (!e?.points) continue;
    const path = s("path", { d: basis(e.points), class: `edge edge-${edge.kind}`, "marker-end": "url(#arrow)", "data-from": edge.from, "data-to": edge.to });
    const parts: SVGElement[] = [path];
    if (edge.label && e.x !== undefined && e.y !== undefined) {
      const w = textWidth(edge.label, SUB_FONT) + 12;
      parts.push(
        s("g", { class: "edge-label", transform: `translate(${e.x},${e.y})` }, s("rect", { x: -w / 2, y: -9, width: w, height: 18, rx: 4 }), s("text", { "text-anchor": "middle", y: 4 }, edge.label)),
      );
    }
    edgesLayer.append(s("g", { class: `edge-group edge-${edge.kind}` }, ...parts));
  }

  const tooltip = h("div", { class: "tooltip dag-tooltip", attrs: { role: "tooltip" } });
  tooltip.hidden = true;
  const nodeEls = new Map<string, SVGGElement>();
  for (const step of graph.steps) {
    const n = g.node(step.name) as { x: number; y: number; width: number; height: number };
    const x = n.x - n.width / 2, y = n.y - n.height / 2;
    const kind = step.parallel_step ? "parallel-step" : step.type;
    const shapes: SVGElement[] = [];
    if (step.parallel_step) shapes.push(s("rect", { x: x + 5, y: y + 5, width: n.width, height: n.height, rx: 8, class: "node-shadow" }));
    shapes.push(s("rect", { x, y, width: n.width, height: n.height, rx: step.type === "start" || step.type === "end" ? n.height / 2 : 8, class: "node-box" }));
    if (step.type === "split-switch") shapes.push(s("path", { d: `M${x + n.width - 16},${y + 8}l6,6l-6,6l-6,-6z`, class: "switch-mark" }));
    const statusText = s("tspan", { class: "node-mark" }, "");
    const node = s(
      "g",
      { class: `node node-${kind}${step.broken ? " node-broken" : ""}${step.reachable ? "" : " node-unreachable"}`, "data-step": step.name, tabindex: 0, role: "button", "aria-label": `step ${step.name}` },
      ...shapes,
      s("text", { x: n.x, y: subtitle(step) ? y + 19 : n.y + 5, "text-anchor": "middle", class: "node-name" }, statusText, step.name),
      s("text", { x: n.x, y: y + 35, "text-anchor": "middle", class: "node-sub" }, subtitle(step)),
    );
    node.addEventListener("click", () => options.onSelect?.(step));
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        options.onSelect?.(step);
      }
    });
    node.addEventListener("mouseenter", () => showTip(step, node));
    node.addEventListener("focus", () => showTip(step, node));
    node.addEventListener("mouseleave", () => (tooltip.hidden = true));
    node.addEventListener("blur", () => (tooltip.hidden = true));
    nodeEls.set(step.name, node);
    nodesLayer.append(node);
  }

  let states = options.states;
  function showTip(step: GraphStep, node: SVGGElement): void {
    const state = states?.get(step.name);
    replace(
      tooltip,
      h("div", { class: "tip-title" }, step.name, h("span", { class: "muted" }, ` ${step.type}${step.parallel_step ? " · @parallel" : ""}`)),
      ...decoratorText(step).map((d) => h("div", { class: "tip-deco" }, d)),
      step.doc ? h("div", { class: "tip-doc" }, step.doc) : null,
      state ? h("div", { class: `tip-state status-${state.status}` }, `${mark(state.status)} ${state.status === "not-run" ? "not run" : state.status} · ${state.tasks} task${state.tasks === 1 ? "" : "s"}${state.failed ? ` · ${state.failed} failed` : ""}`) : null,
      h("div", { class: "tip-where muted" }, `line ${step.line}${step.inherited_from ? ` · from ${step.inherited_from}` : ""}`),
    );
    tooltip.hidden = false;
    const box = node.getBoundingClientRect();
    const outer = container.getBoundingClientRect();
    const left = Math.min(box.right - outer.left + 8, outer.width - 300);
    tooltip.style.left = `${Math.max(4, left)}px`;
    tooltip.style.top = `${Math.max(4, box.top - outer.top)}px`;
  }

  function paint(next?: Map<string, StepState>): void {
    states = next;
    for (const [name, el] of nodeEls) {
      const state = next?.get(name);
      el.classList.remove("status-pending", "status-running", "status-succeeded", "status-failed", "status-unknown", "status-not-run");
      if (state) el.classList.add(`status-${state.status}`);
      el.dataset.status = state?.status ?? "";
      const tspan = el.querySelector(".node-mark");
      if (tspan) tspan.textContent = state ? `${mark(state.status === "not-run" ? "pending" : state.status)} ` : "";
    }
    for (const group of graph.groups) {
      const label = groupLabels.get(group.id);
      const pill = groupPills.get(group.id);
      if (!label || !pill) continue;
      const text = groupLabel(group, next);
      label.textContent = text;
      const right = Number(label.getAttribute("x")) + 6;
      const w = textWidth(text, GROUP_FONT) + 12;
      pill.setAttribute("x", String(right - w));
      pill.setAttribute("width", String(w));
    }
  }

  function select_(name: string | null): void {
    for (const [step, el] of nodeEls) el.classList.toggle("selected", step === name);
  }

  // Pan and zoom.
  const zoomIn = h("button", { attrs: { type: "button", title: "Zoom in" } }, "+");
  const zoomOut = h("button", { attrs: { type: "button", title: "Zoom out" } }, "−");
  const fitButton = h("button", { attrs: { type: "button", title: "Fit the whole graph" } }, "Fit");
  const find = h("input", { attrs: { type: "search", placeholder: "Find a step", "aria-label": "find a step", list: `steps-${graph.flow}` } });
  const datalist = h("datalist", { attrs: { id: `steps-${graph.flow}` } }, graph.steps.map((st) => h("option", { attrs: { value: st.name } })));
  const legend = h(
    "div",
    { class: "legend" },
    h("span", { class: "lg lg-foreach" }, "foreach"),
    h("span", { class: "lg lg-parallel" }, "@parallel"),
    h("span", { class: "lg lg-switch" }, "switch"),
    h("span", { class: "lg lg-split" }, "split"),
  );
  const toolbar = h("div", { class: "dag-toolbar" }, zoomOut, zoomIn, fitButton, find, datalist, legend, h("span", { class: "muted" }, `${graph.steps.length} steps`));
  const stage = h("div", { class: "dag-stage" }, svg as unknown as HTMLElement, tooltip);
  const errors = graph.errors.length
    ? h("div", { class: "error" }, h("strong", null, "The flow has errors: "), graph.errors.slice(0, 5).map((e) => h("div", null, `line ${e.line}: ${e.message}`)))
    : null;
  container.replaceChildren(toolbar, errors ?? "", stage);

  const behavior: ZoomBehavior<SVGSVGElement, unknown> = zoom<SVGSVGElement, unknown>()
    .scaleExtent([0.05, 3])
    .extent(() => [
      [0, 0],
      [stage.clientWidth || 800, stage.clientHeight || 500],
    ])
    .on("zoom", (event: { transform: ZoomTransform }) => {
      viewport.setAttribute("transform", event.transform.toString());
      tooltip.hidden = true;
    });
  const selection = select<SVGSVGElement, unknown>(svg);
  selection.call(behavior).on("dblclick.zoom", null);

  function fit(readable: boolean): void {
    const w = stage.clientWidth || 800, hgt = stage.clientHeight || 500;
    let k = Math.min(w / width, hgt / height, 1.2);
    if (readable && k < 0.6) {
      // Too big to read whole: a readable size, the start at the top centre (pan, zoom, Fit
      // and "Find a step" reach the rest).
      k = 0.9;
      const start = graph.start ? (g.node(graph.start) as { x: number; y: number } | undefined) : undefined;
      const cx = start?.x ?? width / 2;
      selection.call(behavior.transform, zoomIdentity.translate(w / 2 - cx * k, 20).scale(k));
      return;
    }
    selection.call(behavior.transform, zoomIdentity.translate((w - width * k) / 2, (hgt - height * k) / 2).scale(k));
  }
  function center(name: string): void {
    const n = g.node(name) as { x: number; y: number } | undefined;
    if (!n) return;
    const k = Math.max(0.8, zoomTransform(svg).k);
    const w = stage.clientWidth, hgt = stage.clientHeight;
    selection.call(behavior.transform, zoomIdentity.translate(w / 2 - n.x * k, hgt / 2 - n.y * k).scale(k));
  }
  zoomIn.addEventListener("click", () => selection.call(behavior.scaleBy, 1.25));
  zoomOut.addEventListener("click", () => selection.call(behavior.scaleBy, 0.8));
  fitButton.addEventListener("click", () => fit(false));
  find.addEventListener("change", () => {
    const name = find.value.trim();
    if (stepsByName.has(name)) {
      select_(name);
      center(name);
    }
  });

  paint(options.states);
  select_(options.selected ?? null);
  fit(true);
  if (options.selected) center(options.selected);
  container.dataset.steps = String(graph.steps.length);
  markRendered(container, "dag");
  void app;
  return { select: select_, update: paint };
}
