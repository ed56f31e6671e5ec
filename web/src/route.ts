// Navigation by pathspec, in the URL's fragment: #/Flow/run/step/task?view=timeline&user=alice

export interface Route {
  parts: string[]; // [] home, [flow], [flow, run], [flow, run, step], [flow, run, step, task]
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const [path, query = ""] = text.split("?", 2);
  const parts = path
    .split("/")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    })
    .filter((p) => p.length > 0)
    .slice(0, 4);
  return { parts, query: new URLSearchParams(query) };
}

export function formatRoute(parts: string[], query?: Record<string, string | null | undefined>): string {
  const path = parts.map((p) => encodeURIComponent(p)).join("/");
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) params.set(k, v);
  const q = params.toString();
  return `#/${path}${q ? `?${q}` : ""}`;
}

export function pathspecRoute(pathspec: string): string {
  const parts = pathspec.trim().replace(/^\/+|\/+$/g, "").split("/").filter(Boolean);
  return formatRoute(parts.slice(0, 4));
}
