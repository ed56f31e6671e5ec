"""textDocument/hover: what a step, an artifact, a Parameter or a flow is."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, name_at, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, Parameter, resources, retry, step


    class ModelFlow(FlowSpec):
        \"\"\"Fit one model per shard.\"\"\"

        shards = Parameter("shards", type=int, default=4, help="How many shards")

        @step
        def start(self):
            self.parts = list(range(self.shards))
            self.next(self.fit, foreach="parts")

        @retry(times=3)
        @resources(memory=16000)
        @step
        def fit(self):
            \"\"\"Fit a model on one shard.

            Uses the shard given by the foreach.
            \"\"\"
            self.model = self.input
            self.loss = 0.1
            self.next(self.join)

        @step
        def join(self, inputs):
            self.best = min(inputs, key=lambda i: i.loss).model
            self.next(self.decide)

        @step
        def decide(self):
            self.verdict = "good"
            self.next({"good": self.end, "bad": self.report}, condition="verdict")

        @step
        def report(self):
            self.next(self.end)

        @step
        def end(self):
            print(self.best)
    """
)


async def hover_text(
    session: Session, uri: str, text: str, needle: str, offset: int
) -> types.Hover:
    line, col = position_of(text, needle, offset=offset)
    result = await session.hover(uri, line, col)
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown
    return result


async def test_step_def_shows_type_decorators_doc_inputs_outputs_artifacts(session: Session):
    uri = session.open("model_flow.py", FLOW)
    result = await hover_text(session, uri, FLOW, "def fit", 5)
    assert result.range == name_at(FLOW, "def fit", "fit")
    assert result.contents.value == textwrap.dedent(  # type: ignore[union-attr]
        """\
        ```python
        @retry(times=3)
        @resources(memory=16000)
        @step
        def fit(self)
        ```

        **linear** step of `ModelFlow`

        Fit a model on one shard.

        Uses the shard given by the foreach.

        - **Inputs:** `start`
        - **Next:** `join`
        - **Assigns:** `model`, `loss`"""
    )


async def test_step_reference_shows_the_step(session: Session):
    uri = session.open("model_flow_ref.py", FLOW)
    result = await hover_text(session, uri, FLOW, "self.fit, foreach", 6)
    value = result.contents.value  # type: ignore[union-attr]
    assert "**linear** step of `ModelFlow`" in value
    assert "- **Inputs:** `start`\n- **Next:** `join`" in value


async def test_switch_step_shows_its_cases(session: Session):
    uri = session.open("model_flow_switch.py", FLOW)
    result = await hover_text(session, uri, FLOW, "def decide", 5)
    value = result.contents.value  # type: ignore[union-attr]
    assert "**split-switch** step of `ModelFlow`" in value
    assert "**Switch** on `verdict`: `'good'` → `end`, `'bad'` → `report`" in value


async def test_artifact_shows_the_steps_assigning_it(session: Session):
    uri = session.open("model_flow_artifact.py", FLOW)
    result = await hover_text(session, uri, FLOW, "self.best)", 6)
    assert result.range == name_at(FLOW, "print(self.best", "best")
    assert result.contents.value == "**artifact** `self.best`\n\nAssigned upstream in `join`"  # type: ignore[union-attr]


async def test_parameter_shows_its_declaration(session: Session):
    uri = session.open("model_flow_param.py", FLOW)
    result = await hover_text(session, uri, FLOW, "self.shards", 6)
    assert result.contents.value == (  # type: ignore[union-attr]
        "**Parameter** `shards` (`--shards`)\n\n- Type: `int`\n- Default: `4`\n\nHow many shards"
    )


async def test_flow_name_shows_steps_and_parameters(session: Session):
    uri = session.open("model_flow_class.py", FLOW)
    result = await hover_text(session, uri, FLOW, "class ModelFlow", 8)
    assert result.contents.value == textwrap.dedent(  # type: ignore[union-attr]
        """\
        ```python
        class ModelFlow(FlowSpec)
        ```

        Fit one model per shard.

        - **6 steps:** `start`, `fit`, `join`, `decide`, `report`, `end`
        - **Parameters:** `shards` (Parameter)"""
    )


async def test_half_typed_step_hovers_from_its_last_clean_version(session: Session):
    uri = session.open("model_flow_typing.py", FLOW)
    await session.symbols(uri)
    typed = FLOW.replace("        self.next(self.join)", "        self.next(self.jo")
    assert typed != FLOW
    session.change(uri, typed)
    result = await hover_text(session, uri, typed, "def fit", 5)
    value = result.contents.value  # type: ignore[union-attr]
    assert "_This step does not parse right now; details are from its last clean version._" in value
    assert "- **Next:** `join`" in value
    # Steps before the one being typed hover as usual.
    result = await hover_text(session, uri, typed, "def start", 5)
    value = result.contents.value  # type: ignore[union-attr]
    assert "**split-foreach** step of `ModelFlow`" in value
    assert "- **Next:** `fit` (foreach over `parts`)\n- **Joined at:** `join`" in value


async def test_no_hover_on_plain_code(session: Session):
    uri = session.open("model_flow_plain.py", FLOW)
    line, col = position_of(FLOW, "list(range", offset=2)
    assert await session.hover(uri, line, col) is None
