"""The 下架清单 pages: produced takedown lists, one list's accounts, and downloads.

Read-only: lists are produced by the scheduled job or ``radar takedown`` and read from
the store, so the page works in either mode (in the scale-out deployment the dashboard
and the scheduler are different processes). An id is checked against its pattern
before it reaches the store or a header; anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.models import valid_list_id
from pipeline.store.base import Store
from pipeline.takedown.data import contact_text, platform_label
from pipeline.takedown.export import file_name, media_type, render

LIST_LIMIT = 100
FORMATS = ("csv", "xlsx")
Page = Callable[..., Response]


def split_name(name: str) -> tuple[str, str | None] | None:
    """``ID`` → (ID, None); ``ID.csv`` / ``ID.xlsx`` → (ID, format); else None."""
    stem, dot, ext = name.rpartition(".")
    if dot and ext in FORMATS:
        return (stem, ext) if valid_list_id(stem) else None
    return (name, None) if valid_list_id(name) else None


def add_takedown_routes(
    app: FastAPI, store: Store, page: Page, error_page: Page, tz: ZoneInfo
) -> None:
    """Register ``/takedowns`` and ``/takedowns/{id}[.csv|.xlsx]`` on ``app``."""

    def not_found(request: Request) -> Response:
        return error_page(request, 404, "清单不存在", "没有找到这份下架清单。")

    @app.get("/takedowns")
    async def takedowns_page(request: Request) -> Response:
        context: dict[str, Any] = {
            "title": "下架清单",
            "lists": await store.list_takedown_lists(limit=LIST_LIMIT),
            "platform_label": platform_label,
        }
        return page(request, "takedowns.html", context)

    @app.get("/takedowns/{name}")
    async def takedown_item(request: Request, name: str) -> Response:
        parsed = split_name(name)
        if parsed is None:
            return not_found(request)
        list_id, fmt = parsed
        takedown = await store.get_takedown_list(list_id)
        if takedown is None:
            return not_found(request)
        if fmt is None:
            context = {
                "title": f"下架清单 {takedown.id}",
                "takedown": takedown,
                "platform_label": platform_label,
                "contact_text": contact_text,
            }
            return page(request, "takedowns_detail.html", context)
        body = await run_in_threadpool(render, takedown, fmt, tz)
        disposition = f'attachment; filename="{file_name(takedown.id, fmt)}"'
        return Response(
            body,
            media_type=media_type(fmt),
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )
