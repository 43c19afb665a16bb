"""Pure parsing of Bilibili's answers (search, view/detail, dynamics) into posts.

Shapes from bilibili-API-collect; every answer is ``{code, message, data}``. ``code``
-352 / -412 / -799 / -509 and a ``data.v_voucher`` (a refused signature or cookie) are
risk control; other non-zero codes, HTML and truncated bodies are :class:`ShapeError`.
See :mod:`collectors.bilibili` for the endpoints and the checkpoint semantics.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import httpx

from collectors.http import RiskControlError, ShapeError
from collectors.incremental import Entry, FeedPage
from collectors.parsing import (
    TimeFormatError,
    as_id,
    as_text,
    build_post,
    dig,
    from_unix,
    html_to_text,
    load_json,
    parse_count,
)
from pipeline.models import MAX_TEXT_CHARS, Post

RISK_CODES = frozenset({-352, -412, -799, -509})
RISK_STATUSES = frozenset({403, 412})


def api_data(body: bytes | dict[str, Any], what: str) -> Any:
    """``data`` of a ``{code, message, data}`` answer; risk codes raise."""
    decoded = load_json(body)
    if not isinstance(decoded, dict) or "code" not in decoded:
        raise ShapeError(f"{what}: not a {{code, data}} object", repr(decoded)[:200])
    code = decoded.get("code")
    message = str(decoded.get("message") or "")
    if isinstance(code, int) and code in RISK_CODES:
        raise RiskControlError(f"bilibili {what}: code {code} {message[:60]}")
    if code != 0:
        raise ShapeError(f"bilibili {what}: code {code} {message[:60]}", repr(decoded)[:200])
    data = decoded.get("data")
    if isinstance(data, dict) and data.get("v_voucher"):
        raise RiskControlError(f"bilibili {what}: v_voucher (signature or cookie refused)")
    if not isinstance(data, dict):
        raise ShapeError(f"bilibili {what}: no data object", repr(decoded)[:200])
    return data


def _unix(value: Any) -> tuple[datetime | None, str | None]:
    if value is None:
        return None, None
    try:
        return from_unix(value), str(value)
    except TimeFormatError:
        return None, str(value)


def _video_text(title: Any, description: Any) -> str:
    parts = [html_to_text(title if isinstance(title, str) else "")]
    desc = html_to_text(description if isinstance(description, str) else "")
    if desc and desc != "-":
        parts.append(desc)
    return "\n".join(part for part in parts if part)


def search_entry(item: dict[str, Any], *, source: str, now: datetime, max_text_chars: int) -> Entry:
    bvid = as_text(item.get("bvid"))
    if bvid is None:
        raise ValueError("search result without bvid")
    text = _video_text(item.get("title"), item.get("description"))
    if not text:
        raise ValueError(f"search result {bvid} without title")
    created_at, created_raw = _unix(item.get("pubdate"))
    aid = item.get("aid") if isinstance(item.get("aid"), int) else 0
    post = build_post(
        platform="bilibili",
        post_id=bvid,
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=as_id(item.get("mid")),
        author_name=html_to_text(as_text(item.get("author"))) or None,
        url=f"https://www.bilibili.com/video/{bvid}",
        created_at=created_at,
        created_raw=created_raw,
        counts={
            "views": parse_count(item.get("play")),
            "danmaku": parse_count(item.get("video_review") or item.get("danmaku")),
            "comments": parse_count(item.get("review")),
            "favorites": parse_count(item.get("favorites")),
            "likes": parse_count(item.get("like")),
        },
    )
    pubdate = int(created_at.timestamp()) if created_at else 0
    return Entry(post=post, key=[pubdate, aid])


def parse_search_page(
    body: bytes | dict[str, Any],
    *,
    source: str = "bilibili",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> FeedPage:
    now = now or datetime.now(UTC)
    data = api_data(body, "search")
    results = data.get("result")
    if results is None:
        return FeedPage(entries=[])  # no hits at all
    if not isinstance(results, list):
        raise ShapeError("bilibili search: data.result is not a list", repr(data)[:200])
    entries: list[Entry] = []
    skipped: list[str] = []
    for item in results:
        if not isinstance(item, dict) or item.get("type", "video") != "video":
            continue
        try:
            entries.append(
                search_entry(item, source=source, now=now, max_text_chars=max_text_chars)
            )
        except ValueError as exc:
            skipped.append(str(exc))
    page, pages = data.get("page"), data.get("numPages")
    has_next = isinstance(page, int) and isinstance(pages, int) and page < pages
    return FeedPage(entries=entries, next=str(page + 1) if has_next else None, skipped=skipped)


def parse_search(body: bytes | dict[str, Any], **options: Any) -> tuple[list[Post], str | None]:
    page = parse_search_page(body, **options)
    return page.posts, page.next


def parse_view_detail(
    body: bytes | dict[str, Any],
    *,
    source: str = "bilibili",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> tuple[list[Post], str | None]:
    """The video of a view/detail answer, with the author's bio from ``Card.card.sign``."""
    now = now or datetime.now(UTC)
    data = api_data(body, "view/detail")
    view = data.get("View")
    if not isinstance(view, dict) or not as_text(view.get("bvid")):
        raise ShapeError("bilibili view/detail: no data.View.bvid", repr(data)[:200])
    bvid = str(view["bvid"])
    card = dig(data, "Card", "card") or {}
    owner = view.get("owner") if isinstance(view.get("owner"), dict) else {}
    created_at, created_raw = _unix(view.get("pubdate"))
    stat = view.get("stat") if isinstance(view.get("stat"), dict) else {}
    post = build_post(
        platform="bilibili",
        post_id=bvid,
        text=_video_text(view.get("title"), view.get("desc")),
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=as_id(owner.get("mid")) or as_id(card.get("mid")),
        author_name=as_text(owner.get("name")) or as_text(card.get("name")),
        author_bio=as_text(card.get("sign")),
        url=f"https://www.bilibili.com/video/{bvid}",
        created_at=created_at,
        created_raw=created_raw,
        counts={
            "views": parse_count(stat.get("view")),
            "danmaku": parse_count(stat.get("danmaku")),
            "comments": parse_count(stat.get("reply")),
            "favorites": parse_count(stat.get("favorite")),
            "likes": parse_count(stat.get("like")),
        },
    )
    return [post], None


def _dynamic_text(modules: dict[str, Any]) -> str:
    dynamic = modules.get("module_dynamic") if isinstance(modules, dict) else None
    if not isinstance(dynamic, dict):
        return ""
    parts = [as_text(dig(dynamic, "desc", "text"))]
    major = dynamic.get("major") if isinstance(dynamic.get("major"), dict) else {}
    parts.append(as_text(dig(major, "opus", "title")))
    parts.append(as_text(dig(major, "opus", "summary", "text")))
    parts.append(as_text(dig(major, "archive", "title")))
    parts.append(as_text(dig(major, "archive", "desc")))
    parts.append(as_text(dig(major, "article", "title")))
    parts.append(as_text(dig(major, "article", "desc")))
    return "\n".join(html_to_text(part) for part in parts if part)


def dynamic_entry(
    item: dict[str, Any], *, source: str, now: datetime, max_text_chars: int
) -> Entry:
    dynamic_id = as_id(item.get("id_str"))
    if dynamic_id is None or not dynamic_id.isdigit():
        raise ValueError("dynamic without a numeric id_str")
    modules = item.get("modules") if isinstance(item.get("modules"), dict) else {}
    text = _dynamic_text(modules)
    if not text:
        raise ValueError(f"dynamic {dynamic_id} without text")
    author = modules.get("module_author") if isinstance(modules.get("module_author"), dict) else {}
    created_at, created_raw = _unix(author.get("pub_ts"))
    stat = modules.get("module_stat") if isinstance(modules.get("module_stat"), dict) else {}
    post = build_post(
        platform="bilibili",
        post_id=dynamic_id,
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=as_id(author.get("mid")),
        author_name=as_text(author.get("name")),
        url=f"https://t.bilibili.com/{dynamic_id}",
        created_at=created_at,
        created_raw=created_raw,
        counts={
            "comments": parse_count(dig(stat, "comment", "count")),
            "reposts": parse_count(dig(stat, "forward", "count")),
            "likes": parse_count(dig(stat, "like", "count")),
        },
    )
    pinned = dig(modules, "module_tag", "text") == "置顶"
    attached = []
    original = item.get("orig")  # a forward's original dynamic, by its own author
    if isinstance(original, dict) and as_id(dig(original, "modules", "module_author", "mid")):
        flat = {key: value for key, value in original.items() if key != "orig"}
        with contextlib.suppress(ValueError):
            attached.append(
                dynamic_entry(flat, source=source, now=now, max_text_chars=max_text_chars).post
            )
    return Entry(post=post, key=[int(dynamic_id)], pinned=pinned, attached=attached)


def parse_dynamics_page(
    body: bytes | dict[str, Any],
    *,
    source: str = "bilibili",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> FeedPage:
    now = now or datetime.now(UTC)
    data = api_data(body, "dynamics")
    items = data.get("items")
    if not isinstance(items, list):
        raise ShapeError("bilibili dynamics: data.items is not a list", repr(data)[:200])
    entries: list[Entry] = []
    skipped: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            entries.append(
                dynamic_entry(item, source=source, now=now, max_text_chars=max_text_chars)
            )
        except ValueError as exc:
            skipped.append(str(exc))
    offset = as_id(data.get("offset"))
    has_more = data.get("has_more") in (True, 1)
    return FeedPage(entries=entries, next=offset if has_more else None, skipped=skipped)


def parse_dynamics(body: bytes | dict[str, Any], **options: Any) -> tuple[list[Post], str | None]:
    page = parse_dynamics_page(body, **options)
    return page.posts, page.next


def check_response(response: httpx.Response) -> None:
    if response.status_code in RISK_STATUSES:
        raise RiskControlError("bilibili risk control", response.status_code)
    if response.status_code >= 400:
        raise ShapeError(f"HTTP {response.status_code} from bilibili", response.content)
