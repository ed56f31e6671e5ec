// The web view's entry point: the shell (breadcrumbs, pathspec box), the router over the URL's
// fragment, and the pages. Every error ends up in the panel.

import { App, Page, errorBox, guarded, loading } from "./app";
import { clear, h, link } from "./dom";
import { formatRoute, parseRoute, pathspecRoute, Route } from "./route";
import { makeTransport } from "./transport";
import { renderFlowPage, renderHome } from "./views/runs";
import { renderRunPage } from "./views/run";
import { renderTaskPage } from "./views/task";

function crumbs(route: Route): HTMLElement {
  const nav = h("nav", { class: "crumbs", attrs: { "aria-label": "pathspec" } });
  nav.append(link("#/", "Runs"));
  route.parts.forEach((part, i) => {
    nav.append(h("span", { class: "sep" }, "/"));
    const here = formatRoute(route.parts.slice(0, i + 1));
    nav.append(i === route.parts.length - 1 ? h("span", { class: "here" }, part) : link(here, part));
  });
  return nav;
}

function pageFor(route: Route): Page {
  switch (route.parts.length) {
    case 0:
      return renderHome;
    case 1:
      return renderFlowPage;
    case 2:
    case 3:
      return renderRunPage;
    default:
      return renderTaskPage;
  }
}

function start(): void {
  const root = document.getElementById("app");
  if (!root) throw new Error("no #app element");
  const { transport, initialRoute } = makeTransport();
  document.body.classList.add(`transport-${transport.kind}`);

  const header = h("header", { class: "topbar" });
  const banner = h("div", { class: "banner" });
  const main = h("main", { class: "page", attrs: { id: "page" } });
  root.replaceChildren(header, banner, main);

  let current = "";
  const app = new App(transport, (route: string) => {
    if (route === location.hash) void show();
    else location.hash = route;
  });

  const input = h("input", {
    class: "pathspec-input",
    attrs: {
      type: "search",
      placeholder: "Go to a pathspec: Flow/run/step/task",
      "aria-label": "pathspec",
      spellcheck: "false",
    },
  });
  const form = h("form", { class: "pathspec-form" }, input);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) app.navigate(pathspecRoute(value));
  });

  async function show(): Promise<void> {
    const hash = location.hash || "#/";
    current = hash;
    const route = parseRoute(hash);
    const generation = app.leave();
    transport.routed(hash);
    header.replaceChildren(h("a", { class: "brand", attrs: { href: "#/" } }, "Metaflow"), crumbs(route), form);
    input.value = route.parts.join("/");
    document.title = route.parts.length ? `${route.parts.join("/")} · Metaflow` : "Runs · Metaflow";
    clear(banner);
    // Each page renders into its own element: a slow page that was left cannot draw over
    // the next one (its element is detached by then).
    const page = h("div", { class: "page-body" }, loading());
    main.replaceChildren(page);
    await guarded(page, "This page cannot be shown", async () => {
      await pageFor(route)(app, page, route);
    });
    if (!app.current(generation)) page.remove();
  }

  window.addEventListener("hashchange", () => {
    if (location.hash !== current) void show();
  });
  transport.onNavigate((route) => app.navigate(route.startsWith("#") ? route : `#${route}`));
  window.addEventListener("error", (event) => {
    banner.replaceChildren(errorBox(event.error ?? event.message, "Unexpected error"));
  });
  window.addEventListener("unhandledrejection", (event) => {
    banner.replaceChildren(errorBox(event.reason, "Unexpected error"));
  });
  if (!location.hash && initialRoute) history.replaceState(null, "", initialRoute);
  void show();
}

try {
  start();
} catch (error) {
  const root = document.getElementById("app") ?? document.body;
  root.replaceChildren(errorBox(error, "The view cannot start"));
}
