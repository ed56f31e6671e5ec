"""The web view's HTTP server: the built app, the runs API as JSON, and cards in a sandbox.

Bound to 127.0.0.1 on a random port. Every request needs the session's token: the URL the
server prints carries it once (`/?token=…`), which sets an HttpOnly, SameSite=Strict cookie
and redirects to `/`; API clients may send it in the `X-Metaflow-Token` header instead.
Requests with another Host (DNS rebinding), without the token, or naming a path outside the
app's files are refused. Every answer carries a strict Content-Security-Policy (no inline
script, no eval); cards get their own (`sandbox allow-scripts`, no network).
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from .. import api
from ..api.context import ApiHost

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Metaflow-Token"
MAX_BODY = 1 << 20
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# A card is the user's HTML with its own inline scripts: an opaque origin (no cookie, no
# access to the app), no network, no forms, no navigation of the app.
CARD_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; media-src data: blob:; "
    "connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUS_OF_KIND = {
    "invalid_params": 400,
    "not_found": 404,
    "no_interpreter": 422,
    "preview_failed": 422,
    "backend_unavailable": 503,
    "timeout": 504,
    "internal": 500,
}
ErrorReporter = Callable[[str, BaseException], None]


def load_assets() -> dict[str, bytes]:
    """The built app's files (`static/`), by name: the only files the server sends."""
    out: dict[str, bytes] = {}
    root = resources.files("metaflow_lsp.web") / "static"
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_file() and not entry.name.startswith("."):
                out[entry.name] = entry.read_bytes()
    return out


def _missing_assets_page() -> bytes:
    return (
        b"<!doctype html><meta charset=utf-8><title>metaflow-lsp view</title>"
        b"<p>The web view's files are missing from this installation: "
        b"run <code>bash scripts/build_web.sh</code> in the metaflow-lsp repository, "
        b"or reinstall the package.</p>"
    )


class ViewServer:
    """One HTTP server for the web view, answering from an `ApiHost`."""

    def __init__(
        self,
        host: ApiHost,
        *,
        token: str | None = None,
        report: ErrorReporter | None = None,
        assets: dict[str, bytes] | None = None,
    ) -> None:
        self.host = host
        self.token = token or secrets.token_urlsafe(32)
        self.port = 0
        self._report = report
        self._assets = load_assets() if assets is None else assets
        self._runner: web.AppRunner | None = None

    # -- lifecycle

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` once started."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cookie(self) -> str:
        """The token cookie's name (one per port: cookies do not tell ports apart)."""
        return f"metaflow_lsp_token_{self.port}"

    def url(self, route: str = "") -> str:
        """The URL to open: the token once, and the route (`#/Flow/run/step/task`)."""
        fragment = route if route.startswith("#") else ("#" + route if route else "")
        return f"{self.base_url}/?token={self.token}{fragment}"

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (`port` 0: a random free port); returns the base URL."""
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_post("/api/{method:metaflow/[A-Za-z]+}", self._api)
        app.router.add_get("/card", self._card)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=False)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.base_url

    async def stop(self) -> None:
        """Close the listening socket and the open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- the guard every request passes

    def _token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            str(candidate).encode("utf-8", "replace"), self.token.encode()
        )

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await self._checked(request, handler)
        for name, value in COMMON_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", APP_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    async def _checked(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        hosts = (f"127.0.0.1:{self.port}", f"localhost:{self.port}")
        if request.host not in hosts:
            return _refuse(403, "this server only answers requests for 127.0.0.1")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in [f"http://{h}" for h in hosts]:
            return _refuse(403, "cross-origin requests are refused")
        raw = request.raw_path.lower()
        if ".." in raw or "%2e" in raw or "\\" in raw or "%5c" in raw or ".." in request.path:
            return _refuse(404, "no such file")
        given = request.query.get("token")
        if given is not None and request.path == "/" and request.method == "GET":
            if not self._token_ok(given):
                return _refuse(403, "wrong token: open the URL metaflow-lsp printed")
            # Drop the token from the address bar (and history); the fragment is kept.
            response = web.HTTPSeeOther("/")
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return response
        if not self._token_ok(
            request.headers.get(TOKEN_HEADER) or request.cookies.get(self.cookie)
        ):
            return _refuse(403, "missing or wrong token: open the URL metaflow-lsp printed")
        try:
            return await handler(request)
        except web.HTTPException as error:
            return _refuse(error.status, error.reason)

    # -- handlers

    async def _index(self, request: web.Request) -> web.StreamResponse:
        body = self._assets.get("index.html") or _missing_assets_page()
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = self._assets.get(name)
        if body is None or name == "index.html":
            return _refuse(404, "no such file")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            kind = "text/javascript"
        return web.Response(body=body, content_type=kind)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _refuse(415, "send the parameters as application/json")
        try:
            params = json.loads(await request.read() or b"{}")
        except ValueError:
            return _json_error(400, api.INVALID_PARAMS, "invalid_params", "the body is not JSON")
        method = request.match_info["method"]
        try:
            result = await api.call(self.host, method, params)
        except api.ApiError as error:
            if error.kind == "internal" and error.__cause__ is not None:
                self._log(f"{method} failed for {params!r}", error.__cause__)
            status = STATUS_OF_KIND.get(error.kind, 500)
            return _json_error(status, error.code, error.kind, str(error), error.data)
        return web.json_response({"result": result}, dumps=_dumps)

    async def _card(self, request: web.Request) -> web.StreamResponse:
        params = {"pathspec": request.query.get("pathspec"), "hash": request.query.get("hash")}
        try:
            result = await api.call(self.host, "metaflow/card", params)
        except api.ApiError as error:
            if error.kind == "internal" and error.__cause__ is not None:
                self._log("reading a card failed", error.__cause__)
            return web.Response(
                status=STATUS_OF_KIND.get(error.kind, 500),
                text=f"The card cannot be shown: {error}",
                content_type="text/plain",
                headers={"Content-Security-Policy": CARD_CSP, "X-Frame-Options": "SAMEORIGIN"},
            )
        return web.Response(
            text=result["html"],
            content_type="text/html",
            headers={"Content-Security-Policy": CARD_CSP, "X-Frame-Options": "SAMEORIGIN"},
        )

    def _log(self, context: str, error: BaseException) -> None:
        if self._report is not None:
            self._report(context, error)
        else:
            log.error("%s: %r", context, error, exc_info=error)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def _json_error(
    status: int, code: int, kind: str, message: str, data: dict[str, Any] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "data": data or {"kind": kind}}}
    return web.json_response(body, status=status, dumps=_dumps)
