"""textDocument/documentSymbol: the outline of a flow file."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, lsp_range

pytestmark = pytest.mark.asyncio(loop_scope="module")

FOREACH = textwrap.dedent(
    """\
    from metaflow import Config, FlowSpec, Parameter, retry, step


    class TrainFlow(FlowSpec):
        \"\"\"Train one model per learning rate.\"\"\"

        alpha = Parameter("alpha", default=0.5, help="Learning rate")
        cfg = Config("cfg", default="config.json")

        @step
        def start(self):
            self.rates = [0.1, 0.2]
            self.next(self.train, foreach="rates")

        @retry(times=2)
        @step
        def train(self):
            self.model = self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next({"small": self.small, "big": self.big}, condition="size")

        @step
        def small(self):
            self.next(self.end)

        @step
        def big(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def outline(symbols: list[types.DocumentSymbol]) -> list[tuple]:
    return [
        (s.name, s.kind, s.detail, [(c.name, c.kind, c.detail) for c in s.children or []])
        for s in symbols
    ]


async def test_flow_with_steps_and_parameters(session: Session):
    uri = session.open("train_flow.py", FOREACH)
    symbols = await session.symbols(uri)
    method, prop, const = (
        types.SymbolKind.Method,
        types.SymbolKind.Property,
        types.SymbolKind.Constant,
    )
    assert outline(symbols) == [
        (
            "TrainFlow",
            types.SymbolKind.Class,
            "FlowSpec",
            [
                ("alpha", prop, 'Parameter("alpha", default=0.5)'),
                ("cfg", const, 'Config("cfg", default="config.json")'),
                ("start", method, "split-foreach → train"),
                ("train", method, "linear → join"),
                ("join", method, "split-switch → small, big"),
                ("small", method, "linear → end"),
                ("big", method, "linear → end"),
                ("end", method, "end"),
            ],
        )
    ]


async def test_ranges_cover_decorators_and_select_the_name(session: Session):
    uri = session.open("train_flow_ranges.py", FOREACH)
    (flow,) = await session.symbols(uri)
    assert flow.selection_range == lsp_range((3, 6), (3, 15))
    assert flow.range.start == types.Position(3, 0)
    train = next(c for c in flow.children if c.name == "train")
    # From `@retry(times=2)` to the end of the body; the name in `def train`.
    assert train.range == lsp_range((14, 4), (18, 28))
    assert train.selection_range == lsp_range((16, 8), (16, 13))
    alpha = flow.children[0]
    assert alpha.selection_range == lsp_range((6, 4), (6, 9))


async def test_every_flow_of_a_file_is_a_top_level_symbol(session: Session):
    text = FOREACH + textwrap.dedent(
        """

        class OtherFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    uri = session.open("two_flows.py", text)
    symbols = await session.symbols(uri)
    assert [s.name for s in symbols] == ["TrainFlow", "OtherFlow"]
    assert [(c.name, c.detail) for c in symbols[1].children] == [
        ("start", "start → end"),
        ("end", "end"),
    ]


async def test_a_half_typed_step_keeps_its_last_known_type(session: Session):
    uri = session.open("train_flow_typing.py", FOREACH)
    await session.symbols(uri)
    typing = FOREACH.replace("        self.next(self.join)", "        self.next(self.jo")
    assert typing != FOREACH
    session.change(uri, typing)
    (flow,) = await session.symbols(uri)
    details = {c.name: c.detail for c in flow.children}
    # `train` does not parse (and swallows what follows), but keeps its last clean type.
    assert details["train"] == "linear → join"
    assert details["start"] == "split-foreach → train"


async def test_a_file_without_flows_has_no_symbols(session: Session):
    uri = session.open("helpers_module.py", "def helper():\n    return 1\n")
    assert await session.symbols(uri) == []
