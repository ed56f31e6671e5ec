// The timeline: a Gantt chart of a run's tasks grouped by step, on a canvas that draws only the
// rows in view (10,000 tasks scroll as fast as 10), with the visible rows' labels as DOM links.
// Attempts are segments of a task's row (retries marked), failed attempts red with a cross.

import { h, replace } from "../dom";
import { duration, mark, ms } from "../format";
import { formatRoute } from "../route";
import { RunDetail, StepOfRun, TaskRow } from "../types";
import { markRendered } from "../app";

export interface TimelineHandle {
  update(detail: RunDetail): void;
  destroy(): void;
}

interface StepLine {
  kind: "step";
  step: StepOfRun;
  start: number | null;
  end: number | null;
}
interface TaskLine {
  kind: "task";
  step: string;
  row: TaskRow;
}
type Line = StepLine | TaskLine;

const ROW_H = 22;
const AXIS_H = 28;

function taskStart(row: TaskRow): number | null {
  return row[4] ?? row[5] ?? row[7][0]?.[1] ?? null;
}

function taskEnd(row: TaskRow, now: number): number | null {
  const last = row[7][row[7].length - 1];
  return row[6] ?? last?.[2] ?? (row[1] === "running" ? now : null);
}

function everFailed(row: TaskRow): boolean {
  return row[1] === "failed" || row[7].some((a) => a[3] === "failed");
}

export function renderTimeline(
  container: HTMLElement,
  initial: RunDetail,
  options: { onOpen: (step: string, task: string) => void },
): TimelineHandle {
  let detail = initial;
  const collapsed = new Set<string>();
  let failedOnly = false;
  let lines: Line[] = [];
  let t0 = 0, t1 = 1;
  let zoomK = 1; // plot width = viewport width * zoomK
  let scrollX = 0, scrollY = 0;
  let frame = 0;

  const zoomOut = h("button", { attrs: { type: "button", title: "Zoom out (Ctrl+wheel)" } }, "−");
  const zoomIn = h("button", { attrs: { type: "button", title: "Zoom in (Ctrl+wheel)" } }, "+");
  const fit = h("button", { attrs: { type: "button", title: "Show the whole run" } }, "Fit");
  const failedBox = h("input", { attrs: { type: "checkbox" } });
  const summary = h("span", { class: "muted" });
  const toolbar = h(
    "div",
    { class: "tl-toolbar" },
    zoomOut, zoomIn, fit,
    h("label", null, failedBox, " failed tasks only"),
    h("span", { class: "legend" }, h("span", { class: "lg lg-ok" }, "succeeded"), h("span", { class: "lg lg-fail" }, "failed"), h("span", { class: "lg lg-run" }, "running"), h("span", { class: "lg lg-queue" }, "queued"), h("span", { class: "lg lg-retry" }, "retry")),
    summary,
  );
  const axis = h("canvas", { class: "tl-axis" });
  const plot = h("canvas", { class: "tl-plot", attrs: { "aria-label": "task bars" } });
  const labels = h("div", { class: "tl-labels", attrs: { role: "list" } });
  const vSpacer = h("div", { class: "tl-spacer" });
  const hSpacer = h("div", { class: "tl-spacer" });
  const vbar = h("div", { class: "tl-vbar" }, vSpacer);
  const hbar = h("div", { class: "tl-hbar" }, hSpacer);
  const tooltip = h("div", { class: "tooltip tl-tooltip", attrs: { role: "tooltip" } });
  tooltip.hidden = true;
  const grid = h(
    "div",
    { class: "tl-grid" },
    h("div", { class: "tl-corner" }, "Step / task"), axis, h("div"),
    labels, plot, vbar,
    h("div"), hbar, h("div"),
  );
  const root = h("div", { class: "timeline" }, toolbar, grid, tooltip);
  container.replaceChildren(root);

  function rebuild(): void {
    const now = Date.now();
    lines = [];
    let lo = Infinity, hi = -Infinity, total = 0, failed = 0;
    for (const step of detail.steps) {
      let s0 = Infinity, s1 = -Infinity;
      const rows = failedOnly ? step.tasks.filter(everFailed) : step.tasks;
      for (const row of step.tasks) {
        const a = taskStart(row), b = taskEnd(row, now);
        if (a !== null) s0 = Math.min(s0, a);
        if (b !== null) s1 = Math.max(s1, b);
        if (everFailed(row)) failed++;
      }
      total += step.tasks.length;
      if (failedOnly && rows.length === 0) continue;
      lines.push({ kind: "step", step, start: isFinite(s0) ? s0 : null, end: isFinite(s1) ? s1 : null });
      if (!collapsed.has(step.step)) for (const row of rows) lines.push({ kind: "task", step: step.step, row });
      lo = Math.min(lo, s0);
      hi = Math.max(hi, s1);
    }
    const runStart = detail.run.started_at ? Date.parse(detail.run.started_at) : NaN;
    if (isFinite(runStart)) lo = Math.min(lo, runStart);
    if (!isFinite(lo)) lo = now - 1000;
    if (!isFinite(hi) || hi <= lo) hi = lo + 1000;
    t0 = lo;
    t1 = hi + (hi - lo) * 0.02;
    summary.textContent = `${total} tasks in ${detail.steps.length} steps${failed ? ` · ${failed} failed` : ""} · ${duration((hi - lo) / 1000)}`;
    root.dataset.tasks = String(total);
    root.dataset.failed = String(failed);
    vSpacer.style.height = `${lines.length * ROW_H}px`;
    layoutH();
  }

  function plotWidth(): number {
    return Math.max(1, plot.clientWidth * zoomK);
  }

  function layoutH(): void {
    hSpacer.style.width = `${plotWidth()}px`;
  }

  function x(t: number): number {
    return ((t - t0) / (t1 - t0)) * plotWidth() - scrollX;
  }

  function colors(): Record<string, string> {
    const style = getComputedStyle(root);
    const get = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
    return {
      fg: get("--fg", "#222"), muted: get("--muted", "#777"), border: get("--border", "#ccc"),
      stripe: get("--stripe", "rgba(127,127,127,0.07)"), step: get("--step-bar", "rgba(127,127,127,0.35)"),
      ok: get("--ok", "#2da44e"), fail: get("--fail", "#cf222e"), run: get("--run", "#0969da"),
      queue: get("--queue", "rgba(127,127,127,0.35)"), retry: get("--warn", "#bf8700"), bg: get("--bg", "#fff"),
    };
  }

  function sized(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, hh = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hh * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hh * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  function ticks(): number[] {
    const span = (t1 - t0) / zoomK;
    const steps = [10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000];
    const want = span / Math.max(2, plot.clientWidth / 110);
    const stepMs = steps.find((st) => st >= want) ?? steps[steps.length - 1];
    const out: number[] = [];
    const first = t0 + Math.ceil((((scrollX / plotWidth()) * (t1 - t0))) / stepMs) * stepMs;
    for (let t = first; x(t) <= plot.clientWidth && out.length < 200; t += stepMs) out.push(t);
    return out;
  }

  function draw(): void {
    frame = 0;
    const c = colors();
    const ctx = sized(plot), actx = sized(axis);
    if (!ctx || !actx) return;
    const W = plot.clientWidth, H = plot.clientHeight;
    ctx.clearRect(0, 0, W, H);
    actx.clearRect(0, 0, axis.clientWidth, AXIS_H);
    const marks = ticks();
    actx.font = "11px system-ui, sans-serif";
    actx.fillStyle = c.muted;
    actx.strokeStyle = c.border;
    for (const t of marks) {
      const px = Math.round(x(t)) + 0.5;
      actx.beginPath(); actx.moveTo(px, AXIS_H - 8); actx.lineTo(px, AXIS_H); actx.stroke();
      actx.fillText(`+${duration((t - t0) / 1000)}`, px + 3, AXIS_H - 11);
      ctx.strokeStyle = c.stripe;
      ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, H); ctx.stroke();
    }
    const first = Math.max(0, Math.floor(scrollY / ROW_H));
    const last = Math.min(lines.length, Math.ceil((scrollY + H) / ROW_H) + 1);
    const now = Date.now();
    for (let i = first; i < last; i++) {
      const line = lines[i];
      const y = i * ROW_H - scrollY;
      if (line.kind === "step") {
        ctx.fillStyle = c.stripe;
        ctx.fillRect(0, y, W, ROW_H);
        if (line.start !== null && line.end !== null) {
          ctx.fillStyle = line.step.status === "failed" ? c.fail : c.step;
          ctx.globalAlpha = 0.45;
          ctx.fillRect(x(line.start), y + 8, Math.max(2, x(line.end) - x(line.start)), 6);
          ctx.globalAlpha = 1;
        }
        continue;
      }
      const row = line.row;
      const created = row[4];
      const firstStart = row[7][0]?.[1] ?? row[5];
      if (created !== null && firstStart !== null && firstStart > created) {
        ctx.fillStyle = c.queue;
        ctx.fillRect(x(created), y + ROW_H / 2 - 1, Math.max(1, x(firstStart) - x(created)), 2);
      }
      row[7].forEach((attempt, index) => {
        const [, a, b, status] = attempt;
        if (a === null) return;
        const end = b ?? (status === "running" ? now : a);
        const left = x(a), width = Math.max(3, x(end) - left);
        if (left > W || left + width < 0) return;
        ctx.fillStyle = status === "failed" ? c.fail : status === "running" ? c.run : status === "succeeded" ? c.ok : c.muted;
        ctx.fillRect(left, y + 4, width, ROW_H - 8);
        if (index > 0) {
          // A retry: a mark at its start.
          ctx.fillStyle = c.retry;
          ctx.fillRect(left - 1, y + 2, 3, ROW_H - 4);
        }
        if (status === "failed") {
          const cx = left + width + 6, cy = y + ROW_H / 2;
          ctx.strokeStyle = c.fail;
          ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(cx - 4, cy - 4); ctx.lineTo(cx + 4, cy + 4); ctx.moveTo(cx + 4, cy - 4); ctx.lineTo(cx - 4, cy + 4); ctx.stroke();
          ctx.lineWidth = 1;
        }
      });
    }
    drawLabels(first, last);
  }

  function drawLabels(first: number, last: number): void {
    const items: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const line = lines[i];
      const top = `${i * ROW_H - scrollY}px`;
      let el: HTMLElement;
      if (line.kind === "step") {
        const step = line.step;
        el = h(
          "button",
          { class: `tl-label tl-step status-${step.status}`, attrs: { type: "button", "aria-expanded": String(!collapsed.has(step.step)) }, data: { step: step.step } },
          `${collapsed.has(step.step) ? "▸" : "▾"} ${step.step} `,
          h("span", { class: "muted" }, `(${step.task_count})`),
        );
        el.addEventListener("click", () => {
          if (collapsed.has(step.step)) collapsed.delete(step.step);
          else collapsed.add(step.step);
          rebuild();
          schedule();
        });
      } else {
        const row = line.row;
        const href = formatRoute([detail.run.flow, detail.run.run_id, line.step, row[0]]);
        el = h(
          "a",
          { class: `tl-label tl-task status-${row[1]}`, attrs: { href, role: "listitem" }, data: { task: `${line.step}/${row[0]}`, status: row[1] } },
          h("span", { class: "mark" }, mark(row[1])),
          ` ${row[0]}`,
          row[3] !== null ? h("span", { class: "muted" }, ` [${row[3]}]`) : null,
          row[7].length > 1 ? h("span", { class: "retry" }, ` ×${row[7].length}`) : null,
        );
      }
      el.style.top = top;
      items.push(el);
    }
    labels.replaceChildren(...items);
  }

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function lineAt(clientY: number): Line | null {
    const rect = plot.getBoundingClientRect();
    const i = Math.floor((clientY - rect.top + scrollY) / ROW_H);
    return lines[i] ?? null;
  }

  function showTip(event: MouseEvent): void {
    const line = lineAt(event.clientY);
    if (!line) {
      tooltip.hidden = true;
      return;
    }
    const now = Date.now();
    if (line.kind === "step") {
      replace(tooltip, h("div", { class: "tip-title" }, line.step.step), h("div", null, `${mark(line.step.status)} ${line.step.status} · ${line.step.task_count} tasks`), line.start !== null && line.end !== null ? h("div", null, `${ms(line.start)} → ${ms(line.end)} (${duration((line.end - line.start) / 1000)})`) : null);
    } else {
      const row = line.row;
      tooltip.replaceChildren(
        h("div", { class: "tip-title" }, `${detail.run.flow}/${detail.run.run_id}/${line.step}/${row[0]}`),
        h("div", null, `${mark(row[1])} ${row[1]}${row[3] !== null ? ` · foreach index ${row[3]}` : ""}`),
        ...row[7].map((a) => h("div", { class: `status-${a[3]}` }, `attempt ${a[0]}: ${a[3]} · ${a[1] !== null ? ms(a[1]) : "—"} · ${a[1] !== null ? duration(((a[2] ?? now) - a[1]) / 1000) : "—"}`)),
      );
    }
    tooltip.hidden = false;
    const rect = root.getBoundingClientRect();
    tooltip.style.left = `${Math.min(event.clientX - rect.left + 14, rect.width - 320)}px`;
    tooltip.style.top = `${event.clientY - rect.top + 14}px`;
  }

  function zoomAt(factor: number, clientX?: number): void {
    const rect = plot.getBoundingClientRect();
    const px = clientX !== undefined ? clientX - rect.left : plot.clientWidth / 2;
    const before = (px + scrollX) / plotWidth();
    zoomK = Math.min(20000, Math.max(1, zoomK * factor));
    layoutH();
    scrollX = Math.max(0, before * plotWidth() - px);
    hbar.scrollLeft = scrollX;
    scrollX = hbar.scrollLeft;
    schedule();
  }

  const onWheel = (event: WheelEvent) => {
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) zoomAt(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX);
    else if (event.shiftKey) hbar.scrollLeft += event.deltaY;
    else {
      vbar.scrollTop += event.deltaY;
      hbar.scrollLeft += event.deltaX;
    }
  };
  plot.addEventListener("wheel", onWheel, { passive: false });
  labels.addEventListener("wheel", onWheel, { passive: false });
  vbar.addEventListener("scroll", () => {
    scrollY = vbar.scrollTop;
    tooltip.hidden = true;
    schedule();
  });
  hbar.addEventListener("scroll", () => {
    scrollX = hbar.scrollLeft;
    schedule();
  });
  plot.addEventListener("mousemove", showTip);
  plot.addEventListener("mouseleave", () => (tooltip.hidden = true));
  plot.addEventListener("click", (event) => {
    const line = lineAt(event.clientY);
    if (line?.kind === "task") options.onOpen(line.step, line.row[0]);
  });
  zoomIn.addEventListener("click", () => zoomAt(1.5));
  zoomOut.addEventListener("click", () => zoomAt(1 / 1.5));
  fit.addEventListener("click", () => {
    zoomK = 1;
    layoutH();
    hbar.scrollLeft = 0;
    scrollX = 0;
    schedule();
  });
  failedBox.addEventListener("change", () => {
    failedOnly = failedBox.checked;
    vbar.scrollTop = 0;
    rebuild();
    schedule();
  });
  const resize = new ResizeObserver(() => {
    layoutH();
    schedule();
  });
  resize.observe(plot);

  rebuild();
  draw();
  markRendered(root, "timeline");
  return {
    update(next: RunDetail) {
      detail = next;
      rebuild();
      schedule();
    },
    destroy() {
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
