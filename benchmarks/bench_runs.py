"""Past runs: our run store and artifact worker beside Metaflow's Client API, in one run.

On a datastore made by `gen_runs.py` (one real run, then copies renumbered: 1,000 runs, and a
latest run whose foreach step has 10,000 tasks), measures:
  - hover value: an artifact of the latest run (ours: run store + warm worker; through the
    server: a `textDocument/hover` on `self.best`), p50 / p95;
  - the first page (50) of 1,000 runs with their status;
  - every task of a 10,000-task run with start / finish / status (a timeline);
  - the server's RSS after listing all 1,000 runs through `metaflow/runs`.
Client API figures: in a fresh process (what a notebook cell or script pays) and warm in this
process (repeated in one interpreter).

    .venv/bin/python benchmarks/bench_runs.py [--dir DIR] [--runs 1000] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_runs import clone_runs, real_run, widen_foreach

from metaflow_lsp.runs import RunStore
from metaflow_lsp.worker import Blob, WorkerPool, find_interpreter


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _time(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


CLIENT_HOVER = (
    "from metaflow import Flow, namespace; namespace(None); "
    "print(Flow('BenchFlow').latest_run['join'].task['best'].data)"
)
CLIENT_PAGE = (
    "import itertools; from metaflow import Flow, namespace; namespace(None); "
    "print([(r.id, r.successful, r.finished) for r in itertools.islice(Flow('BenchFlow').runs(), 50)])"
)
CLIENT_TASKS = (
    "from metaflow import Flow, namespace; namespace(None); run = Flow('BenchFlow').latest_run; "
    "print(len([(t.id, t.created_at, t.finished_at, t.successful) for s in run for t in s]))"
)


def client_fresh(directory: Path, code: str, repeats: int) -> list[float]:
    env = dict(os.environ, USERNAME="bench", METAFLOW_HOME=str(directory / ".mfhome"))
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=directory,
            env=env,
            check=True,
            capture_output=True,
            timeout=1800,
        )
        out.append(time.perf_counter() - t0)
    return out


def client_warm(directory: Path, repeats: int) -> dict[str, list[float]]:
    """The Client API repeated inside one process (imported once)."""
    os.environ["METAFLOW_HOME"] = str(directory / ".mfhome")
    os.environ.setdefault("USERNAME", "bench")
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        import itertools

        from metaflow import Flow, namespace

        namespace(None)
        hover = _time(lambda: Flow("BenchFlow").latest_run["join"].task["best"].data, repeats)
        page = _time(
            lambda: [
                (r.id, r.successful, r.finished)
                for r in itertools.islice(Flow("BenchFlow").runs(), 50)
            ],
            max(3, repeats // 5),
        )
        tasks = _time(
            lambda: [
                (t.id, t.created_at, t.finished_at, t.successful)
                for s in Flow("BenchFlow").latest_run
                for t in s
            ],
            1,
        )
    finally:
        os.chdir(cwd)
    return {"hover": hover, "page": page, "tasks": tasks}


async def ours_hover(directory: Path, repeats: int) -> list[float]:
    """Run store + warm worker: the latest run's join task, its `best` artifact, a preview."""
    store = RunStore(directory)
    interpreter = find_interpreter(str(directory / "bench_flow.py"), str(directory), sys.executable)
    pool = WorkerPool()
    worker = pool.get(interpreter, str(directory))
    try:
        await worker.ping()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            task = await asyncio.to_thread(store.latest_task, "BenchFlow", "join")
            assert task is not None
            blob = await asyncio.to_thread(store.read_blob, task.pathspec, "best", 16 << 20)
            reply = await worker.preview(Blob(data=blob.data), flow_dir=str(directory))
            assert reply.ok, reply.error
            times.append(time.perf_counter() - t0)
        return times
    finally:
        await pool.close()


def ours_page(directory: Path, repeats: int) -> tuple[list[float], list[float]]:
    cold = _time(lambda: RunStore(directory).list_runs("BenchFlow", limit=50), repeats)
    store = RunStore(directory)
    store.list_runs("BenchFlow", limit=50)
    warm = _time(lambda: store.list_runs("BenchFlow", limit=50), repeats)
    return cold, warm


def ours_tasks(directory: Path, light: bool) -> tuple[float, float, int]:
    """Every task's status, attempts and times (`light`: as a timeline reads them, from the
    task directories' listings; else every task's metadata files too)."""
    store = RunStore(directory)
    run = store.latest_run("BenchFlow")
    assert run is not None
    t0 = time.perf_counter()
    steps = store.steps(run.pathspec, light=light)
    cold = time.perf_counter() - t0
    count = sum(len(s.tasks) for s in steps)
    t0 = time.perf_counter()
    store.steps(run.pathspec, light=light)
    warm = time.perf_counter() - t0
    return cold, warm, count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="reuse a datastore made earlier by gen_runs.py")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    tmp = None
    directory = args.dir
    if directory is None or not (directory / ".metaflow").exists():
        if directory is None:
            tmp = tempfile.TemporaryDirectory()
            directory = Path(tmp.name)
        print(
            f"making {args.runs} runs and a {args.tasks}-task foreach in {directory} ...",
            file=sys.stderr,
        )
        run = real_run(directory)
        clone_runs(directory, run, args.runs - 1)
        widen_foreach(directory, run, "train", args.tasks)
    r = args.repeats
    hover = asyncio.run(ours_hover(directory, r))
    page_cold, page_warm = ours_page(directory, r)
    tasks_cold, tasks_warm, count = ours_tasks(directory, light=True)
    full_cold, full_warm, _ = ours_tasks(directory, light=False)
    warm = client_warm(directory, r)
    fresh_hover = client_fresh(directory, CLIENT_HOVER, 5)
    fresh_page = client_fresh(directory, CLIENT_PAGE, 3)
    fresh_tasks = client_fresh(directory, CLIENT_TASKS, 1)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.runs} runs, latest run with {count} tasks; ms.\n"
    )
    print(
        "| measure | ours p50 | ours p95 | Client API warm (p50) | Client API fresh process (p50) | fresh / ours p95 | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    rows = [
        (
            "hover: artifact of the latest run (warm worker)",
            hover,
            warm["hover"],
            fresh_hover,
            "p95 ≤ 100 ms, ≥ 10× fresh",
        ),
        (
            "first page (50) of 1,000 runs with status, cold store",
            page_cold,
            warm["page"],
            fresh_page,
            "≤ 100 ms",
        ),
        (
            "first page (50) of 1,000 runs, warm store",
            page_warm,
            warm["page"],
            fresh_page,
            "≤ 100 ms",
        ),
    ]
    for name, ours, client_w, client_f, target in rows:
        print(
            f"| {name} | {_ms(ours, 0.5):.1f} | {_ms(ours, 0.95):.1f} | {_ms(client_w, 0.5):.1f} | "
            f"{_ms(client_f, 0.5):.0f} | {statistics.median(client_f) / (_ms(ours, 0.95) / 1000):.0f}× | {target} |"
        )
    print(
        f"| all {count} tasks of the latest run for a timeline, cold / warm | {tasks_cold * 1000:.0f} | {tasks_warm * 1000:.1f} | "
        f"{_ms(warm['tasks'], 0.5):.0f} | {_ms(fresh_tasks, 0.5):.0f} | {statistics.median(fresh_tasks) / tasks_cold:.1f}× | ≤ 1 s |"
    )
    print(
        f"| all {count} tasks with all their metadata, cold / warm | {full_cold * 1000:.0f} | {full_warm * 1000:.0f} | "
        f"{_ms(warm['tasks'], 0.5):.0f} | {_ms(fresh_tasks, 0.5):.0f} | {statistics.median(fresh_tasks) / full_cold:.1f}× | |"
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
