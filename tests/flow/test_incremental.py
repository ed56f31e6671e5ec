"""Incremental analysis gives exactly what a fresh analysis of the same text gives."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from metaflow_lsp.flow.analysis import Analyzer
from metaflow_lsp.flow.graph import GraphStructureError, output_steps
from metaflow_lsp.flow.segment import SourceLines, logical_starts

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from genflow import generate  # noqa: E402

CORPUS = sorted((ROOT / "tests" / "corpus").glob("*/*.py"))
SNIPPETS = [
    "self.next(",
    ")",
    '"""',
    "'''",
    "@step\n",
    "def ",
    "\n",
    "    ",
    "(",
    "[",
    "# c\n",
    "\\\n",
    "x = 1\n",
    "\t",
]


def _summary(analyzer: Analyzer, path: str, text: str) -> tuple:
    flow_file = analyzer.analyze(path, text)
    diagnostics = [(d.code, d.severity, d.range, d.message) for d in flow_file.diagnostics]
    flows = []
    for flow in flow_file.flows:
        try:
            graph = output_steps(flow)
        except GraphStructureError as error:
            graph = str(error)
        steps = [
            (
                s.name,
                s.name_range,
                s.range,
                s.tail,
                s.writes,
                s.reads,
                s.nexts_not_last,
                [d.range for d in s.decorators],
            )
            for s in flow.own_steps
        ]
        flows.append((flow.name, flow.name_range, graph, steps, [p.range for p in flow.parameters]))
    return diagnostics, flows


def _mutate(text: str, rnd: random.Random) -> str:
    pos = rnd.randrange(len(text) + 1)
    choice = rnd.random()
    if choice < 0.4:
        return text[:pos] + rnd.choice(SNIPPETS) + text[pos:]
    if choice < 0.8:
        end = min(len(text), pos + rnd.randrange(1, 40))
        return text[:pos] + text[end:]
    # Typing: a character in the middle of a line.
    return text[:pos] + rnd.choice("abx_1 .") + text[pos:]


def test_logical_starts_update_matches_full_scan() -> None:
    rnd = random.Random(7)
    text = generate(600)
    lines = SourceLines(text)
    for _ in range(200):
        new = _mutate(text, rnd)
        updated = SourceLines(new, lines)
        assert updated.starts == logical_starts(new)
        text, lines = new, updated


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_incremental_equals_fresh_on_random_edits(path: Path) -> None:
    rnd = random.Random(path.name)
    text = path.read_text()
    incremental = Analyzer([str(path.parent)])
    incremental.analyze(str(path), text)
    for _ in range(25):
        text = _mutate(text, rnd) if rnd.random() < 0.7 else path.read_text()
        got = _summary(incremental, str(path), text)
        expected = _summary(Analyzer([str(path.parent)]), str(path), text)
        assert got == expected


def test_incremental_equals_fresh_on_a_large_flow(tmp_path: Path) -> None:
    rnd = random.Random(3)
    path = str(tmp_path / "big_flow.py")
    text = generate(1500)
    incremental = Analyzer([str(tmp_path)])
    incremental.analyze(path, text)
    for _ in range(15):
        text = _mutate(text, rnd)
        assert _summary(incremental, path, text) == _summary(Analyzer([str(tmp_path)]), path, text)
