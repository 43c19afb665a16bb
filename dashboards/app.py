"""The investigator web app: a search page, account pages and a small JSON API.

Why server-rendered: every piece of user text goes through Jinja2 autoescape on the
server, so hostile posts cannot become markup, and the page works without JavaScript.
The one static script only polls for new results. The app talks to storage only through
the ``Store`` protocol, so the SQLite and Elasticsearch stores serve the same pages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response

from dashboards import formatting
from dashboards.params import SEARCH_PARAMS, ParamError, parse_search_params, search_link
from dashboards.security import SecurityHeadersMiddleware
from dashboards.serialize import account_json, encode, search_json, status_json
from dashboards.status_view import counters_zh, source_rows
from dashboards.takedowns import add_takedown_routes
from pipeline.models import (
    CATEGORIES,
    AccountRisk,
    ReviewStatus,
    Ring,
    SearchQuery,
    SearchResult,
)
from pipeline.store.base import Store

if TYPE_CHECKING:
    from collectors.ingest import IngestSourceSettings
    from dashboards.ingest_api import IngestHook

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
RECENT_POSTS = 20
RING_MEMBERS = 50  # other members listed on an account page
StatusProvider = Callable[[], Awaitable[dict[str, Any]]]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    formatting.install(env)
    return env


def _json(value: object, status_code: int = 200) -> Response:
    return Response(encode(value), status_code=status_code, media_type="application/json")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(
    store: Store,
    *,
    status_provider: StatusProvider | None = None,
    ingest: IngestHook | None = None,
    ingest_sources: Sequence[IngestSourceSettings] = (),
    tz: ZoneInfo | None = None,
) -> FastAPI:
    """Build the app around ``store``; ``status_provider`` adds the live runner status,
    ``ingest`` (the runner's queue) with ``ingest_sources`` opens ``POST /api/ingest``."""
    app = FastAPI(title="黑产雷达", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(env=_environment())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityHeadersMiddleware)

    async def runner_status() -> tuple[dict[str, Any] | None, bool]:
        """The runner's status and whether asking for it failed (shown, never fatal)."""
        if status_provider is None:
            return None, False
        try:
            return dict(await status_provider()), False
        except Exception:
            log.exception("status provider failed")
            return None, True

    def page(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
        context = {"title": title, "message": message, "code": status_code}
        return page(request, "error.html", context, status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return _json({"error": str(exc.detail)}, exc.status_code)
        if exc.status_code == 404:
            return error_page(request, 404, "页面不存在", "没有找到这个页面。")
        return error_page(request, exc.status_code, "请求无法处理", str(exc.detail))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this response is sent, so the server logs the
        # traceback; the client only learns that something failed.
        if _wants_json(request):
            return _json({"error": "internal error"}, 500)
        return error_page(request, 500, "服务器错误", "处理请求时出错，请稍后重试。")

    if ingest is not None and ingest_sources:
        from dashboards.ingest_api import ingest_router

        app.include_router(
            ingest_router(ingest_sources, ingest, tz=tz or ZoneInfo("Asia/Shanghai"))
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/api/status")
    async def api_status() -> Response:
        runner, _failed = await runner_status()
        stats = await store.stats()
        return _json(status_json(stats, await store.list_sources(), runner))

    @app.get("/api/search")
    async def api_search(request: Request) -> Response:
        try:
            query = parse_search_params(request.query_params)
        except ParamError as err:
            return _json({"error": err.message, "param": err.param}, 422)
        return _json(search_json(await store.search(query)))

    @app.get("/api/accounts/{platform}/{account_id:path}")
    async def api_account(platform: str, account_id: str) -> Response:
        account = await store.get_account(platform, account_id)
        if account is None:
            return _json({"error": "account not found"}, 404)
        sharing = await _sharing(store, account.contacts, account.key)
        recent = await store.account_posts(platform, account_id, limit=RECENT_POSTS)
        ring, members = await _ring(store, account)
        return _json(account_json(account, sharing, recent, ring, members))

    @app.get("/")
    async def search_page(request: Request) -> Response:
        raw = _raw_params(request.query_params)
        error: ParamError | None = None
        try:
            query = parse_search_params(raw)
        except ParamError as err:
            error, query = err, SearchQuery()
        result = await store.search(query) if error is None else SearchResult(total=0, results=[])
        stats = await store.stats()
        runner, runner_failed = await runner_status()
        context = {
            "title": "搜索",
            "raw": raw,
            "query": query,
            "result": result,
            "error": error,
            "stats": stats,
            "runner": runner,
            "runner_failed": runner_failed,
            "counters": counters_zh(runner),
            "categories": CATEGORIES,
            "statuses": [s.value for s in ReviewStatus],
            "platforms": sorted(set(stats.by_platform) | set(result.facets.get("platform", {}))),
            "pages": -(-result.total // query.page_size),
            "link": lambda **changes: search_link("/", raw, **changes),
        }
        return page(request, "search.html", context, 422 if error else 200)

    @app.get("/sources")
    async def sources_page(request: Request) -> Response:
        runner, runner_failed = await runner_status()
        context = {
            "title": "运行状态",
            "runner": runner,
            "runner_failed": runner_failed,
            "rows": source_rows(runner),
            "counters": counters_zh(runner),
            "checkpoints": await store.list_sources(),
        }
        return page(request, "sources.html", context)

    @app.get("/accounts/{platform}/{account_id:path}")
    async def account_page(request: Request, platform: str, account_id: str) -> Response:
        account = await store.get_account(platform, account_id)
        if account is None:
            return error_page(request, 404, "账号不存在", "没有找到这个账号的记录。")
        ring, members = await _ring(store, account)
        context = {
            "title": account.nickname or account.account_id,
            "account": account,
            "ring": ring,
            "ring_members": members,
            "sharing": await _sharing(store, account.contacts, account.key),
            "recent": await store.account_posts(platform, account_id, limit=RECENT_POSTS),
        }
        return page(request, "account.html", context)

    add_takedown_routes(app, store, page, error_page, tz or ZoneInfo("Asia/Shanghai"))
    return app


def _raw_params(params: Mapping[str, str]) -> dict[str, str]:
    """The recognised parameters as sent, kept to refill the form and build links."""
    return {key: params[key] for key in SEARCH_PARAMS if key in params}


async def _ring(store: Store, account: AccountRisk) -> tuple[Ring | None, list[AccountRisk]]:
    """The account's saved ring and its other members (best first). The ring can be None
    with ``account.ring`` set when a job run replaced the rings between the two reads."""
    if not account.ring:
        return None, []
    ring = await store.get_ring(account.ring)
    members = await store.ring_members(account.ring, limit=RING_MEMBERS + 1)
    return ring, [m for m in members if m.key != account.key][:RING_MEMBERS]


async def _sharing(store: Store, contacts: list[str], exclude: str) -> list[AccountRisk]:
    if not contacts:
        return []
    others = await store.accounts_sharing_contacts(contacts, exclude=exclude)
    return [other for other in others if other.key != exclude]
