"""``radar search``: the dashboard's answers, in a terminal (``radar sources`` lives in
:mod:`pipeline.sources_cli`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from dashboards.params import ParamError, parse_search_params
from dashboards.serialize import encode, search_json
from pipeline.config import ConfigError, Settings
from pipeline.models import CATEGORY_LABELS_ZH, REVIEW_LABELS_ZH, SearchHit
from pipeline.store.factory import open_store, store_missing

_MARK_ON = "\x1b[1;31m"
_QUERY_ON = "\x1b[1;7m"
_OFF = "\x1b[0m"


def _render_text(hit: SearchHit, color: bool) -> str:
    if not hit.highlight:
        return hit.post.text
    parts = []
    for text, mark in hit.highlight:
        if not color or not mark:
            parts.append(f"[{text}]" if mark and not color else text)
        else:
            parts.append(f"{_QUERY_ON if mark == 'q' else _MARK_ON}{text}{_OFF}")
    return "".join(parts)


def _format_hit(hit: SearchHit, settings: Settings, color: bool) -> str:
    post, verdict = hit.post, hit.verdict
    when = (
        post.created_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        if (post.created_at)
        else "-"
    )
    cats = "/".join(CATEGORY_LABELS_ZH.get(c, c) for c in verdict.categories) or "-"
    head = (
        f"{verdict.score:.2f}  {post.platform}  {post.author_name or post.author_id or '-'}  "
        f"{when}  {cats}  [{REVIEW_LABELS_ZH.get(hit.status, hit.status)}]  {post.key}"
    )
    lines = [head, "  " + _render_text(hit, color).replace("\n", "\n  ")]
    contacts = ", ".join(f"{c.kind}:{c.value}" for c in verdict.contacts)
    if contacts:
        lines.append(f"  联系方式: {contacts}")
    if verdict.reasons:
        lines.append(f"  理由: {'; '.join(verdict.reasons)}")
    if post.url:
        lines.append(f"  {post.url}")
    return "\n".join(lines)


async def run_search(settings: Settings, params: Mapping[str, str], *, as_json: bool) -> int:
    try:
        query = parse_search_params(params)
    except ParamError as exc:
        raise ConfigError(f"--{exc.param.replace('_', '-')}: {exc.message}") from None
    if missing := store_missing(settings):
        raise ConfigError(missing)
    store = open_store(settings)
    await store.open()
    try:
        result = await store.search(query)
    finally:
        await store.close()
    if as_json:
        sys.stdout.buffer.write(encode(search_json(result)) + b"\n")
        return 0
    color = sys.stdout.isatty()
    for hit in result.results:
        print(_format_hit(hit, settings, color))
        print()
    facets = "  ".join(
        f"{CATEGORY_LABELS_ZH.get(k, k)} {v}" for k, v in result.facets.get("category", {}).items()
    )
    shown = len(result.results)
    print(f"共 {result.total} 条 (显示 {shown}, 第 {query.page} 页)  {facets}")
    return 0
