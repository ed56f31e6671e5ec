"""metaflow.spin: a foreach step and a join step of BranchyFlow spun from a past run with an
artifacts module and --persist; hovers then show the spun values, marked as spin results."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from .commands_helpers import BRANCHY, CommandSession, command_server, flow_workspace
from .helpers import position_of
from .runs_helpers import hover_text

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return flow_workspace(tmp_path_factory, "spin", BRANCHY)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cs(workspace: tuple[Path, dict[str, str]]) -> AsyncIterator[CommandSession]:
    async with command_server(*workspace) as cs:
        yield cs


async def test_spin_a_foreach_step_and_a_join_step_from_a_past_run(
    cs: CommandSession, workspace: tuple[Path, dict[str, str]]
) -> None:
    root = workspace[0]
    uri = cs.session.open(BRANCHY)
    text = (root / BRANCHY).read_text(encoding="utf-8")

    # No past run yet: spin says what to do, and the server keeps serving.
    refused = await cs.execute("metaflow.spin", {"uri": uri, "step": "each"})
    assert refused["status"] == "refused" and refused["kind"] == "no_past_run"
    assert "▶ Run the flow" in refused["message"] and refused["message"] in cs.messages()

    ran = await cs.execute("metaflow.run", {"uri": uri, "wait": True})
    assert ran["status"] == "succeeded", ran
    run_id = ran["run_id"]
    tasks = sorted(
        (p.name for p in (root / ".metaflow" / "BranchyFlow" / run_id / "each").iterdir()),
        key=lambda n: (not n.isdigit(), n),
    )
    first, second = tasks[0], tasks[1]

    # artifacts.py beside the flow is used by default: upstream artifacts replaced by name,
    # and for a join, the inputs' artifacts by parent task.
    (root / "artifacts.py").write_text(
        f"ARTIFACTS = {{'factor': 100, '{run_id}/each/{first}': {{'x': 1000}}}}\n",
        encoding="utf-8",
    )
    line, column = position_of(text, "self.x = self.input")
    spun = await cs.execute(
        "metaflow.spin",
        {
            "uri": uri,
            "position": {"line": line, "character": column},
            "foreach_index": 1,
            "wait": True,
        },
    )
    assert spun["status"] == "succeeded", spun
    # The full pathspec of the task of the newest run, the module, --persist.
    assert spun["command"] == (
        f"python branchy_flow.py spin BranchyFlow/{run_id}/each/{second} "
        f"--artifacts-module {root / 'artifacts.py'} --persist"
    )
    assert spun["pathspec"] == f"BranchyFlow/{spun['run_id']}/each/0"
    assert spun["message"].startswith(f"{spun['pathspec']} succeeded in ")
    assert any(line.endswith("each 2 -> 400") for line in cs.recorder.lines(spun["execution"]))
    assert (root / ".metaflow_spin" / "BranchyFlow" / spun["run_id"]).is_dir()

    hover = hover_text(await cs.session.hover(uri, line, column + 5))
    assert "**Last run**" in hover and "`4`" in hover  # input 2 × 1 × 2 in the run
    assert "**Spin result** · `self.x` in `each`" in hover
    assert "`400`" in hover and f"spin {spun['run_id']}" in hover, hover

    # A join, with the module named explicitly.
    (root / "join_artifacts.py").write_text(
        f"ARTIFACTS = {{'{run_id}/each/{first}': {{'x': 1000}}}}\n", encoding="utf-8"
    )
    joined = await cs.execute(
        "metaflow.spin",
        {
            "uri": uri,
            "step": "join",
            "artifacts_module": "join_artifacts.py",
            "persist": True,
            "wait": True,
        },
    )
    assert joined["status"] == "succeeded", joined
    assert joined["source"].startswith(f"BranchyFlow/{run_id}/join/")
    assert f"--artifacts-module {root / 'join_artifacts.py'} --persist" in joined["command"]
    line, column = position_of(text, "self.total =", offset=5)
    hover = hover_text(await cs.session.hover(uri, line, column))
    assert "**Last run**" in hover and "```python\n6\n```" in hover  # 2 + 4
    assert "**Spin result**" in hover and "```python\n1004\n```" in hover, hover

    # The step hover lists the spin too; the spin did not become "the latest run".
    hover = hover_text(await cs.session.hover(uri, *position_of(text, "def join", offset=4)))
    assert "**Spin:**" in hover and joined["run_id"] in hover
    resumed = await cs.execute(
        "metaflow.resume", {"uri": uri, "step": "end", "if_busy": "queue", "wait": True}
    )
    assert f"--origin-run-id {run_id}" in resumed["command"]
    assert resumed["status"] == "succeeded", resumed
