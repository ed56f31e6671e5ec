"""textDocument/prepareRename and textDocument/rename: renaming a step everywhere it is named."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .helpers import Session, lsp_range, name_at, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, Parameter, step


    class FitFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.rows = [1, 2]
            self.next(self.train, foreach="rows")

        @step
        def train(self):
            self.score = self.input * self.alpha
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next({"ok": self.end, "retry": self.train}, condition="status")

        @step
        def end(self):
            pass
    """
)


async def rename(session: Session, uri: str, line: int, col: int, new: str) -> types.WorkspaceEdit:
    result = await session.client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, col),
            new_name=new,
        )
    )
    assert result is not None
    return result


async def prepare(session: Session, uri: str, line: int, col: int):
    return await session.client.text_document_prepare_rename_async(
        types.PrepareRenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, col)
        )
    )


def edits(edit: types.WorkspaceEdit) -> dict[str, list[tuple[types.Range, str]]]:
    assert edit.changes is not None
    return {uri: [(e.range, e.new_text) for e in items] for uri, items in edit.changes.items()}


async def test_renames_the_def_and_every_transition(session: Session):
    uri = session.open("fit_flow.py", FLOW)
    line, col = position_of(FLOW, "def train", offset=6)
    edit = await rename(session, uri, line, col, "fit")
    assert edits(edit) == {
        uri: [
            (name_at(FLOW, "self.next(self.train", "train"), "fit"),
            (name_at(FLOW, "def train", "train"), "fit"),
            (name_at(FLOW, '"retry": self.train', "train"), "fit"),
        ]
    }


async def test_prepare_rename_selects_the_step_name(session: Session):
    uri = session.open("fit_flow_prepare.py", FLOW)
    line, col = position_of(FLOW, '"retry": self.train', offset=len('"retry": self.tr'))
    result = await prepare(session, uri, line, col)
    assert result == types.PrepareRenamePlaceholder(
        range=name_at(FLOW, '"retry": self.train', "train"), placeholder="train"
    )


async def test_refuses_when_not_on_a_step(session: Session):
    uri = session.open("fit_flow_not_step.py", FLOW)
    line, col = position_of(FLOW, "self.score", offset=6)
    with pytest.raises(JsonRpcException) as error:
        await prepare(session, uri, line, col)
    assert error.value.message == (
        "Only steps can be renamed: put the cursor on a step's name in `def` or in "
        "`self.next(self.<step>)`."
    )


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("2fit", "'2fit' is not a valid step name: a step name must be a Python identifier."),
        ("for", "'for' is not a valid step name: a step name must be a Python identifier."),
        (
            "Fit",
            "'Fit' is not a valid step name: Metaflow allows only lowercase ASCII letters, "
            "digits and underscores, not starting with an underscore.",
        ),
        ("next", "'next' is a reserved word in Metaflow (cmd, index, input, name, next)."),
        ("join", "The flow FitFlow already has a step named 'join'."),
        ("alpha", "'alpha' is already a Parameter of FitFlow."),
        ("merge_artifacts", "'merge_artifacts' is already an attribute of FitFlow."),
    ],
)
async def test_refuses_names_metaflow_would_reject(session: Session, new: str, message: str):
    uri = session.open(f"fit_flow_refuse_{new}.py", FLOW)
    line, col = position_of(FLOW, "def train", offset=6)
    with pytest.raises(JsonRpcException) as error:
        await rename(session, uri, line, col, new)
    assert error.value.message == message
    assert error.value.code == types.LSPErrorCodes.RequestFailed


async def test_refuses_renaming_start_found_by_its_name(session: Session):
    uri = session.open("fit_flow_start.py", FLOW)
    line, col = position_of(FLOW, "def start", offset=6)
    with pytest.raises(JsonRpcException) as error:
        await rename(session, uri, line, col, "begin")
    assert error.value.message == (
        "Renaming 'start' would leave FitFlow without a start step: Metaflow finds it by name. "
        "Add @step(start=True) first to rename it."
    )


async def test_columns_after_non_ascii_text(session: Session):
    text = FLOW.replace(
        "        self.next(self.join)",
        '        note = "ünï 🚀"; self.next(self.join)  # noqa: E702',
    )
    assert "🚀" in text
    uri = session.open("fit_flow_unicode.py", text)
    line, col = position_of(text, "def join", offset=5)
    edit = await rename(session, uri, line, col, "gather")
    ref_line, ref_col = position_of(text, "self.join)", offset=5)
    # "ü" and "ï" are one UTF-16 unit each, "🚀" is two.
    ref = lsp_range((ref_line, ref_col + 1), (ref_line, ref_col + 5))
    assert edits(edit) == {uri: [(ref, "gather"), (name_at(text, "def join", "join"), "gather")]}


BASE = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class CommonSteps(FlowSpec):
        @step
        def start(self):
            self.next(self.clean)

        @step
        def clean(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)

CHILD = textwrap.dedent(
    """\
    from common_steps import CommonSteps
    from metaflow import step


    class DailyFlow(CommonSteps):
        @step
        def start(self):
            self.next(self.clean)
    """
)


async def test_renames_in_open_subclasses(session: Session):
    base_uri = session.open("common_steps.py", BASE)
    child_uri = session.open("daily_flow.py", CHILD)
    await session.symbols(child_uri)
    line, col = position_of(BASE, "def clean", offset=5)
    edit = await rename(session, base_uri, line, col, "tidy")
    assert edits(edit) == {
        base_uri: [
            (name_at(BASE, "self.clean", "clean"), "tidy"),
            (name_at(BASE, "def clean", "clean"), "tidy"),
        ],
        child_uri: [(name_at(CHILD, "self.clean", "clean"), "tidy")],
    }


async def test_refuses_a_name_taken_in_an_open_subclass(session: Session):
    base_uri = session.open("common_steps2.py", BASE.replace("CommonSteps", "CommonSteps2"))
    child = CHILD.replace("common_steps", "common_steps2").replace("CommonSteps", "CommonSteps2")
    child += "\n    def polish(self):\n        return 1\n"
    child_uri = session.open("weekly_flow.py", child.replace("DailyFlow", "WeeklyFlow"))
    await session.symbols(child_uri)
    line, col = position_of(BASE, "def clean", offset=5)
    with pytest.raises(JsonRpcException) as error:
        await rename(session, base_uri, line, col, "polish")
    assert error.value.message == "'polish' is already an attribute of WeeklyFlow."
