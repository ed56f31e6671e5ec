// The app's shared context: the transport, navigation, polling that stops when the page changes,
// and errors shown in the panel (never a blank page).

import { h } from "./dom";
import { ApiError, Transport } from "./transport";
import { Route } from "./route";

export class App {
  private timers: number[] = [];
  private cleanups: (() => void)[] = [];
  generation = 0;

  constructor(
    readonly transport: Transport,
    readonly navigate: (route: string) => void,
  ) {}

  request<T>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.transport.request<T>(method, params);
  }

  /** Call `fn` every `ms` while the current page is shown (and the document visible). */
  poll(fn: () => Promise<unknown> | void, ms: number): void {
    const generation = this.generation;
    let busy = false;
    const id = window.setInterval(async () => {
      if (busy || generation !== this.generation || document.visibilityState === "hidden") return;
      busy = true;
      try {
        await fn();
      } catch (error) {
        console.warn("refresh failed", error);
      } finally {
        busy = false;
      }
    }, ms);
    this.timers.push(id);
  }

  onLeave(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** A new page: stop the previous page's polls and listeners. */
  leave(): number {
    for (const id of this.timers) window.clearInterval(id);
    this.timers = [];
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch (error) {
        console.warn("cleanup failed", error);
      }
    }
    return ++this.generation;
  }

  current(generation: number): boolean {
    return generation === this.generation;
  }
}

export type Page = (app: App, main: HTMLElement, route: Route) => Promise<void>;

export function errorBox(error: unknown, what?: string): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof ApiError ? error.kind : error instanceof Error ? error.name : "error";
  return h(
    "div",
    { class: "error", attrs: { role: "alert" }, data: { kind } },
    h("strong", null, what ? `${what}: ` : "Error: "),
    message,
    kind && kind !== "error" ? h("span", { class: "muted" }, ` (${kind})`) : null,
  );
}

export function loading(text = "Loading…"): HTMLElement {
  return h("p", { class: "loading muted" }, text);
}

/** Run `render` into `el`; on failure show the error there. */
export async function guarded(el: HTMLElement, what: string, render: () => Promise<void>): Promise<void> {
  try {
    await render();
  } catch (error) {
    console.error(what, error);
    el.replaceChildren(errorBox(error, what));
  }
}

export function markRendered(el: HTMLElement, what: string): void {
  el.dataset.rendered = what;
  // Marked after the next frame so that a measure includes layout and paint.
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.mark(`render:${what}`);
      document.body.dataset[`rendered${what[0].toUpperCase()}${what.slice(1)}`] = "true";
    }, 0),
  );
}
