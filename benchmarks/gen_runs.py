"""Make benchmark datastores: one real Metaflow run, then copies of it renumbered.

The copies hold exactly the files Metaflow wrote for the real run (JSON metadata, artifact
indexes, logs), with the run id, task ids and timestamps rewritten; artifact blobs are shared,
as they are content-addressed.

    python benchmarks/gen_runs.py DIR --runs 1000 --tasks 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FLOW = '''\
from metaflow import FlowSpec, Parameter, step


class BenchFlow(FlowSpec):
    """A foreach whose tasks are copied to make big runs."""

    width = Parameter("width", default=3, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.train, foreach="items")

    @step
    def train(self):
        self.score = self.input * 0.5
        print("trained", self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = [i.score for i in inputs]
        self.best = max(self.scores)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best)


if __name__ == "__main__":
    BenchFlow()
'''


def real_run(directory: Path) -> str:
    """Run the benchmark flow once with the pinned Metaflow; returns the run id."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench_flow.py").write_text(FLOW)
    home = directory / ".mfhome"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, USERNAME="bench", METAFLOW_HOME=str(home))
    subprocess.run(
        [sys.executable, "bench_flow.py", "--quiet", "run"],
        cwd=directory,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    runs = sorted(
        p.name for p in (directory / ".metaflow" / "BenchFlow").iterdir() if p.name.isdigit()
    )
    return runs[-1]


def _rewrite_tree(tree: Path, replacements: list[tuple[str, str]]) -> None:
    for path in tree.rglob("*"):
        if path.is_file() and (
            path.suffix in (".json", ".log", ".runtime") or path.name.endswith(".lock")
        ):
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for old, new in replacements:
                text = text.replace(old, new)
            path.write_text(text)


def clone_runs(directory: Path, base_run: str, count: int) -> list[str]:
    """`count` copies of `base_run`, each one millisecond apart, newest last."""
    flow_dir = directory / ".metaflow" / "BenchFlow"
    base = int(base_run)
    ids = []
    for i in range(1, count + 1):
        new_id = str(base - i * 1000)  # older than the real run, so it stays the latest
        target = flow_dir / new_id
        if target.exists():
            ids.append(new_id)
            continue
        shutil.copytree(flow_dir / base_run, target)
        _rewrite_tree(target, [(base_run, new_id), (base_run[:13], new_id[:13])])
        register_as_of(target, base_run)
        ids.append(new_id)
    return ids


def register_as_of(run_dir: Path, base_run: str) -> None:
    """Give a copied run the registration time Metaflow would have written: `_self.json`'s
    `ts_epoch` as far from its id's time as the real run's is from its own."""
    own_path = run_dir / "_meta" / "_self.json"
    own = json.loads(own_path.read_text())
    base = json.loads((run_dir.parent / base_run / "_meta" / "_self.json").read_text())
    lag_ms = int(base["ts_epoch"]) - int(base_run) // 1000
    own["ts_epoch"] = int(run_dir.name) // 1000 + lag_ms
    own_path.write_text(json.dumps(own))


def widen_foreach(directory: Path, run: str, step: str, tasks: int) -> None:
    """Copy the first task of `step` until the step has `tasks` tasks (a wide foreach)."""
    step_dir = directory / ".metaflow" / "BenchFlow" / run / step
    existing = sorted(
        (p for p in step_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )
    template = existing[0]
    next_id = max(int(p.name) for p in step_dir.parent.glob("*/*") if p.name.isdigit()) + 1
    for _ in range(tasks - len(existing)):
        target = step_dir / str(next_id)
        shutil.copytree(template, target)
        _rewrite_tree(
            target,
            [
                (f'"task_id": "{template.name}"', f'"task_id": "{next_id}"'),
                (f"/{template.name}/", f"/{next_id}/"),
            ],
        )
        next_id += 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10000)
    args = parser.parse_args()
    run = real_run(args.directory)
    clone_runs(args.directory, run, args.runs - 1)
    widen_foreach(args.directory, run, "train", args.tasks)
    print(run)


if __name__ == "__main__":
    main()
