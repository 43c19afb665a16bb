"""Near-duplicate texts across accounts: one ad template posted by many throwaway accounts.

Why MinHash over character shingles: the shops rotate accounts but not their copy, and
they vary it just enough to dodge exact-match filters (a changed emoji, a different
separator, another contact). Character 3-grams of a folded view (width, case, punctuation,
spaces and emoji dropped) survive those edits, and Jaccard similarity of the shingle sets
measures how much copy two posts share. MinHash with LSH banding proposes candidate pairs
in near-linear time; every candidate is then checked with the exact Jaccard of its two
shingle sets, so the banding only decides speed, never the answer.

The fold here is deliberately local and simple (it needs no lexicon): near-duplicate
detection compares a text with another text, not with vocabulary, so aliases and
homophones need no folding as long as both copies use them.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_DROP = re.compile(r"[\W_]+")  # punctuation, spaces, emoji, separators, zero-width
_IDS = re.compile(r"[a-z0-9]{4,}")  # contacts, ids, numbers: what a shop changes per account


def fold(text: str) -> str:
    """Width, case and compatibility forms folded; everything but letters/digits/CJK gone,
    and so are runs of four or more ASCII letters/digits (the contact, which a shop
    changes from account to account while the copy stays)."""
    return _IDS.sub("", _DROP.sub("", unicodedata.normalize("NFKC", text).lower()))


def shingles(text: str, k: int = 3) -> frozenset[int]:
    """Hashed character k-grams of the folded text (crc32: stable across processes)."""
    return folded_shingles(fold(text), k)


def folded_shingles(f: str, k: int = 3) -> frozenset[int]:
    """:func:`shingles` of a text already folded. Folding is not idempotent (dropping an
    ASCII run can join two shorter ones into a new run of four), so a kept fold must be
    shingled as is, never folded again."""
    if len(f) < k:
        return frozenset()
    return frozenset(zlib.crc32(f[i : i + k].encode("utf-8")) for i in range(len(f) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    shingle: int = 3
    min_shingles: int = 12  # shorter texts ("日常", "谢谢") match everything
    threshold: float = 0.6  # exact Jaccard for two texts to share a template
    # 20 bands of 4 rows: a pair at J = 0.6 is a candidate with P ≈ 0.94, at J = 0.7 with
    # P ≈ 0.995, while unrelated ads (J ≈ 0.05 on the corpus) almost never are (P ≈ 1e-4),
    # so candidate checks stay near-linear in the number of posts
    bands: int = 20
    rows: int = 4
    seed: int = 20260601


class _MinHasher:
    """Multiply-shift hashing, ``(a·x + b) mod 2^64 >> 32``: uint64 arithmetic wraps,
    which is exactly the modulus this family needs, so no big-integer work per shingle."""

    def __init__(self, perms: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.integers(0, 1 << 63, size=perms, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 1 << 63, size=perms, dtype=np.uint64)

    def signature(self, hashes: frozenset[int]) -> np.ndarray:
        x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        with np.errstate(over="ignore"):
            mixed = (self.a[:, None] * x[None, :] + self.b[:, None]) >> np.uint64(32)
        return mixed.min(axis=1)


def template_groups(
    texts: Sequence[str], config: TemplateConfig | None = None, *, folded: bool = False
) -> list[list[int]]:
    """Groups (indices into ``texts``, each sorted, groups sorted) of texts that share a
    template: connected components of the "Jaccard ≥ threshold" graph. Texts with too
    few shingles, and texts with no near-duplicate, are in no group. ``folded``: the
    texts are :func:`fold` outputs already (what the live fold keeps)."""
    cfg = config or TemplateConfig()
    shingle = folded_shingles if folded else shingles
    sets = [shingle(t, cfg.shingle) for t in texts]
    # identical shingle sets (exact copies, copies that differ in contact or punctuation)
    # are one candidate: a thousand copies of one ad cost one signature, not a million pairs
    first: dict[frozenset[int], int] = {}
    parent: dict[int, int] = {}
    for i, s in enumerate(sets):
        if len(s) >= cfg.min_shingles:
            parent[i] = first.setdefault(s, i)
    hasher = _MinHasher(cfg.bands * cfg.rows, cfg.seed)
    buckets: dict[tuple[int, bytes], list[int]] = {}
    for i in first.values():
        sig = hasher.signature(sets[i])
        for band in range(cfg.bands):
            part = sig[band * cfg.rows : (band + 1) * cfg.rows].tobytes()
            buckets.setdefault((band, part), []).append(i)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if find(i) == find(j) or (i, j) in checked:
                    continue
                checked.add((i, j))
                if jaccard(sets[i], sets[j]) >= cfg.threshold:
                    ri, rj = find(i), find(j)
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(find(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)
