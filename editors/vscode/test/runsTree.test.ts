// The side panel's tree (src/runsTree.ts) on the real server's answers: flows → runs (paged:
// "Load more" until the cursor ends) → steps → tasks, with status, duration and age.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MAX_TASKS, RunsModel, formatAge, formatDuration, taskNodes, type TreeNode } from "../src/runsTree";
import { FLOWS, metaflowRun, startServer, workspace, type Server } from "./lsp";

describe("the runs tree, on the real server's answers", () => {
  let server: Server;
  let older: string;
  let newer: string;
  let model: RunsModel;
  const requests: string[] = [];
  const runParams: Record<string, unknown>[] = [];

  before(async () => {
    const ws = workspace("mflsp-tree", {
      "relay_flow.py": readFileSync(join(FLOWS, "relay_flow.py"), "utf-8"),
      // A flow without runs, defined in the workspace.
      "idle_flow.py": "from metaflow import FlowSpec, step\n\n\nclass IdleFlow(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n\n\nif __name__ == '__main__':\n    IdleFlow()\n",
    });
    older = metaflowRun(ws.dir, ws.home, "relay_flow.py", "RelayFlow");
    newer = metaflowRun(ws.dir, ws.home, "relay_flow.py", "RelayFlow", "--scale", "3");
    server = await startServer(ws.dir, ws.home);
    // One run a page, to see the paging.
    model = new RunsModel(
      (method, params) => {
        requests.push(method);
        if (method === "metaflow/run") runParams.push(params as Record<string, unknown>);
        return server.request(method, params);
      },
      Date.now,
      1,
    );
  });

  after(async () => {
    await server?.stop();
  });

  let flow: TreeNode;
  let run: TreeNode;

  test("flows: the one with runs first and expandable, the idle one a leaf", async () => {
    const flows = await model.children();
    assert.deepEqual(
      flows.map((f) => [f.label, f.collapsible, f.description]),
      [
        ["RelayFlow", true, undefined],
        ["IdleFlow", false, "no runs yet"],
      ],
    );
    assert.equal(flows[0].route, "#/RelayFlow");
    flow = flows[0];
  });

  test("runs: a page, then Load more until the cursor ends", async () => {
    const first = await model.children(flow);
    assert.deepEqual(first.map((n) => [n.kind, n.label]), [
      ["run", newer],
      ["more", "Load more…"],
    ]);
    assert.equal(first[0].status, "succeeded");
    assert.match(first[0].description ?? "", /^succeeded · [\d.]+ (ms|s) · (just now|\d+ s ago) · tester$/);
    assert.equal(first[0].route, `#/RelayFlow/${newer}`);
    assert.equal(await model.loadMore("RelayFlow"), true);
    const all = await model.children(flow);
    assert.deepEqual(all.map((n) => [n.kind, n.label]), [
      ["run", newer],
      ["run", older],
    ]);
    assert.equal(await model.loadMore("RelayFlow"), false);
    run = all[1];
  });

  test("steps of a run, then the tasks of a foreach step", async () => {
    const steps = await model.children(run);
    assert.deepEqual(
      steps.map((s) => [s.label, s.status, s.collapsible]),
      [
        ["start", "succeeded", false],
        ["double", "succeeded", true],
        ["join", "succeeded", false],
        ["end", "succeeded", false],
      ],
    );
    assert.match(steps[1].description ?? "", /^2 tasks · /);
    assert.equal(steps[1].route, `#/RelayFlow/${older}/double`);
    const tasks = await model.children(steps[1]);
    assert.deepEqual(
      tasks.map((t) => [t.label.replace(/task \d+/, "task N"), t.status, t.route?.startsWith(`#/RelayFlow/${older}/double/`)]),
      [
        ["[0] task N", "succeeded", true],
        ["[1] task N", "succeeded", true],
      ],
    );
    // The run was read once for its steps and its tasks, only the tasks the tree shows.
    assert.equal(requests.filter((m) => m === "metaflow/run").length, 1);
    assert.equal(runParams[0].max_tasks, MAX_TASKS);
  });

  test("a failed request is a note that says why, not an empty tree", async () => {
    const gone: TreeNode = { id: "run:RelayFlow/1", kind: "run", label: "1", collapsible: true, pathspec: "RelayFlow/1", route: "#/RelayFlow/1" };
    const children = await model.children(gone);
    assert.equal(children.length, 1);
    assert.equal(children[0].kind, "note");
    assert.match(children[0].label, /RelayFlow/);
  });

  test("refresh reads again", async () => {
    model.clear();
    const before = requests.length;
    await model.children();
    await model.children(flow);
    assert.deepEqual(requests.slice(before), ["metaflow/flows", "metaflow/runs"]);
  });
});

test("a step with more tasks than the tree shows ends with a note counting the others", () => {
  const shown = Array.from({ length: MAX_TASKS }, (_, i) => ({
    task_id: String(i + 2),
    pathspec: `F/1/s/${i + 2}`,
    status: "succeeded",
    foreach_index: i,
    attempts: [],
    duration_s: 1,
  }));
  const step = { step: "s", pathspec: "F/1/s", status: "succeeded", task_count: MAX_TASKS + 150, tasks: shown };
  const nodes = taskNodes(step as unknown as Parameters<typeof taskNodes>[0], "F");
  assert.equal(nodes.length, MAX_TASKS + 1);
  assert.equal(nodes[0].label, "[0] task 2");
  assert.equal(nodes[MAX_TASKS].label, "150 more tasks: open the step in the view");
  assert.equal(nodes[MAX_TASKS].route, "#/F/1/s");
});

test("durations and ages read like the lenses", () => {
  assert.equal(formatDuration(0.4), "400 ms");
  assert.equal(formatDuration(5.72), "5.7 s");
  assert.equal(formatDuration(63), "1 min 3 s");
  assert.equal(formatDuration(7500), "2 h 5 min");
  assert.equal(formatDuration(null), "");
  const now = Date.parse("2026-11-28T12:00:00Z");
  assert.equal(formatAge("2026-11-28T11:59:58Z", now), "just now");
  assert.equal(formatAge("2026-11-28T11:58:00Z", now), "2 min ago");
  assert.equal(formatAge("2026-11-28T09:00:00Z", now), "3 h ago");
  assert.equal(formatAge("2026-11-26T12:00:00Z", now), "2 d ago");
});
