"""textDocument/completion: step names in `self.next(`, artifacts and Parameters after `self.`."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    from metaflow import Config, FlowSpec, Parameter, step


    class ScoreFlow(FlowSpec):
        alpha = Parameter("alpha", default=0.5, help="Learning rate")
        cfg = Config("cfg", default="cfg.json")

        @step
        def start(self):
            \"\"\"Load the rows.\"\"\"
            self.rows = [1, 2, 3]
            self.next(self.score, foreach="rows")

        @step
        def score(self):
            \"\"\"Score one row.\"\"\"
            self.value = self.input * self.alpha
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print(self.total)
    """
)


def labels(items: list[types.CompletionItem]) -> list[str]:
    return [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]


async def test_trigger_characters_are_advertised(session: Session):
    provider = session.capabilities.completion_provider
    assert provider is not None
    assert list(provider.trigger_characters or []) == [".", "("]
    uri = session.open("score_flow_caps.py", FLOW)
    # Completion requested right after `self.` typed inside `self.next(...)`.
    line, col = position_of(FLOW, "self.next(self.gather)", offset=len("self.next(self."))
    items = await session.complete(uri, line, col)
    assert labels(items) == ["start", "score", "gather", "end"]


async def test_step_names_inside_next(session: Session):
    uri = session.open("score_flow_next.py", FLOW)
    line, col = position_of(FLOW, "self.next(self.gather)", offset=len("self.next(self.ga"))
    items = {i.label: i for i in await session.complete(uri, line, col)}
    assert items["gather"].kind == types.CompletionItemKind.Method
    assert items["gather"].detail == "join"
    assert items["start"].detail == "split-foreach"
    assert items["score"].detail == "linear"
    assert items["score"].documentation == types.MarkupContent(
        kind=types.MarkupKind.Markdown, value="Score one row."
    )


async def test_after_next_paren_offers_self_steps(session: Session):
    uri = session.open("score_flow_paren.py", FLOW)
    await session.symbols(uri)  # a clean analysis first
    line, col = position_of(FLOW, "self.next(self.gather)", offset=len("self.next("))
    text = FLOW.splitlines()
    typed = FLOW.replace(text[line], text[line][:col])
    session.change(uri, typed)
    items = await session.complete(uri, line, col)
    assert labels(items) == ["self.start", "self.score", "self.gather", "self.end"]


async def test_artifacts_from_upstream_and_parameters(session: Session):
    uri = session.open("score_flow_attrs.py", FLOW)
    line, col = position_of(FLOW, "self.total = ", offset=len("self."))
    items = {i.label: i for i in await session.complete(uri, line, col)}
    # In `gather`: artifacts of start and score (not total's own downstream uses), Parameters.
    assert list(items) == ["rows", "total", "value", "alpha", "cfg", "next"]
    assert items["rows"].detail == "artifact assigned in start"
    assert items["value"].detail == "artifact assigned in score"
    assert items["total"].detail == "artifact assigned in this step"
    assert items["rows"].kind == types.CompletionItemKind.Field
    assert items["alpha"].kind == types.CompletionItemKind.Property
    assert items["alpha"].detail == 'Parameter("alpha", default=0.5)'
    assert items["alpha"].documentation == "Learning rate"
    assert items["cfg"].kind == types.CompletionItemKind.Constant


async def test_downstream_artifacts_are_not_offered(session: Session):
    uri = session.open("score_flow_down.py", FLOW)
    line, col = position_of(FLOW, "self.rows = ", offset=len("self."))
    names = [i.label for i in await session.complete(uri, line, col)]
    assert "value" not in names and "total" not in names
    assert names[:1] == ["rows"]


async def test_half_typed_next_still_completes_steps(session: Session):
    uri = session.open("score_flow_typing.py", FLOW)
    await session.symbols(uri)  # a clean analysis first
    typed = FLOW.replace("        self.next(self.gather)", "        self.next(self.")
    assert typed != FLOW
    session.change(uri, typed)
    line, col = position_of(
        typed, "        self.next(self.\n", offset=len("        self.next(self.")
    )
    assert labels(await session.complete(uri, line, col)) == ["start", "score", "gather", "end"]
    # The diagnostics show the syntax error meanwhile.
    found = await session.diagnostics(uri, lambda d: any(x.code == "syntax-error" for x in d))
    assert any(d.code == "syntax-error" for d in found)


async def test_half_typed_attribute_uses_the_last_clean_step(session: Session):
    uri = session.open("score_flow_typing_attr.py", FLOW)
    await session.symbols(uri)
    typed = FLOW.replace(
        "        self.next(self.end)\n", "        x = self.\n        self.next(self.end)\n"
    )
    assert typed != FLOW
    session.change(uri, typed)
    line, col = position_of(typed, "x = self.", offset=len("x = self."))
    names = [i.label for i in await session.complete(uri, line, col)]
    assert names == ["rows", "total", "value", "alpha", "cfg", "next"]


async def test_no_completion_in_strings_comments_or_elsewhere(session: Session):
    text = FLOW.replace("print(self.total)", 'print("self.", self.total)  # self.')
    uri = session.open("score_flow_strings.py", text)
    line, col = position_of(text, '"self.', offset=len('"self.'))
    assert await session.complete(uri, line, col) == []
    line, col = position_of(text, "# self.", offset=len("# self."))
    assert await session.complete(uri, line, col) == []
    line, col = position_of(text, "import Config", offset=len("import Conf"))
    assert await session.complete(uri, line, col) == []
