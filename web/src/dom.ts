// DOM building without HTML strings: every value goes in as a text node or an attribute, so
// nothing from a run (artifact values, log lines, docstrings) can become markup.

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  title?: string;
  data?: Record<string, string>;
  attrs?: Record<string, string>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

const FORBIDDEN = /^(on|style$|srcdoc$|innerhtml$)/i;

function setAttrs(el: Element, attrs: Record<string, string> | undefined): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (FORBIDDEN.test(name)) throw new Error(`refusing to set attribute ${name}`);
    el.setAttribute(name, value);
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...child);
    else if (typeof child === "string" || typeof child === "number")
      parent.appendChild(document.createTextNode(String(child)));
    else parent.appendChild(child);
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.title) el.title = props.title;
    if (props.data) for (const [k, v] of Object.entries(props.data)) el.dataset[k] = v;
    setAttrs(el, props.attrs);
    if (props.on)
      for (const [name, fn] of Object.entries(props.on))
        el.addEventListener(name, fn as EventListener);
  }
  append(el, ...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | number> | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (FORBIDDEN.test(name)) throw new Error(`refusing to set attribute ${name}`);
      el.setAttribute(name, String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function link(route: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", { attrs: { href: route } }, ...children);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, ...children);
}
