"""The runner's status in investigators' words: zh labels for source states and counters.

Kept apart from the routes because the status strip on the search page and the 运行状态
page both show it, and the runner's keys (``counters.collected``) are for machines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboards.formatting import shanghai_time

COUNTER_LABELS_ZH: dict[str, str] = {
    "collected": "已收集",
    "flagged": "已标记",
    "written": "已入库",
    "rejected": "坏记录",
    "truncated": "超长截断",
    "duplicates": "重复",
}
STATE_LABELS_ZH: dict[str, str] = {
    "healthy": "正常",
    "cooling": "冷却中",
    "failing": "失败",
}


def iso_shanghai(value: object) -> str:
    """An ISO 8601 string or datetime from the status API, as Shanghai time."""
    if isinstance(value, datetime):
        return shanghai_time(value)
    if isinstance(value, str) and value:
        try:
            return shanghai_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return ""


def counters_zh(runner: dict[str, Any] | None) -> list[tuple[str, int]]:
    counters = (runner or {}).get("counters", {})
    shown = [(label, counters[key]) for key, label in COUNTER_LABELS_ZH.items() if key in counters]
    queues = (runner or {}).get("queues")
    if queues:
        shown.append(("队列", sum(n for n in queues.values() if isinstance(n, int))))
    return shown


def source_rows(runner: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per source: what the 运行状态 table shows."""
    rows = []
    for source in (runner or {}).get("sources", []):
        state = source.get("state", "healthy")
        label = STATE_LABELS_ZH.get(state, state)
        if state == "cooling" and source.get("cooldown_until"):
            label = f"冷却中，至 {iso_shanghai(source['cooldown_until'])}"
        rows.append(
            {
                "name": source.get("name", ""),
                "kind": source.get("kind", ""),
                "state": state,
                "label": label,
                "running": bool(source.get("running")),
                "last_success": iso_shanghai(source.get("last_success")),
                "last_error": source.get("last_error") or "",
                "hour": source.get("posts_last_hour", 0),
                "day": source.get("posts_last_day", 0),
                "total": source.get("posts_total", 0),
                "bad": source.get("bad_records", 0),
                "events": list(source.get("events", []))[-5:],
            }
        )
    return rows
