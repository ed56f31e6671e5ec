// For tests/editors/test_webview_relay.py: the extension's side of the webview without VS Code.
// Starts the real language server for the workspace in argv[2], prints the panel's page (the
// extension's own HTML and CSP, with `cspSource` argv[3]) as the first line, then relays: each
// stdin line is a webview message, each stdout line `{"to": "webview" | "host", ...}`.
import { createInterface } from "node:readline";
import { cardWithNonce, makeNonce, panelHtml } from "../src/panelHtml";
import { Relay } from "../src/relay";
import { startServer } from "./lsp";

async function main(): Promise<void> {
  const [folder, cspSource] = process.argv.slice(2);
  const home = process.env.METAFLOW_HOME ?? folder;
  const server = await startServer(folder, home);
  const nonce = makeNonce();
  const say = (line: unknown): void => void process.stdout.write(JSON.stringify(line) + "\n");
  say({ to: "host", kind: "page", html: panelHtml({ cspSource, scriptUri: `${cspSource}/app.js`, styleUri: `${cspSource}/app.css`, nonce }) });
  const relay = new Relay({
    sendRequest: (method, params, signal) => server.request(method, params, signal),
    post: (message) => say({ to: "webview", message }),
    openSource: (location) => say({ to: "host", kind: "openSource", location }),
    routed: (route) => say({ to: "host", kind: "route", route }),
    ready: () => say({ to: "host", kind: "ready" }),
    cardHtml: (html) => cardWithNonce(html, nonce),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line.trim()) void relay.receive(JSON.parse(line));
  });
  lines.on("close", async () => {
    relay.dispose();
    await server.stop();
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`bridge failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
