"""The ``wechat`` source: official-account articles by URL, parsed from the article page.

WeChat has no public search or listing API, so investigators hand over article links
(``urls`` in the settings, or ``url_file``: one URL a line, appended to over time). Each
article page (``https://mp.weixin.qq.com/s/…`` or ``/s?__biz=…&mid=…&idx=…&sn=…``) is
fetched once, by its canonical URL (the reader's ``uin``/``key``/``pass_ticket`` and
share parameters are dropped: never sent, stored or logged), and parsed with the
standard library's HTML parser (never a regex over the whole page, never executed):

* title: ``#activity-name`` (or ``og:title``); text: ``#js_content`` (``<br>`` and block
  ends as newlines, scripts dropped);
* account: ``#js_name`` / ``var nickname``, its original id ``var user_name = "gh_…"``
  (the author id; ``__biz`` when absent), and the 功能介绍 line as the bio;
* time: ``var ct = "1700000000"`` (unix s), else ``var createTime = '2025-11-01 10:00'``
  (Beijing time);
* id: ``__biz:mid:idx`` from the page's own variables or the URL, else a hash of the URL.

Checkpoint: which URLs are done. The ``urls`` list is remembered as URL hashes; the
``url_file`` as the byte offset of the lines handed on (the file is tailed like the
``files`` source, and a shorter file is read again from the start). A deleted article
("该内容已被发布者删除") or a page without ``#js_content`` is a reject, done with; the
"环境异常" verification page is risk control and stops the run before that URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import httpx
import msgspec

from collectors.base import CollectorContext, Page
from collectors.http import HttpSourceSettings, RiskControlError, ShapeError, client_from, scrub
from collectors.parsing import (
    CHINA_TZ,
    TimeFormatError,
    build_post,
    from_unix,
    html_to_text,
    parse_weibo_time,
)
from collectors.registry import register
from pipeline.models import MAX_TEXT_CHARS, Post, Reject

DEFAULT_BASE_URL = "https://mp.weixin.qq.com"
ARTICLE_HOSTS = frozenset({"mp.weixin.qq.com"})
_DELETED_MARKS = ("该内容已被发布者删除", "此内容因违规无法查看", "此内容被投诉且经审核涉嫌侵权")
_DELETED_MARKS += ("该公众号已迁移", "此帐号已被屏蔽", "此帐号已自主注销")
_VERIFY_MARKS = ("环境异常", "完成验证后即可继续访问", "wappoc_appmsgcaptcha")
_VOID_TAGS = frozenset(
    {"br", "img", "hr", "input", "meta", "link", "source", "area", "base", "col", "embed", "wbr"}
)
_CAPTURE_IDS = frozenset({"activity-name", "js_name", "js_content", "js_author_name"})
_SCRIPT_VAR = re.compile(r"var\s+(\w+)\s*=\s*([^;\n]{0,400})")
_QUOTED = re.compile(r"""(["'])((?:\\.|(?!\1).){0,2000}?)\1""")
_MAX_URL_FILE_LINE = 4096
_ARTICLE_PARAMS = ("__biz", "mid", "idx", "sn")


class WechatSourceSettings(HttpSourceSettings, tag="wechat"):
    urls: list[str] = msgspec.field(default_factory=list)
    url_file: str | None = None
    page_size: int = 10


class ArticleGone(Exception):
    """The page says the article (or its account) was deleted or blocked."""


# -- parsing (pure) ----------------------------------------------------------------------


class _ArticleParser(HTMLParser):
    """Collects the text of a few elements by id, ``<meta>`` values, the 功能介绍 line and
    the inline scripts' ``var`` assignments. Depth is counted per capture, so unclosed
    or stray tags can only make a capture longer, never crash it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, list[str]] = {}
        self.meta: dict[str, str] = {}
        self.script_vars: dict[str, str] = {}
        self.profile_values: list[str] = []
        self._captures: list[tuple[str, int]] = []  # (id, depth)
        self._depth = 0
        self._in_script = False
        self._in_style = False
        self._profile_value: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key and key not in self.meta:
                self.meta[key] = values.get("content", "")
            return
        if tag == "script":
            self._in_script = True
        if tag == "style":
            self._in_style = True
        if tag in ("br", "p", "div", "section", "li") and self._captures:
            self._emit("\n")
        if tag in _VOID_TAGS:
            return
        self._depth += 1
        element_id = values.get("id", "")
        if element_id in _CAPTURE_IDS and element_id not in self.texts:
            self.texts[element_id] = []
            self._captures.append((element_id, self._depth))
        if "profile_meta_value" in values.get("class", "").split():
            self._profile_value = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag == "style":
            self._in_style = False
        if tag in _VOID_TAGS:
            return
        if tag in ("p", "div", "section", "li") and self._captures:
            self._emit("\n")
        if self._profile_value is not None and tag == "span":
            self.profile_values.append("".join(self._profile_value).strip())
            self._profile_value = None
        while self._captures and self._captures[-1][1] >= self._depth:
            self._captures.pop()
        self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._in_script:
            for name, value in _SCRIPT_VAR.findall(data):
                self.script_vars.setdefault(name, value)
            return
        if self._in_style:
            return
        self._emit(data)
        if self._profile_value is not None:
            self._profile_value.append(data)

    def _emit(self, text: str) -> None:
        for element_id, _ in self._captures:
            self.texts[element_id].append(text)

    def text(self, element_id: str) -> str:
        return html_to_text_plain("".join(self.texts.get(element_id, [])))

    def var(self, name: str) -> str | None:
        """The first non-empty string literal assigned to ``var name`` in a script."""
        expression = self.script_vars.get(name)
        if expression is None:
            return None
        for _, literal in _QUOTED.findall(expression):
            value = _js_unescape(literal).strip()
            if value:
                return value
        return None


def html_to_text_plain(text: str) -> str:
    """Tidy text already freed of tags (lines stripped, blank runs folded)."""
    return html_to_text(text.replace("&", "&amp;").replace("<", "&lt;"))


def _js_unescape(literal: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith(("x", "u")):
            point = int(code[1:], 16)
            return "\ufffd" if 0xD800 <= point <= 0xDFFF else chr(point)  # no lone surrogates
        return {"n": "\n", "t": "\t", "r": ""}.get(code, code)

    value = re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", replace, literal)
    return unescape(value)


def _article_id(page: _ArticleParser, url: str) -> str:
    query = httpx.URL(url).params if url else httpx.QueryParams()
    biz = page.var("biz") or query.get("__biz")
    mid = page.var("mid") or page.var("appmsgid") or query.get("mid")
    idx = page.var("idx") or query.get("idx") or "1"
    if biz and mid and mid.isdigit():
        return f"{biz}:{mid}:{idx}"
    return "url:" + hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:20]


def parse_article(
    body: bytes | str,
    url: str = "",
    *,
    source: str = "wechat",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> tuple[list[Post], str | None]:
    """One article page → one post (no next cursor). :class:`ArticleGone` for deleted
    articles, :class:`RiskControlError` for the verification page, :class:`ShapeError`
    for anything that is not an article page."""
    now = now or datetime.now(UTC)
    markup = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    page = _ArticleParser()
    try:
        page.feed(markup)
        page.close()
    except Exception as exc:  # html.parser is lenient; this is the last resort
        raise ShapeError(f"unparseable article page: {exc}", markup) from None
    content = page.text("js_content")
    if not content:
        if any(mark in markup for mark in _VERIFY_MARKS):
            raise RiskControlError("wechat verification page")
        if any(mark in markup for mark in _DELETED_MARKS):
            raise ArticleGone(next(m for m in _DELETED_MARKS if m in markup))
        raise ShapeError("no #js_content in the article page", markup)
    title = page.text("activity-name") or (page.meta.get("og:title") or "").strip()
    text = "\n".join(part for part in (title, content) if part)
    created_raw = page.var("ct")
    created_at: datetime | None = None
    if created_raw and created_raw.isdigit():
        created_at = from_unix(int(created_raw))
    else:
        created_raw = page.var("createTime") or page.var("publish_time")
        if created_raw:
            try:
                created_at = parse_weibo_time(created_raw, now=now, tz=CHINA_TZ)
            except TimeFormatError:
                created_at = None
    bio = _profile_bio(page)
    post = build_post(
        platform="wechat",
        post_id=_article_id(page, url),
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=page.var("user_name") or page.var("biz"),
        author_name=page.text("js_name") or page.var("nickname"),
        author_bio=bio,
        url=url or None,
        created_at=created_at,
        created_raw=created_raw,
    )
    return [post], None


def _profile_bio(page: _ArticleParser) -> str | None:
    # The profile card lists 微信号 then 功能介绍; the description is the longest value
    # that is not the gh_/WeChat id.
    values = [v for v in page.profile_values if v and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", v)]
    if values:
        return max(values, key=len)
    signature = page.var("profile_signature") or page.meta.get("description")
    return signature or None


def canonical_url(url: str) -> str | None:
    """The article URL without the reader's parameters (``uin``, ``key``, ``pass_ticket``,
    share tracking): ``/s/<id>`` or ``/s?__biz&mid&idx&sn``; ``None`` for anything that
    is not a mp.weixin.qq.com article."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or parsed.host not in ARTICLE_HOSTS:
        return None
    if parsed.path.startswith("/s/") and len(parsed.path) > 3:
        return f"https://{parsed.host}{parsed.path}"
    if parsed.path == "/s":
        kept = [(name, parsed.params.get(name)) for name in _ARTICLE_PARAMS]
        query = httpx.QueryParams([(name, value) for name, value in kept if value])
        if "__biz" in query and "mid" in query:
            return f"https://{parsed.host}/s?{query}"
    return None


def check_response(response: httpx.Response) -> None:
    if response.status_code in (403, 429):
        raise RiskControlError("wechat refused the request", response.status_code)
    if response.status_code >= 400:
        raise ShapeError(f"HTTP {response.status_code} from wechat", response.content)


# -- collector ---------------------------------------------------------------------------


class _Cursor(msgspec.Struct, omit_defaults=True):
    done: list[str] = msgspec.field(default_factory=list)  # hashes of list URLs done
    file_offset: int = 0


def _url_hash(url: str) -> str:
    key = canonical_url(url) or url.strip()
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]


class WechatCollector:
    def __init__(self, settings: WechatSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._client = client_from(context, settings, DEFAULT_BASE_URL)

    def _load(self, cursor: str | None) -> _Cursor:
        if not cursor:
            return _Cursor()
        try:
            return msgspec.json.decode(cursor, type=_Cursor)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return _Cursor()

    def _pending(self, state: _Cursor) -> list[tuple[str, int | None]]:
        """(url, file offset after it, or None for list URLs) still to fetch."""
        done = set(state.done)
        pending: list[tuple[str, int | None]] = [
            (url.strip(), None)
            for url in dict.fromkeys(self._settings.urls)
            if url.strip() and _url_hash(url) not in done
        ]
        if self._settings.url_file:
            path = Path(self._settings.url_file).expanduser()
            if path.is_file():
                data = path.read_bytes()
                offset = state.file_offset if state.file_offset <= len(data) else 0
                while offset < len(data):
                    end = data.find(b"\n", offset)
                    if end < 0:
                        break  # a line still being written
                    line = data[offset:end][:_MAX_URL_FILE_LINE].decode("utf-8", "replace")
                    offset = end + 1
                    if line.strip() and not line.lstrip().startswith("#"):
                        pending.append((line.strip(), offset))
                    elif pending and pending[-1][1] is not None:
                        pending[-1] = (pending[-1][0], offset)
        return pending

    async def _fetch_one(self, given: str) -> Post | Reject:
        url = canonical_url(given)
        if url is None:
            return self._reject(given, "not a mp.weixin.qq.com article URL")
        target = httpx.URL(url).raw_path.decode("ascii", "replace")
        response = await self._client.get(target)
        check_response(response)
        try:
            posts, _ = parse_article(
                response.content,
                url,
                source=self.name,
                now=datetime.now(UTC),
                max_text_chars=self._context.max_text_chars,
            )
        except ArticleGone as exc:
            return self._reject(url, f"article gone: {exc}")
        except ShapeError as exc:
            return self._reject(url, str(exc), exc.sample)
        return posts[0]

    def _reject(self, url: str, reason: str, sample: str = "") -> Reject:
        location = scrub(canonical_url(url) or url.split("?", 1)[0])[:300]
        return Reject(
            source=self.name, location=location, reason=reason, sample=sample, at=datetime.now(UTC)
        )

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = self._load(cursor)
        pending = self._pending(state)
        size = max(1, self._settings.page_size)
        for start in range(0, len(pending), size):
            page = Page(posts=[], rejects=[])
            for url, offset in pending[start : start + size]:
                try:
                    result = await self._fetch_one(url)
                except RiskControlError:
                    if page.posts or page.rejects:  # keep what this page already got
                        page.cursor = msgspec.json.encode(state).decode()
                        yield page
                    raise
                if isinstance(result, Post):
                    page.posts.append(result)
                else:
                    page.rejects.append(result)
                if offset is None:
                    state.done.append(_url_hash(url))
                else:
                    state.file_offset = offset
            page.cursor = msgspec.json.encode(state).decode()
            yield page

    async def aclose(self) -> None:
        await self._client.aclose()


register(WechatSourceSettings, WechatCollector)
