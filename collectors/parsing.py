"""Pure helpers every platform adapter shares: HTML to text, "1.2万" counts, times.

Platforms write the same things many ways (Weibo alone has six time formats, counts come
as ``12000``, ``"1.2万"``, ``"3.5w"`` or ``"10万+"``), so each way is parsed once here and
tested here, and adapters stay a mapping from a response's fields to :class:`Post`.
Nothing here does I/O or reads the clock: "now" is always passed in, so relative times
("5分钟前") are reproducible in tests.
"""

from __future__ import annotations

import email.utils
import html
import re
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from collectors.http import ShapeError
from pipeline.models import MAX_BIO_CHARS, Post

CHINA_TZ = ZoneInfo("Asia/Shanghai")

# Tags after which text continues on a new line. Everything else is inline.
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "section", "blockquote", "pre", "hr"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "article", "header"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "svg", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "br" or tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "img" and not self._skip:
            # Weibo and Bilibili write emoticons as <img alt="[doge]">: keep the words.
            alt = dict(attrs).get("alt") or ""
            if alt.startswith("[") and alt.endswith("]") and len(alt) <= 12:
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Visible text of an HTML fragment: tags dropped, ``<br>`` and block ends as newlines,
    entities unescaped, runs of spaces folded. Never raises on broken markup."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return _tidy(markup)
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; this is a last resort for hostile input
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# -- counts ------------------------------------------------------------------------------

_COUNT = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万|w|W|亿|千|k|K)?\s*\+?$")
_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "千": 1_000}
_UNITS |= {"k": 1_000, "K": 1_000}


def parse_count(value: Any) -> int | None:
    """``12000``, ``"12,000"``, ``"1.2万"``, ``"3.5w"``, ``"10万+"``, ``"1亿"`` → an int;
    anything else (``None``, ``""``, ``"--"``, booleans) → ``None``, never an error."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value == value else None
    if not isinstance(value, str):
        return None
    match = _COUNT.match(value.strip())
    if not match:
        return None
    number = float(match.group(1).replace(",", ""))
    unit = match.group(2)
    return round(number * _UNITS[unit]) if unit else int(number)


# -- times -------------------------------------------------------------------------------


class TimeFormatError(ValueError):
    """A time string in none of the known formats (the post keeps ``created_raw``)."""


def from_unix(value: Any) -> datetime:
    """Unix seconds or milliseconds (int, float or digit string) → aware UTC datetime."""
    if isinstance(value, bool):
        raise TimeFormatError(f"not a unix time: {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int | float):
        raise TimeFormatError(f"not a unix time: {value!r}")
    seconds = value / 1000 if value > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TimeFormatError(f"unix time out of range: {value!r}") from None


def parse_rfc1123(value: str) -> datetime:
    """``"Sat, 01 Nov 2025 08:00:00 GMT"`` (RSS, HTTP dates) → UTC."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        raise TimeFormatError(f"not an RFC 1123 date: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# "Sat Nov 01 08:00:00 +0800 2025", matched by hand: strptime's %a/%b follow the process
# locale, and a zh_CN locale would make every such date fail.
_WEIBO_FULL = re.compile(
    r"^[A-Za-z]{3} ([A-Za-z]{3}) (\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_MINUTES_AGO = re.compile(r"^(\d+)\s*分钟前$")
_HOURS_AGO = re.compile(r"^(\d+)\s*小时前$")
_SECONDS_AGO = re.compile(r"^(\d+)\s*秒前$")
_DAY_CLOCK = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?$")
_FULL_DATE = re.compile(
    r"^(\d{4})[-/年](\d{1,2})[-/月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_DAY_OFFSET = {"今天": 0, "昨天": 1, "前天": 2}


def parse_weibo_time(value: str, *, now: datetime, tz: ZoneInfo = CHINA_TZ) -> datetime:
    """Every way m.weibo.cn writes ``created_at`` → UTC.

    ``"Sat Nov 01 08:00:00 +0800 2025"``, ``"刚刚"``, ``"30秒前"``, ``"5分钟前"``,
    ``"3小时前"``, ``"今天 08:00"``, ``"昨天 08:00"``, ``"11-01"`` (this year, or last year
    when that would be in the future), ``"2025-11-01"``. Wall-clock forms are Beijing time
    (``tz``); ``now`` is the time the page was fetched.
    """
    text = value.strip()
    local_now = now.astimezone(tz)
    match = _WEIBO_FULL.match(text)
    if match:
        return _full_weibo_time(match, text)
    if text == "刚刚":
        return now.astimezone(UTC)
    for pattern, unit in ((_SECONDS_AGO, 1), (_MINUTES_AGO, 60), (_HOURS_AGO, 3600)):
        match = pattern.match(text)
        if match:
            return (now - timedelta(seconds=int(match.group(1)) * unit)).astimezone(UTC)
    match = _DAY_CLOCK.match(text)
    if match:
        day = local_now.date() - timedelta(days=_DAY_OFFSET[match.group(1)])
        return _local(day, int(match.group(2)), int(match.group(3)), 0, tz)
    match = _MONTH_DAY.match(text)
    if match:
        month, day_of_month = int(match.group(1)), int(match.group(2))
        hour, minute = int(match.group(3) or 0), int(match.group(4) or 0)
        year = local_now.year
        when = _local(_date(year, month, day_of_month, text), hour, minute, 0, tz)
        if when > now.astimezone(UTC) + timedelta(days=1):
            when = _local(_date(year - 1, month, day_of_month, text), hour, minute, 0, tz)
        return when
    match = _FULL_DATE.match(text)
    if match:
        year, month, day_of_month = (int(match.group(i)) for i in (1, 2, 3))
        hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
        return _local(_date(year, month, day_of_month, text), hour, minute, second, tz)
    raise TimeFormatError(f"unknown Weibo time: {text[:40]!r}")


def _full_weibo_time(match: re.Match[str], text: str) -> datetime:
    month = _MONTHS.get(match.group(1).lower())
    if month is None:
        raise TimeFormatError(f"unknown month in Weibo time: {text[:40]!r}")
    day, hour, minute, second = (int(match.group(i)) for i in (2, 3, 4, 5))
    offset = timedelta(hours=int(match.group(7)), minutes=int(match.group(8)))
    zone = timezone(-offset if match.group(6) == "-" else offset)
    try:
        local = datetime(int(match.group(9)), month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise TimeFormatError(f"impossible Weibo time: {text[:40]!r}") from None
    return local.astimezone(UTC)


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise TimeFormatError(f"impossible date: {text[:40]!r}") from None


def _local(day: date, hour: int, minute: int, second: int, tz: ZoneInfo) -> datetime:
    try:
        local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)
    except ValueError:
        raise TimeFormatError(f"impossible time {hour}:{minute}") from None
    return local.astimezone(UTC)


# -- small field readers -----------------------------------------------------------------


def as_id(value: Any) -> str | None:
    """A platform id (int or non-empty string) as a string; anything else → ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def as_text(value: Any) -> str | None:
    """A string field, stripped; non-strings and blanks → ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def build_post(
    *,
    platform: str,
    post_id: str,
    text: str,
    source: str,
    max_text_chars: int,
    collected_at: datetime,
    author_id: str | None = None,
    author_name: str | None = None,
    author_bio: str | None = None,
    url: str | None = None,
    created_at: datetime | None = None,
    created_raw: str | None = None,
    counts: dict[str, int | None] | None = None,
) -> Post:
    """A :class:`Post` with the shared limits applied (text cut and flagged, bio capped,
    unknown counts dropped), so every adapter stores the same shape."""
    kept = {name: value for name, value in (counts or {}).items() if value is not None}
    return Post(
        platform=platform,
        post_id=post_id,
        text=text[:max_text_chars],
        source=source,
        author_id=author_id,
        author_name=author_name,
        author_bio=author_bio[:MAX_BIO_CHARS] if author_bio else None,
        url=url,
        created_at=created_at,
        created_raw=created_raw,
        collected_at=collected_at,
        truncated=len(text) > max_text_chars,
        counts=kept or None,
    )


def load_json(body: bytes | str | dict[str, Any] | list[Any]) -> Any:
    """A decoded body, or :class:`ShapeError` for HTML pages, truncated or empty bodies.
    Parsers accept either raw bytes (tests, benches) or an already decoded object."""
    if isinstance(body, dict | list):
        return body
    raw = body.encode() if isinstance(body, str) else body
    if not raw.strip():
        raise ShapeError("empty body")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        kind = "HTML" if raw.lstrip()[:1] == b"<" else "malformed JSON"
        raise ShapeError(f"{kind} where JSON was expected: {exc}", raw) from None


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]…`` or ``None`` when any step is missing or mistyped."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value
