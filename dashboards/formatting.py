"""Jinja2 filters: how times, scores, labels and links look on the page.

Why filters rather than pre-formatted context: templates stay declarative and every
value still passes through autoescape on its way out; nothing here returns markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import jinja2

from dashboards.highlight import feature_class, hit_fragments
from dashboards.params import SHANGHAI, is_date_only
from pipeline.models import CATEGORY_LABELS_ZH, REVIEW_LABELS_ZH

CONTACT_LABELS_ZH: dict[str, str] = {
    "wechat": "微信",
    "qq": "QQ",
    "phone": "电话",
    "link": "链接",
}

PARAM_LABELS_ZH: dict[str, str] = {
    "q": "关键词",
    "category": "类别",
    "platform": "平台",
    "since": "起始日期",
    "until": "截止日期",
    "min_score": "最低分",
    "status": "审核状态",
    "flagged_only": "仅已标记",
    "page": "页码",
    "page_size": "每页条数",
}


def shanghai_time(value: datetime | None) -> str:
    """``2024-05-01 20:15`` in Asia/Shanghai; naive datetimes are UTC (the schema's rule)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    """Scores are 0..1; investigators read them as whole percentages."""
    if value is None:
        return "—"
    return f"{round(max(0.0, min(1.0, value)) * 100)}%"


def category_zh(value: str) -> str:
    return CATEGORY_LABELS_ZH.get(value, value)


def status_zh(value: object) -> str:
    key = getattr(value, "value", value)
    return REVIEW_LABELS_ZH.get(str(key), str(key))


def contact_zh(kind: str) -> str:
    return CONTACT_LABELS_ZH.get(kind, kind)


def safe_url(value: str | None) -> str | None:
    """The URL if it is plain http(s), else ``None``: autoescape does not stop a
    ``javascript:`` href, so post URLs from sources are only linked when harmless."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def account_href(platform: str, account_id: str) -> str:
    """Path of an account page; both parts percent-encoded as single path segments."""
    return f"/accounts/{quote(platform, safe='')}/{quote(account_id, safe='')}"


def install(env: jinja2.Environment) -> None:
    """Register the filters and helpers the templates use."""
    env.filters.update(
        shanghai=shanghai_time,
        pct=percent,
        cat_zh=category_zh,
        status_zh=status_zh,
        contact_zh=contact_zh,
        param_zh=lambda name: PARAM_LABELS_ZH.get(name, name),
        safe_url=safe_url,
        ev_class=feature_class,
        fragments=hit_fragments,
    )
    env.globals.update(
        account_href=account_href,
        is_date_only=is_date_only,
        CATEGORY_LABELS_ZH=CATEGORY_LABELS_ZH,
        REVIEW_LABELS_ZH=REVIEW_LABELS_ZH,
    )
