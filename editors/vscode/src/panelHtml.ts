// The webview's page: the built app (media/static/app.js, app.css) under a nonce-based CSP, and
// cards made runnable in their sandboxed srcdoc frame. No `vscode` import: the Playwright test
// loads exactly this page.
import { randomBytes } from "node:crypto";

export interface PanelAssets {
  /** `webview.cspSource`: where the webview may load the app's files from. */
  cspSource: string;
  /** `webview.asWebviewUri(media/static/app.js)` */
  scriptUri: string;
  /** `webview.asWebviewUri(media/static/app.css)` */
  styleUri: string;
  nonce: string;
}

/** A fresh nonce for one page. */
export function makeNonce(): string {
  return randomBytes(18).toString("base64url");
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The page's Content-Security-Policy. Scripts: the app's file with the page's nonce, and the
 * card scripts the relay gave that nonce (a srcdoc frame inherits this policy). Inline styles are
 * allowed for cards (the app itself sets none); no network (`connect-src 'none'`). */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' ${cspSource}`,
    `style-src ${cspSource} 'unsafe-inline'`,
    `img-src ${cspSource} data: blob:`,
    `font-src ${cspSource} data:`,
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** The webview's HTML: `<div id="app">` and the app, as docs/protocol.md describes. */
export function panelHtml(assets: PanelAssets): string {
  const csp = escapeAttribute(contentSecurityPolicy(assets.cspSource, assets.nonce));
  const nonce = escapeAttribute(assets.nonce);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta http-equiv="Content-Security-Policy" content="${csp}" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Metaflow</title>
    <link rel="stylesheet" href="${escapeAttribute(assets.styleUri)}" />
  </head>
  <body>
    <div id="app"><p class="loading">Loading the Metaflow view…</p></div>
    <script nonce="${nonce}" src="${escapeAttribute(assets.scriptUri)}"></script>
  </body>
</html>
`;
}

/** A card's HTML with the page's nonce on its `<script>` tags, so that its scripts run in the
 * frame (sandboxed `allow-scripts`, an opaque origin: it reaches neither the app nor the editor). */
export function cardWithNonce(html: string, nonce: string): string {
  return html.replace(/<script(?=[\s>/])/gi, `<script nonce="${escapeAttribute(nonce)}"`);
}
