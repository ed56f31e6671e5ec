"""metaflow.stepAt, metaflow.parameters (and the metaflow/parameters request), the action lenses,
and the clear refusals: a syntax error, a file that runs another flow, no interpreter, Metaflow
missing, a bad workspace file. After each, the server keeps serving."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types

from ..execute.conftest import metaflow_env
from .commands_helpers import BRANCHY, CommandSession, command_server, flow_workspace
from .helpers import position_of
from .runs_helpers import request

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

TWO_FLOWS = textwrap.dedent(
    '''\
    from metaflow import Config, FlowSpec, Parameter, step


    class BaseFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    class ParamFlow(FlowSpec):
        """Parameters and a Config to prompt for."""

        alpha = Parameter("alpha", type=float, default=0.5, help="Learning rate.")
        tags_ = Parameter("tag-list", default="a,b")
        config = Config("config", default="config.json")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ParamFlow()
    '''
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = flow_workspace(tmp_path_factory, "misc", BRANCHY)
    (path / "two_flows.py").write_text(TWO_FLOWS, encoding="utf-8")
    (path / ".metaflow-lsp.toml").write_text(
        "[flows.ParamFlow]\nparameters = { alpha = 0.1 }\n"
        "[flows.ParamFlow.presets.big]\nparameters = { alpha = 0.9 }\n",
        encoding="utf-8",
    )
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cs(root: Path) -> AsyncIterator[CommandSession]:
    env = metaflow_env(root / "home")
    async with command_server(root, env) as cs:
        yield cs


async def test_step_at_maps_a_position_to_the_flow_and_step(cs: CommandSession) -> None:
    uri = cs.session.open("two_flows.py")

    async def at(needle: str, occurrence: int = 0, offset: int = 0) -> object:
        line, column = position_of(TWO_FLOWS, needle, occurrence, offset)
        return await cs.execute(
            "metaflow.stepAt", {"uri": uri, "position": {"line": line, "character": column}}
        )

    base = {"uri": uri, "flow": "BaseFlow", "runnable": False}
    assert await at("def start", offset=5) == {**base, "step": "start"}
    assert await at("self.next(self.end)") == {**base, "step": "start"}
    assert await at("@step", occurrence=1) == {**base, "step": "end"}  # its decorator
    assert await at("alpha = Parameter") == {
        "uri": uri,
        "flow": "ParamFlow",
        "step": None,
        "runnable": True,
    }
    assert await at("from metaflow") is None
    line, column = position_of(TWO_FLOWS, "pass", occurrence=1)
    last = await cs.execute(
        "metaflow.stepAt", {"uri": uri, "position": {"line": line, "character": column}}
    )
    assert last == {"uri": uri, "flow": "ParamFlow", "step": "end", "runnable": True}


async def test_parameters_for_prompting_with_the_workspace_values(cs: CommandSession) -> None:
    uri = cs.session.uri("two_flows.py")
    found = await cs.execute("metaflow.parameters", {"uri": uri})
    assert found["flow"] == "ParamFlow" and found["presets"] == ["big"]
    assert found["settings_file"].endswith(".metaflow-lsp.toml")
    alpha, tag_list = found["parameters"]
    assert alpha == {
        "name": "alpha",
        "attribute": "alpha",
        "kind": "Parameter",
        "type": "float",
        "default": "0.5",
        "help": "Learning rate.",
        "required": False,
        "value": 0.1,
    }
    assert tag_list["name"] == "tag-list" and tag_list["attribute"] == "tags_"
    assert [c["name"] for c in found["configs"]] == ["config"]
    big = await request(cs.session, "metaflow/parameters", {"uri": uri, "preset": "big"})
    assert big["parameters"][0]["value"] == 0.9
    base = await cs.execute("metaflow.parameters", {"uri": uri, "flow": "BaseFlow"})
    assert base["parameters"] == [] and base["configs"] == []


async def test_action_lenses_carry_their_commands(cs: CommandSession) -> None:
    uri = cs.session.uri("two_flows.py")
    found = await cs.client.text_document_code_lens_async(
        types.CodeLensParams(types.TextDocumentIdentifier(uri=uri))
    )
    actions = [
        (
            lens.range.start.line,
            lens.command.title,
            lens.command.command,
            [dict(a) for a in lens.command.arguments or []],
        )
        for lens in found or []
        if lens.command
    ]
    base_line = TWO_FLOWS.splitlines().index("class BaseFlow(FlowSpec):")
    param_line = TWO_FLOWS.splitlines().index("class ParamFlow(FlowSpec):")
    flow_args = [{"uri": uri, "flow": "ParamFlow"}]
    # BaseFlow is not what `python two_flows.py` runs: only its DAG.
    assert (base_line, "DAG", "metaflow.openView", [{"uri": uri, "flow": "BaseFlow"}]) in actions
    assert not any(a[0] == base_line and a[1] != "DAG" for a in actions)
    assert (param_line, "▶ Run flow", "metaflow.run", flow_args) in actions
    assert (param_line, "DAG", "metaflow.openView", flow_args) in actions
    # No past run: Run above each step, no Spin or Resume yet.
    assert sorted(a[1] for a in actions if a[0] > param_line) == ["▶ Run", "▶ Run"]


async def test_refusals_say_what_to_do_and_the_server_keeps_serving(
    cs: CommandSession, root: Path
) -> None:
    broken = cs.session.open(
        "broken_flow.py",
        "from metaflow import FlowSpec, step\n\n\nclass BrokenFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        'if __name__ == "__main__":\n    BrokenFlow()\n',
    )
    refused = await cs.execute("metaflow.run", {"uri": broken})
    assert refused["status"] == "refused" and refused["kind"] == "syntax_error"
    assert refused["message"].startswith("broken_flow.py line ")
    assert refused["message"].endswith("Fix it (and save) before running the flow")

    two = cs.session.uri("two_flows.py")
    refused = await cs.execute("metaflow.run", {"uri": two, "flow": "BaseFlow"})
    assert refused["kind"] == "not_runnable"
    assert (
        "`python two_flows.py` does not run BaseFlow (the file runs ParamFlow)"
        in refused["message"]
    )

    refused = await cs.execute("metaflow.spin", {"uri": two})
    assert refused["kind"] == "no_step" and "Put the cursor in a step" in refused["message"]
    refused = await cs.execute("metaflow.spin", {"uri": two, "step": "nope"})
    assert refused["kind"] == "not_found" and "its steps: end, start" in refused["message"]
    refused = await cs.execute("metaflow.run", {"uri": two, "parameters": {"beta": 1}})
    assert refused["kind"] == "invalid_options"
    assert (
        "ParamFlow has no Parameter 'beta' (its Parameters: alpha, tag-list)" in refused["message"]
    )

    (root / ".metaflow-lsp.toml").write_text("max_workers = 'many'\n", encoding="utf-8")
    try:
        refused = await cs.execute("metaflow.run", {"uri": two})
        assert refused["kind"] == "settings"
        assert "max_workers must be a positive integer" in refused["message"]
    finally:
        (root / ".metaflow-lsp.toml").write_text("", encoding="utf-8")

    assert refused["message"] in cs.messages()
    symbols = await cs.session.symbols(two)
    assert [s.name for s in symbols] == ["BaseFlow", "ParamFlow"]


async def test_unsaved_steps_and_a_process_that_dies_say_what_to_do(
    cs: CommandSession, root: Path
) -> None:
    (root / "unsaved_flow.py").write_text(TWO_FLOWS, encoding="utf-8")
    uri = cs.session.open("unsaved_flow.py")
    cs.session.change(
        uri,
        TWO_FLOWS.replace(
            "    @step\n    def end",
            "    @step\n    def extra(self):\n        self.next(self.end)\n\n    @step\n    def end",
        ),
    )
    refused = await cs.execute("metaflow.spin", {"uri": uri, "step": "extra"})
    assert refused["kind"] == "not_found"
    assert refused["message"].endswith(": save the file first"), refused

    # Metaflow itself fails before a run starts: its last words are the message.
    dying = cs.session.open(
        "dying_flow.py",
        "import no_such_module\nfrom metaflow import FlowSpec, step\n\n\n"
        "class DyingFlow(FlowSpec):\n    @step\n    def start(self):\n"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n\n\n"
        'if __name__ == "__main__":\n    DyingFlow()\n',
    )
    finished = await cs.execute("metaflow.run", {"uri": dying, "wait": True})
    assert finished["status"] == "error" and finished["run_id"] is None
    assert finished["message"].startswith(
        "`python dying_flow.py run` exited with code 1 before a run started: "
    )
    assert "No module named 'no_such_module'" in finished["message"]
    assert finished["message"] in cs.messages()


async def test_without_an_interpreter_or_without_metaflow(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, env = flow_workspace(tmp_path_factory, "nopython", BRANCHY)
    async with command_server(root, env, {"python": str(root / "no-python")}) as cs:
        uri = cs.session.open(BRANCHY)
        refused = await cs.execute("metaflow.run", {"uri": uri})
        assert refused["kind"] == "no_interpreter"
        assert "does not exist" in refused["message"]
        assert "Set metaflow-lsp.python" in refused["message"]
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter")
    async with command_server(root, env, {"python": str(base)}) as cs:
        uri = cs.session.open(BRANCHY)
        refused = await cs.execute("metaflow.spin", {"uri": uri, "step": "each"})
        if refused.get("kind") != "metaflow_missing":
            pytest.skip(f"{base} has Metaflow")
        assert f"Metaflow is not installed in {base}" in refused["message"]
        assert "-m pip install metaflow" in refused["message"]
