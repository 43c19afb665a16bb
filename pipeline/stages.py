"""The pipeline's stages as plain functions and small classes with no I/O.

Both runners call exactly these: the in-process runner from asyncio tasks, the faust
workers from agents. That is what makes "same input, same verdicts" hold by construction.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

from detectors import Detector
from detectors.accounts import fold_post
from pipeline.models import AccountRisk, Post, ScoredPost


def score_posts(detector: Detector, posts: Sequence[Post]) -> list[ScoredPost]:
    """Batched: the detector's model scores a batch much faster than post by post."""
    verdicts = detector.detect_many([(post.text, post.author_bio) for post in posts])
    return [ScoredPost(post=post, verdict=v) for post, v in zip(posts, verdicts, strict=True)]


def fold_accounts(
    batch: Iterable[ScoredPost], states: Mapping[str, AccountRisk]
) -> dict[str, AccountRisk]:
    """New risk for every account touched by ``batch``; ``states`` holds the current ones."""
    updated: dict[str, AccountRisk] = {}
    for scored in batch:
        key = scored.post.account_key
        if key is None:
            continue
        current = updated.get(key) or states.get(key)
        updated[key] = fold_post(current, scored.post, scored.verdict)
    return updated


class Deduper:
    """Drops a post already seen in this process with the same text.

    Sources re-read their last page after a restart and platforms return overlapping
    pages; the store's upserts make repeats harmless, and this saves detecting them twice.
    Bounded, because a monitor runs for months.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[str, bytes] = OrderedDict()
        self._capacity = capacity

    def is_new(self, post: Post) -> bool:
        digest = hashlib.blake2b(post.text.encode(), digest_size=8).digest()
        key = post.key
        if self._seen.get(key) == digest:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = digest
        self._seen.move_to_end(key)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True
