"""metaflow/openView and the metaflow.openView command through a real language server: the view
is started on demand and answers from the server's own run stores; metaflow/graph and
metaflow/flows answer over LSP as over HTTP."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from lsprotocol import types

from ..lsp.runs_helpers import request, running_server
from .conftest import WebWorkspace

pytestmark = pytest.mark.slow


def fetch_with_cookie(url: str) -> tuple[urllib.request.OpenerDirector, str]:
    """Open the printed URL like a browser: follow the redirect, keep the cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url, timeout=30) as response:
        page = response.read().decode()
    assert any(c.name.startswith("metaflow_lsp_token_") for c in jar)
    return opener, page


def test_open_view_serves_the_servers_runs(web_ws: WebWorkspace) -> None:
    # Its own thread and loop: the session's sync Playwright holds this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, open_view_session(web_ws)).result(timeout=300)


async def open_view_session(web_ws: WebWorkspace) -> None:
    """Everything the test checks, over a real language server."""
    async with running_server(web_ws.path, web_ws.env) as session:
        commands = session.capabilities.execute_command_provider
        assert commands is not None and "metaflow.openView" in commands.commands
        result = await request(session, "metaflow/openView", {"pathspec": web_ws.runs["ok"]})
        assert result["url"].startswith("http://127.0.0.1:")
        assert result["url"].endswith(f"#/{web_ws.runs['ok']}")
        base = result["base_url"]

        opener, page = await asyncio.to_thread(fetch_with_cookie, result["url"])
        assert 'src="static/app.js"' in page

        def api(method: str, params: dict[str, object]) -> dict[str, object]:
            req = urllib.request.Request(
                f"{base}/api/{method}",
                data=json.dumps(params).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with opener.open(req, timeout=60) as response:
                return json.load(response)["result"]

        over_http = await asyncio.to_thread(api, "metaflow/run", {"pathspec": web_ws.runs["ok"]})
        over_lsp = await request(session, "metaflow/run", {"pathspec": web_ws.runs["ok"]})
        assert over_http["run"] == over_lsp["run"]

        graph = await request(session, "metaflow/graph", {"flow": "SwitchFlow"})
        # ("from" is a Python keyword: pygls's client renames it; the order stays.)
        edges = [list(e.values()) for e in graph["edges"]]
        assert {(e[0], e[1], e[3]) for e in edges} == {
            ("start", "quick", "fast"),
            ("start", "thorough", "slow"),
            ("quick", "end", None),
            ("thorough", "end", None),
        }
        flows = await request(session, "metaflow/flows", {})
        assert {f["name"] for f in flows["flows"]} == {"WebFlow", "SwitchFlow", "ParallelFlow"}

        # The command answers with the same server (started once).
        again = await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="metaflow.openView", arguments=[{"pathspec": "WebFlow", "show": False}]
            )
        )
        assert again["base_url"] == base and again["url"].endswith("#/WebFlow")
        assert again["shown"] is False

        with pytest.raises(Exception, match="pathspec") as refused:
            await request(session, "metaflow/openView", {"pathspec": "WebFlow/../x"})
        assert "invalid_params" in repr(getattr(refused.value, "data", refused.value))
