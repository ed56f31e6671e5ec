// The relay (src/relay.ts) against the real language server: webview messages in, the server's
// answers (or its JSON-RPC errors, as is) out; only metaflow/* is relayed. One workspace with a
// real Metaflow run of RelayFlow, made before the server starts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cardWithNonce } from "../src/panelHtml";
import { Relay, type SourceLocation } from "../src/relay";
import { FLOWS, fileUri, metaflowRun, startServer, workspace, type Server } from "./lsp";

const FLOW_TEXT = readFileSync(join(FLOWS, "relay_flow.py"), "utf-8");

describe("the relay, against the real server", () => {
  let server: Server;
  let dir: string;
  let runId: string;
  let posted: any[];
  let opened: SourceLocation[];
  let routes: string[];
  let relay: Relay;

  before(async () => {
    const ws = workspace("mflsp-relay", { "relay_flow.py": FLOW_TEXT });
    dir = ws.dir;
    runId = metaflowRun(ws.dir, ws.home, "relay_flow.py", "RelayFlow");
    server = await startServer(ws.dir, ws.home);
    posted = [];
    opened = [];
    routes = [];
    relay = new Relay({
      sendRequest: (method, params, signal) => server.request(method, params, signal),
      post: (message) => posted.push(message),
      openSource: (location) => void opened.push(location),
      routed: (route) => void routes.push(route),
    });
  });

  after(async () => {
    await server?.stop();
  });

  /** Relay one request message; the response posted for it. */
  async function ask(id: number, method: unknown, params?: unknown): Promise<any> {
    await relay.receive({ type: "request", id, method, params });
    const answers = posted.filter((m) => m.type === "response" && m.id === id);
    assert.equal(answers.length, 1, `one response for request ${id}`);
    return answers[0];
  }

  test("the lens commands are the server's (vscode-languageclient registers them)", () => {
    const commands: string[] = server.initialized.capabilities.executeCommandProvider.commands;
    for (const command of ["metaflow.run", "metaflow.spin", "metaflow.resume", "metaflow.cancel", "metaflow.openView", "metaflow.stepAt"]) {
      assert.ok(commands.includes(command), `${command} in ${commands.join(", ")}`);
    }
  });

  test("metaflow/flows: the workspace's flow, with its runs", async () => {
    const answer = await ask(1, "metaflow/flows", {});
    assert.equal(answer.error, undefined);
    const flow = answer.result.flows.find((f: any) => f.name === "RelayFlow");
    assert.ok(flow, JSON.stringify(answer.result));
    assert.equal(flow.has_runs, true);
    assert.equal(flow.source, join(dir, "relay_flow.py"));
  });

  test("metaflow/graph: the DAG from the source, with each step's def position", async () => {
    const answer = await ask(2, "metaflow/graph", { flow: "RelayFlow", uri: fileUri(join(dir, "relay_flow.py")) });
    const steps = answer.result.steps.map((s: any) => s.name);
    assert.deepEqual(steps, ["start", "double", "join", "end"]);
    const edges = answer.result.edges.map((e: any) => `${e.from}->${e.to}:${e.kind}`);
    assert.ok(edges.includes("start->double:foreach"), edges.join(" "));
    const double = answer.result.steps.find((s: any) => s.name === "double");
    assert.ok(FLOW_TEXT.split("\n")[double.position.line].slice(double.position.character).startsWith("double(self)"));
  });

  test("metaflow/runs: the real run, through the relay", async () => {
    const answer = await ask(3, "metaflow/runs", { flow: "RelayFlow" });
    assert.deepEqual(
      answer.result.runs.map((r: any) => [r.pathspec, r.status, r.user]),
      [[`RelayFlow/${runId}`, "succeeded", "tester"]],
    );
    assert.equal(answer.result.next_cursor, null);
  });

  test("an unknown method is refused, and nothing reaches the server", async () => {
    for (const [id, method] of [
      [4, "workspace/executeCommand"],
      [5, "shutdown"],
      [6, 42],
    ] as const) {
      const answer = await ask(id, method, {});
      assert.equal(answer.result, undefined);
      assert.equal(answer.error.code, -32601);
      assert.equal(answer.error.data.kind, "not_relayed");
      assert.match(answer.error.message, /metaflow\/\*/);
    }
    // The server still answers: it was not shut down.
    assert.ok((await ask(7, "metaflow/flows", {})).result);
  });

  test("the server's JSON-RPC errors are passed through as they are", async () => {
    const missing = await ask(8, "metaflow/run", { pathspec: "NoSuchFlow/1" });
    assert.equal(missing.error.code, 1001);
    assert.equal(missing.error.data.kind, "not_found");
    assert.match(missing.error.message, /NoSuchFlow/);
    const invalid = await ask(9, "metaflow/runs", { flow: "RelayFlow", limit: 0 });
    assert.equal(invalid.error.code, -32602);
    assert.equal(invalid.error.data.kind, "invalid_params");
    // A method the server does not have: its own "method not found", as is.
    const unknown = await ask(10, "metaflow/nothing", {});
    assert.equal(typeof unknown.error.code, "number");
    assert.equal(unknown.result, undefined);
  });

  test("malformed params are refused without a request", async () => {
    const answer = await ask(11, "metaflow/runs", [1, 2]);
    assert.equal(answer.error.code, -32600);
  });

  test("openSource, route and navigate", async () => {
    await relay.receive({ type: "openSource", flow: "RelayFlow", step: "double", path: join(dir, "relay_flow.py"), line: 18, character: 8 });
    assert.deepEqual(opened, [{ flow: "RelayFlow", step: "double", path: join(dir, "relay_flow.py"), line: 18, character: 8 }]);
    await relay.receive({ type: "openSource", path: 3 });
    assert.equal(opened.length, 1, "an openSource without a path is ignored");
    await relay.receive({ type: "route", route: `#/RelayFlow/${runId}` });
    assert.deepEqual(routes, [`#/RelayFlow/${runId}`]);
    relay.navigate("#/RelayFlow");
    assert.deepEqual(posted.at(-1), { type: "navigate", route: "#/RelayFlow" });
  });

  test("a closed panel cancels its requests and answers nothing more", async () => {
    const quiet: unknown[] = [];
    let aborted = false;
    const closing = new Relay({
      sendRequest: (method, params, signal) => {
        signal.addEventListener("abort", () => (aborted = true));
        return server.request(method, params, signal);
      },
      post: (message) => quiet.push(message),
    });
    const pending = closing.receive({ type: "request", id: 1, method: "metaflow/run", params: { pathspec: `RelayFlow/${runId}` } });
    closing.dispose();
    await pending;
    assert.equal(aborted, true);
    assert.deepEqual(quiet, []);
  });

  test("a card's HTML gets the page's nonce on its scripts", async () => {
    const cards = new Relay({
      sendRequest: async () => ({ card: { hash: "h" }, html: "<html><script>draw()</script><SCRIPT src='x'></SCRIPT><scripts></html>" }),
      post: (message) => posted.push(message),
      cardHtml: (html) => cardWithNonce(html, "N0nce"),
    });
    await cards.receive({ type: "request", id: 99, method: "metaflow/card", params: { pathspec: "F/1/s/2", hash: "h" } });
    const answer = posted.find((m) => m.id === 99);
    assert.equal(
      answer.result.html,
      `<html><script nonce="N0nce">draw()</script><script nonce="N0nce" src='x'></SCRIPT><scripts></html>`,
    );
  });
});
