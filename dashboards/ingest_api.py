"""``POST /api/ingest``: vendors and existing crawlers push batches of posts.

Why its own module: it is the only write endpoint open to machines, so its rules sit
together and are easy to audit:

* a bearer token per ``ingest`` source, read from the source's ``token_env``; the token
  picks the source, and every configured token is compared in constant time
  (``hmac.compare_digest``) so timing tells nothing about which prefix matched;
* the body is read with a hard size limit (413 before parsing, never a 50 MB buffer),
  and at most ``max_batch_posts`` records per request;
* bad records are counted and reported per line (``line 3: missing `text```) while the
  good ones are accepted: one typo must not drop a vendor's whole batch;
* accepted posts go to the runner's queue through the ``ingest`` hook, the same path
  collected posts take (detect, aggregate, store);
* tokens never appear in logs or responses.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from collectors.http import env_secret
from collectors.ingest import BatchTooLarge, IngestSourceSettings, parse_batch
from dashboards.serialize import encode
from pipeline.models import MAX_TEXT_CHARS, Post, Reject

log = logging.getLogger("radar.ingest")

IngestHook = Callable[[str, list[Post], list[Reject]], Awaitable[None]]
MAX_REPORTED_ERRORS = 200


def _json(value: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        encode(value), status_code=status_code, media_type="application/json", headers=headers
    )


def _unauthorized() -> Response:
    return _json(
        {"error": "missing or invalid bearer token"},
        401,
        {"WWW-Authenticate": 'Bearer realm="radar-ingest"'},
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def match_source(
    token: str, sources: Sequence[IngestSourceSettings]
) -> IngestSourceSettings | None:
    """The source whose token this is; compares against every token, matched or not."""
    found = None
    given = token.encode()
    for source in sources:
        expected = env_secret(source.token_env)
        if not expected:
            continue
        if hmac.compare_digest(given, expected.encode()) and found is None:
            found = source
    return found


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` bytes (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_router(
    sources: Sequence[IngestSourceSettings],
    ingest: IngestHook,
    *,
    tz: ZoneInfo,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> APIRouter:
    router = APIRouter()
    sources = [source for source in sources if source.enabled]
    for source in sources:
        if not env_secret(source.token_env):
            log.warning(
                "ingest source %s: environment variable %s is not set; it cannot accept posts",
                source.name,
                source.token_env,
            )

    @router.post("/api/ingest")
    async def post_ingest(request: Request) -> Response:
        token = _bearer(request)
        source = match_source(token, sources) if token else None
        if source is None:
            return _unauthorized()
        body = await _read_limited(request, source.max_batch_bytes)
        if body is None:
            return _json({"error": f"body larger than {source.max_batch_bytes} bytes"}, 413)
        try:
            posts, rejects = parse_batch(
                body,
                content_type=request.headers.get("content-type", ""),
                source=source.name,
                platform=source.platform,
                tz=tz,
                max_text_chars=max_text_chars,
                max_posts=source.max_batch_posts,
            )
        except BatchTooLarge as exc:
            return _json({"error": str(exc)}, 413)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        try:
            await ingest(source.name, posts, rejects)
        except KeyError:
            return _json({"error": f"source {source.name!r} is not running"}, 503)
        errors = [{"location": r.location, "reason": r.reason} for r in rejects]
        return _json(
            {
                "source": source.name,
                "accepted": len(posts),
                "rejected": len(rejects),
                "errors": errors[:MAX_REPORTED_ERRORS],
            }
        )

    return router
