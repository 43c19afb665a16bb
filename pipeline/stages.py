"""The pipeline's stages as plain functions and small classes with no I/O.

Both runners call exactly these: the in-process runner from asyncio tasks, the faust
workers from agents. That is what makes "same input, same verdicts" hold by construction.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

from detectors import Detector
from detectors.accounts import apply_fact, fold_post
from pipeline.models import AccountFact, AccountRisk, Post, ScoredPost


def score_posts(detector: Detector, posts: Sequence[Post]) -> list[ScoredPost]:
    """Batched: the detector's model scores a batch much faster than post by post."""
    verdicts = detector.detect_many([(post.text, post.author_bio) for post in posts])
    return [ScoredPost(post=post, verdict=v) for post, v in zip(posts, verdicts, strict=True)]


def fold_accounts(
    batch: Iterable[ScoredPost],
    states: Mapping[str, AccountRisk],
    facts: Iterable[AccountFact] = (),
) -> dict[str, AccountRisk]:
    """New risk for every account touched by ``batch`` or changed by ``facts`` (the ring
    job's, :class:`~pipeline.models.AccountFact`); ``states`` holds the current ones.

    Facts are applied after the posts: the fold recomputes the score from the account's
    post scores and its fact every time, so the order within a batch does not matter. A
    fact about an account with no state (never folded here, or its state was lost) is
    dropped: the next ring job run sends it again, since it compares with the store."""
    updated: dict[str, AccountRisk] = {}
    for scored in batch:
        key = scored.post.account_key
        if key is None:
            continue
        current = updated.get(key) or states.get(key)
        updated[key] = fold_post(current, scored.post, scored.verdict)
    for fact in facts:
        key = fact.account_key
        current = updated.get(key) or states.get(key)
        if current is not None and (after := apply_fact(current, fact)) is not current:
            updated[key] = after
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
