// The extension's small pure parts: routes, the server's launch, the page and its CSP, messages.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { serverLaunch } from "../src/launch";
import { finishedRoute, RecentMessages, startedLines } from "../src/messages";
import { cardWithNonce, contentSecurityPolicy, panelHtml } from "../src/panelHtml";
import { routeOf, utf16Column, viewRouteOf } from "../src/routes";

test("routes from lens arguments and pathspecs", () => {
  assert.equal(routeOf({ uri: "file:///ws/f.py", flow: "TrainFlow" }), "#/TrainFlow");
  assert.equal(routeOf({ pathspec: "TrainFlow/17/train/4" }), "#/TrainFlow/17/train/4");
  assert.equal(routeOf({ pathspec: "/TrainFlow/17/" }), "#/TrainFlow/17");
  assert.equal(routeOf({ pathspec: "A/../b" }), "#/");
  assert.equal(routeOf({ pathspec: "a/b/c/d/e" }), "#/");
  assert.equal(routeOf(undefined), "#/");
});

test("the view server's URL becomes a webview route; other URLs do not", () => {
  assert.equal(viewRouteOf("http://127.0.0.1:43117/?token=abc#/TrainFlow/17/train"), "#/TrainFlow/17/train");
  assert.equal(viewRouteOf("http://localhost:43117/?token=abc"), "#/");
  assert.equal(viewRouteOf("file:///ws/card.html"), null);
  assert.equal(viewRouteOf("https://127.0.0.1:1/?token=x"), null);
  assert.equal(viewRouteOf("http://example.com/?token=x#/A"), null);
  assert.equal(viewRouteOf("not a url"), null);
});

test("code points to UTF-16 columns", () => {
  assert.equal(utf16Column("    def train(self):", 8), 8);
  assert.equal(utf16Column("x = '😀'; def a", 8), 9);
  assert.equal(utf16Column("ab", 10), 2);
});

test("the server: the setting on PATH, a workspace .venv, then python -m metaflow_lsp", () => {
  const dir = mkdtempSync(join(tmpdir(), "mflsp-launch-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "metaflow-lsp"), "#!/bin/sh\n");
  chmodSync(join(bin, "metaflow-lsp"), 0o755);
  const settings = { command: "metaflow-lsp", args: ["serve"], python: null };
  assert.deepEqual(serverLaunch(settings, [], { PATH: bin }), { command: join(bin, "metaflow-lsp"), args: ["serve"], note: null });
  const folder = join(dir, "ws");
  mkdirSync(join(folder, ".venv", "bin"), { recursive: true });
  writeFileSync(join(folder, ".venv", "bin", "metaflow-lsp"), "");
  const venv = serverLaunch(settings, [folder], { PATH: "/nowhere" });
  assert.equal(venv.command, join(folder, ".venv", "bin", "metaflow-lsp"));
  const fallback = serverLaunch({ ...settings, python: "/opt/py/bin/python" }, [], { PATH: "/nowhere" });
  assert.deepEqual([fallback.command, fallback.args], ["/opt/py/bin/python", ["-m", "metaflow_lsp", "serve"]]);
  assert.match(fallback.note ?? "", /metaflow-lsp was not found/);
});

test("the page: the app's files under a nonce CSP, nothing inline", () => {
  const html = panelHtml({ cspSource: "https://w.test", scriptUri: "https://w.test/app.js", styleUri: "https://w.test/app.css", nonce: "n1" });
  assert.match(html, /<script nonce="n1" src="https:\/\/w.test\/app.js"><\/script>/);
  assert.match(html, /<div id="app">/);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  const csp = contentSecurityPolicy("https://w.test", "n1");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-n1' https:\/\/w.test(;|$)/);
  assert.match(csp, /connect-src 'none'/);
  assert.ok(!/unsafe-eval/.test(csp));
  assert.equal(cardWithNonce('<script type="module">x</script>', 'a"b'), '<script nonce="a&quot;b" type="module">x</script>');
});

test("started and finished", () => {
  assert.deepEqual(startedLines({ execution: "run-2", status: "running", command: "python f.py run", cwd: "/ws", notes: ["unsaved"] }), [
    "── run-2 · python f.py run",
    "   in /ws",
    "   ⚠ unsaved",
  ]);
  assert.deepEqual(startedLines({ status: "refused", message: "no" }), []);
  assert.equal(finishedRoute({ execution: "run-2", kind: "run", status: "failed", message: "m", pathspec: "F/17" }), "#/F/17");
  assert.equal(finishedRoute({ execution: "spin-1", kind: "spin", status: "succeeded", message: "m", pathspec: "F/1/s/2" }), null);
  let now = 0;
  const recent = new RecentMessages(1000, () => now);
  recent.remember("F/17 succeeded in 5 s");
  assert.equal(recent.take("F/17 succeeded in 5 s · card: /x"), true);
  assert.equal(recent.take("F/17 succeeded in 5 s"), false, "once");
  recent.remember("F/18 failed");
  now = 2000;
  assert.equal(recent.take("F/18 failed"), false, "forgotten after the ttl");
});

test("the manifest: the server's commands are left to vscode-languageclient", () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf-8"));
  const ours = manifest.contributes.commands.map((c: { command: string }) => c.command);
  for (const serverCommand of ["metaflow.run", "metaflow.spin", "metaflow.resume", "metaflow.cancel", "metaflow.openView", "metaflow.stepAt"]) {
    assert.ok(!ours.includes(serverCommand), serverCommand);
  }
  const keys = manifest.contributes.keybindings.map((k: { command: string; key: string; when: string }) => [k.command, k.key, k.when]);
  assert.deepEqual(keys, [
    ["metaflow.runFile", "ctrl+alt+r", "editorLangId == python"],
    ["metaflow.spinStep", "ctrl+alt+s", "editorLangId == python"],
  ]);
});
