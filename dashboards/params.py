"""Turn query-string parameters into a ``SearchQuery``, strictly and in one place.

Why one module: the JSON API, the HTML page and ``radar search`` accept the same filters,
and a filter that means one thing in the browser and another on the command line would
make investigators' results irreproducible. Why strict: a typo (``min_score=0,8``,
``category=debts``) silently ignored returns *more* posts than asked for, which looks
like a finding; so every bad value is a ``ParamError`` naming the parameter instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pipeline.models import CATEGORIES, ReviewStatus, SearchQuery

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The parameters this module understands, in the order links are written.
SEARCH_PARAMS: tuple[str, ...] = (
    "q",
    "category",
    "platform",
    "since",
    "until",
    "min_score",
    "status",
    "flagged_only",
    "page",
    "page_size",
)

MAX_Q_CHARS = 200
MAX_PLATFORM_CHARS = 64
MAX_PAGE = 10_000
MAX_PAGE_SIZE = 100
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ParamError(ValueError):
    """A bad search parameter: ``param`` names it, ``message`` says what was wrong."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def is_date_only(value: str) -> bool:
    """True for ``YYYY-MM-DD`` (what an ``<input type=date>`` sends)."""
    return bool(_DATE_ONLY.fullmatch(value.strip()))


def parse_when(value: str, param: str, *, end_of_day: bool = False) -> datetime:
    """Parse a date or ISO 8601 datetime into an aware UTC datetime.

    A bare date is Asia/Shanghai midnight, since that is the investigators' calendar. With
    ``end_of_day`` (used for ``until``) a bare date means the *next* Shanghai midnight, so
    ``since=D&until=D`` covers day D as people expect. A datetime without an offset is
    Shanghai local time for the same reason.
    """
    text = value.strip()
    try:
        if is_date_only(text):
            day = date.fromisoformat(text)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ParamError(param, f"not a date (YYYY-MM-DD) or ISO 8601 datetime: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(UTC)


def _int_in(value: str, param: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ParamError(param, f"not an integer: {value!r}") from None
    if not low <= number <= high:
        raise ParamError(param, f"must be between {low} and {high}, got {number}")
    return number


def _score(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ParamError("min_score", f"not a number: {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ParamError("min_score", f"must be between 0 and 1, got {value!r}")
    return number


def _flag(value: str, param: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParamError(param, f"expected 1/0 or true/false, got {value!r}")


def _category(value: str) -> str:
    if value not in CATEGORIES:
        raise ParamError("category", f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
    return value


def _status(value: str) -> ReviewStatus:
    try:
        return ReviewStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ReviewStatus)
        raise ParamError("status", f"unknown status {value!r}; one of {allowed}") from None


def _text(value: str, param: str, limit: int) -> str:
    text = value.strip()
    if len(text) > limit:
        raise ParamError(param, f"longer than {limit} characters")
    if any(ord(ch) < 32 and ch not in "\t" for ch in text):
        raise ParamError(param, "contains control characters")
    return text


def parse_search_params(mapping: Mapping[str, str]) -> SearchQuery:
    """Build a ``SearchQuery`` from string parameters; raise ``ParamError`` on the first
    bad one. Empty values mean "no filter" (that is what an untouched form field sends);
    unknown keys are ignored so links may carry extra parameters."""
    raw = {key: mapping[key] for key in SEARCH_PARAMS if key in mapping}
    given = {key: value for key, value in raw.items() if value.strip() != ""}
    fields: dict[str, object] = {"q": _text(raw.get("q", ""), "q", MAX_Q_CHARS)}
    if "category" in given:
        fields["category"] = _category(given["category"].strip())
    if "platform" in given:
        fields["platform"] = _text(given["platform"], "platform", MAX_PLATFORM_CHARS)
    since = parse_when(given["since"], "since") if "since" in given else None
    until = parse_when(given["until"], "until", end_of_day=True) if "until" in given else None
    if since and until and since >= until:
        raise ParamError("until", "must be after since")
    fields.update(since=since, until=until)
    if "min_score" in given:
        fields["min_score"] = _score(given["min_score"])
    if "status" in given:
        fields["status"] = _status(given["status"].strip())
    if "flagged_only" in given:
        fields["flagged_only"] = _flag(given["flagged_only"], "flagged_only")
    if "page" in given:
        fields["page"] = _int_in(given["page"], "page", 1, MAX_PAGE)
    if "page_size" in given:
        fields["page_size"] = _int_in(given["page_size"], "page_size", 1, MAX_PAGE_SIZE)
    return SearchQuery(**fields)  # type: ignore[arg-type]


def search_link(base: str, raw: Mapping[str, str], **changes: str | int | None) -> str:
    """A link to ``base`` with the current filters, some changed (``None`` drops one).

    Works on the raw strings the user sent (already validated), so a link reproduces the
    form exactly; values are URL-encoded here, never pasted into the URL by hand.
    """
    merged: dict[str, str] = {k: v for k, v in raw.items() if k in SEARCH_PARAMS and v != ""}
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    ordered = [(key, merged[key]) for key in SEARCH_PARAMS if key in merged]
    return f"{base}?{urlencode(ordered)}" if ordered else base
