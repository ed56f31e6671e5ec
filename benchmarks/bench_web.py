"""The web view in headless Chromium: time to the first complete render of a 300-step flow's DAG
and of a 10,000-task run's timeline (targets: 1 s and 2 s), beside the JSON API answer alone.

"Render" is from the navigation's start to the app's `render:dag` / `render:timeline` mark,
which it sets one frame after the last drawing (fetch, JSON, layout, DOM/canvas and a paint).
The 10,000 tasks are copies of a real run's task (`gen_runs.py`); the server is warmed first,
so the figures are the view's, not the cold datastore read (reported on its own line).

    python benchmarks/bench_web.py [--data DIR] [--repeats 5] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from gen_runs import real_run, widen_foreach  # noqa: E402
from genflow import generate  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEPS = 300
TASKS = 10_000


def big_flow(directory: Path) -> int:
    """Write BigFlow with about 300 steps; returns its step count."""
    from metaflow_lsp.flow import analyze_path

    lines = STEPS * 10
    while True:
        path = directory / "big_flow.py"
        path.write_text(generate(lines, body_lines=4, splits=10))
        flow = analyze_path(str(path)).flow()
        assert flow is not None
        if len(flow.steps) <= STEPS or lines < 500:
            return len(flow.steps)
        lines -= 100


def prepare(directory: Path) -> str:
    """A real BenchFlow run widened to 10,000 tasks (reused when present); its run id."""
    flow_dir = directory / ".metaflow" / "BenchFlow"
    if flow_dir.exists():
        runs = sorted(p.name for p in flow_dir.iterdir() if p.name.isdigit())
        if runs and len(list((flow_dir / runs[-1] / "train").iterdir())) > TASKS:
            return runs[-1]
    run = real_run(directory)
    widen_foreach(directory, run, "train", TASKS)
    return run


def api(base: str, token: str, method: str, params: dict) -> tuple[float, int]:
    """One API request: seconds and bytes."""
    request = urllib.request.Request(
        f"{base}/api/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json", "X-Metaflow-Token": token},
        method="POST",
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - t0, len(body)


def render_times(
    url: str, base: str, routes: dict[str, tuple[str, str]], repeats: int, shots: Path | None
) -> dict[str, list[float]]:
    """Milliseconds from navigation start to each route's render mark, `repeats` fresh loads."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {name: [] for name in routes}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = context.new_page()
        page.goto(url)  # sets the token cookie
        for name, (route, mark) in routes.items():
            for i in range(repeats + 1):
                page.goto("about:blank")
                page.goto(f"{base}/{route}")
                value = None
                deadline = time.monotonic() + 120
                while value is None and time.monotonic() < deadline:
                    # Polled from here: the app's CSP forbids the eval wait_for_function needs.
                    value = page.evaluate(
                        f"performance.getEntriesByName('render:{mark}')[0]?.startTime ?? null"
                    )
                    if value is None:
                        time.sleep(0.01)
                assert value is not None, f"{name} did not render in 120 s"
                if i > 0:  # the first load warms Chromium's cache of the script
                    out[name].append(float(value))
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"bench-{name}.png"))
        context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="Where to make (or reuse) the runs.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, help="Save a screenshot of each view here.")
    args = parser.parse_args()
    directory = args.data or Path(tempfile.mkdtemp(prefix="bench-web-"))
    directory.mkdir(parents=True, exist_ok=True)
    print(f"data in {directory}", file=sys.stderr)
    steps = big_flow(directory)
    run = prepare(directory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="bench", METAFLOW_HOME=str(directory / ".mfhome"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaflow_lsp", "view", "--dir", str(directory), "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(": ", 1)[1].strip()
        base, token = url.split("/?", 1)[0], url.split("token=", 1)[1].split("#", 1)[0]
        pathspec = f"BenchFlow/{run}"
        cold_run, _ = api(base, token, "metaflow/run", {"pathspec": pathspec, "tasks": "rows"})
        graph_s = [api(base, token, "metaflow/graph", {"flow": "BigFlow"}) for _ in range(3)]
        run_s = [
            api(base, token, "metaflow/run", {"pathspec": pathspec, "tasks": "rows"})
            for _ in range(3)
        ]
        tasks = sum(
            1
            for step in (directory / ".metaflow" / "BenchFlow" / run).iterdir()
            if step.is_dir() and not step.name.startswith("_")
            for task in step.iterdir()
            if task.name.isdigit()
        )
        times = render_times(
            url,
            base,
            {"dag": ("#/BigFlow", "dag"), "timeline": (f"#/{pathspec}?view=timeline", "timeline")},
            args.repeats,
            args.screenshots,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    def row(
        what: str, size: str, answer: list[tuple[float, int]], ms: list[float], target: float
    ) -> str:
        api_ms = statistics.median(a for a, _ in answer) * 1000
        kib = answer[0][1] / 1024
        p50, worst = statistics.median(ms), max(ms)
        ok = "yes" if worst <= target else "no"
        return f"| {what} | {size} | {api_ms:.0f} ({kib:.0f} KiB) | {p50:.0f} / {worst:.0f} | {target:.0f} | {ok} |"

    print(f"Chromium {CHROMIUM}, {args.repeats} fresh loads each; times in ms.\n")
    print(
        "| view | size | JSON API answer (baseline) | first complete render p50 / max | target | met |"
    )
    print("|---|---|---:|---:|---:|---|")
    print(row("DAG of BigFlow", f"{steps} steps", graph_s, times["dag"], 1000))
    print(row("timeline of a run", f"{tasks:,} tasks", run_s, times["timeline"], 2000))
    print(
        f"\nThe run's first read by a cold server (not in the render figures): {cold_run * 1000:.0f} ms."
    )


if __name__ == "__main__":
    main()
