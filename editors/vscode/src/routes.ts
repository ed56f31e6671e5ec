// Where the web view goes: routes (`#/Flow/run/step/task`) from pathspecs, from the view server's
// URLs, and the columns of a step's `def` (the app counts code points, VS Code UTF-16 units).
// No `vscode` import: tested under plain node.

/** `#/Flow/run/step/task` for `{pathspec}` or `{flow}` (any depth); `#/` without either. */
export function routeOf(args: unknown): string {
  const object = args && typeof args === "object" ? (args as Record<string, unknown>) : {};
  const raw = object.pathspec ?? object.flow;
  if (typeof raw !== "string" || !raw.trim().replace(/^\/+|\/+$/g, "")) return "#/";
  const parts = raw.trim().replace(/^\/+|\/+$/g, "").split("/");
  // The app shows an error page for a pathspec that names nothing; these are never pathspecs.
  if (parts.length > 4 || parts.some((part) => !part || part === "." || part === "..")) return "#/";
  return "#/" + parts.map(encodeURIComponent).join("/");
}

/** The route of a view URL the language server asks to show (`http://127.0.0.1:PORT/?token=…#/Flow`),
 * or null for any other URL (a card file, a web page). */
export function viewRouteOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const local = parsed.hostname === "127.0.0.1" || parsed.hostname === "localhost";
  if (parsed.protocol !== "http:" || !local || parsed.pathname !== "/" || !parsed.searchParams.has("token")) {
    return null;
  }
  return parsed.hash.startsWith("#/") ? parsed.hash : "#/";
}

/** The UTF-16 column of the `codePoints`-th code point of `line`. */
export function utf16Column(line: string, codePoints: number): number {
  let column = 0;
  let seen = 0;
  for (const char of line) {
    if (seen >= codePoints) break;
    column += char.length;
    seen += 1;
  }
  return column;
}
