"""The view's HTTP server without a browser: the token on every request, no path outside the
app's files, the Host check, the CSP headers, and the JSON API answering like the LSP requests."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

import pytest

from .conftest import View, WebWorkspace

pytestmark = pytest.mark.slow


def raw(
    view: View,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A request sent as written (no path normalisation, no redirect following)."""
    port = int(view.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def token_header(view: View) -> dict[str, str]:
    return {"X-Metaflow-Token": view.token}


def test_every_request_needs_the_token(view: View) -> None:
    for path in ("/", "/static/app.js", "/static/app.css", "/card?pathspec=a/b/c/d&hash=x"):
        status, _, body = raw(view, path)
        assert status == 403, (path, status)
        assert b"app.js" not in body and b"<script" not in body
        status, _, _ = raw(view, path, {"X-Metaflow-Token": "wrong" + view.token})
        assert status == 403, path
        status, _, _ = raw(
            view, path, {"Cookie": f"metaflow_lsp_token_{view.base.rsplit(':', 1)[1]}=nope"}
        )
        assert status == 403, path
    status, _, _ = raw(
        view, "/api/metaflow/flows", {"Content-Type": "application/json"}, "POST", b"{}"
    )
    assert status == 403
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{view.base}/?token=not-the-token", timeout=30)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{view.base}/static/app.js", timeout=30)
    assert refused.value.code == 403


def test_the_url_token_becomes_an_httponly_strict_cookie(view: View) -> None:
    path = "/?" + view.url.split("/?", 1)[1].split("#", 1)[0]
    status, headers, _ = raw(view, path)
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert view.token in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_value = cookie.split(";", 1)[0]
    status, headers, body = raw(view, "/", {"Cookie": name_value})
    assert status == 200 and b'src="static/app.js"' in body
    # A token in the URL counts only on the entry page.
    status, _, _ = raw(view, f"/static/app.js?token={view.token}")
    assert status == 403


def test_paths_outside_the_app_are_refused(view: View, web_ws: WebWorkspace) -> None:
    secret = web_ws.path / "web_flow.py"
    for path in (
        "/static/../../etc/passwd",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/../../../etc/passwd",
        "/static/..\\..\\etc\\passwd",
        f"/static/{secret}",
        "/static/index.html/../../cli.py",
        "/card?pathspec=../../../etc/passwd&hash=x",
        "/static/server.py",
    ):
        for headers in ({}, token_header(view)):
            status, _, body = raw(view, path, headers)
            assert status in (403, 404), (path, headers, status)
            assert b"root:" not in body and b"FlowSpec" not in body and b"import" not in body
    status, _, _ = raw(view, "/static/app.js", token_header(view))
    assert status == 200


def test_another_host_is_refused(view: View) -> None:
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 gets nothing."""
    headers = {**token_header(view), "Host": "evil.example"}
    status, _, _ = raw(view, "/", headers)
    assert status == 403


def test_csp_and_headers(view: View) -> None:
    status, headers, _ = raw(view, "/", token_header(view))
    assert status == 200
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0] and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = raw(view, "/static/app.js", token_header(view))
    assert headers["content-type"].startswith("text/javascript")
    assert b"eval(" not in body and b"new Function" not in body


def test_api_answers_like_the_lsp_requests(view: View, web_ws: WebWorkspace) -> None:
    flows = view.api("metaflow/flows", {})
    names = {f["name"]: f for f in flows["flows"]}
    assert names["WebFlow"]["has_runs"] and names["SwitchFlow"]["has_runs"]
    assert not names["ParallelFlow"]["has_runs"] and names["ParallelFlow"]["source"]
    runs = view.api("metaflow/runs", {"flow": "WebFlow"})["runs"]
    assert [r["pathspec"] for r in runs] == [web_ws.runs["failed"], web_ws.runs["ok"]]
    first = view.api("metaflow/runs", {"flow": "WebFlow", "limit": 1})
    assert first["next_cursor"]
    second = view.api(
        "metaflow/runs", {"flow": "WebFlow", "limit": 1, "cursor": first["next_cursor"]}
    )
    assert [r["pathspec"] for r in first["runs"] + second["runs"]] == [r["pathspec"] for r in runs]
    detail = view.api("metaflow/run", {"pathspec": web_ws.runs["ok"], "tasks": "rows"})
    assert detail["task_row"][0] == "task_id"
    counts = {s["step"]: s["task_count"] for s in detail["steps"]}
    assert counts == {step: len(ids) for step, ids in web_ws.tasks("ok").items()}
    graph = view.api("metaflow/graph", {"flow": "WebFlow"})
    assert {(e["from"], e["to"], e["kind"]) for e in graph["edges"]} >= {
        ("start", "train", "foreach")
    }
    request = urllib.request.Request(
        f"{view.base}/api/metaflow/run",
        data=json.dumps({"pathspec": "WebFlow/1"}).encode(),
        headers={"Content-Type": "application/json", **token_header(view)},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=30)
    error = json.load(missing.value)["error"]
    assert missing.value.code == 404 and error["data"]["kind"] == "not_found"


def test_cards_get_their_own_sandboxing_csp(view: View, web_ws: WebWorkspace) -> None:
    (task,) = web_ws.tasks("ok")["report"]
    pathspec = f"{web_ws.runs['ok']}/report/{task}"
    cards = view.api("metaflow/task", {"pathspec": pathspec, "previews": False})["cards"]
    assert len(cards) == 1 and "path" not in cards[0]
    status, headers, body = raw(
        view, f"/card?pathspec={pathspec}&hash={cards[0]['hash']}", token_header(view)
    )
    assert status == 200 and b"<html" in body.lower()
    csp = headers["content-security-policy"]
    assert csp.startswith("sandbox allow-scripts;") and "allow-same-origin" not in csp
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp
