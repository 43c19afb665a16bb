"""Weak links between accounts (a shared ad template, an @-mention): one rule for the scan
and the live ring job.

Why one module: ``radar scan --accounts`` sees every post text at once, the live ring job
(:mod:`pipeline.rings.job`) sees only what the folds kept in each stored account. Both
therefore start from the same compact inputs, extracted per post by the fold
(:func:`detectors.accounts.fold_post`):

- the **template fold** of an ad-like post (:func:`template_text`: the
  :func:`detectors.templates.fold` of its text, cut to a few hundred characters), with
  that post's score;
- the **mention snippets** of a post (:func:`mention_snippets`: the characters after each
  "@"), which a name prefix must match.

and link them with the same functions, so scan and live agree by construction. What the
links then do (attach an eligible account that holds two of them into exactly one ring)
is :func:`detectors.rings.find_rings`'s rule 3.

Pure functions, no I/O, no policy object: the caller passes the knobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from detectors.rings import WeakGroup, WeakLink
from detectors.templates import TemplateConfig, fold, template_groups


def template_text(text: str, max_chars: int, min_shingles: int, k: int = 3) -> str | None:
    """The kept form of an ad-like post: its template fold cut to ``max_chars`` (the head
    of an ad is its copy; a long tail adds bytes to every stored account, not evidence),
    or None when the fold is too short to ever match (fewer than ``min_shingles``
    distinct ``k``-grams, the rule :func:`template_groups` applies)."""
    folded = fold(text)[:max_chars]
    if len(folded) - k + 1 < min_shingles:
        return None
    if len({folded[i : i + k] for i in range(len(folded) - k + 1)}) < min_shingles:
        return None
    return folded


def mention_snippets(text: str, chars: int) -> set[str]:
    """The ``chars`` characters after each "@" of ``text`` (at least two: a name has two);
    a mention resolves against a prefix of its snippet (:func:`mention_links`)."""
    out: set[str] = set()
    start = text.find("@")
    while start != -1:
        snippet = text[start + 1 : start + 1 + chars]
        if len(snippet) >= 2:
            out.add(snippet)
        start = text.find("@", start + 1)
    return out


def shared_templates(
    templates: Mapping[str, Mapping[str, float]],
    config: TemplateConfig,
    post_threshold: float,
) -> list[list[str]]:
    """The counted templates: for each, its owners (account keys, sorted). ``templates``
    maps an account key to its kept template folds → post score. A template counts when
    at least two accounts post it and one of its posts scores at least ``post_threshold``
    (the copy is an ad, not just popular)."""
    owners_of: list[str] = []
    scores: list[float] = []
    texts: list[str] = []
    for key, kept in templates.items():
        for text, score in kept.items():
            owners_of.append(key)
            scores.append(score)
            texts.append(text)
    out: list[list[str]] = []
    for group in template_groups(texts, config, folded=True):
        owners = sorted({owners_of[i] for i in group})
        if len(owners) >= 2 and max(scores[i] for i in group) >= post_threshold:
            out.append(owners)
    return out


def template_links(shared: Iterable[Sequence[str]]) -> list[WeakGroup]:
    """A weak link between every two owners of a counted template, one group per template
    (for :func:`detectors.rings.find_rings`'s ``weak_groups``: the pairs are not spelled
    out, so a template posted by thousands of accounts costs thousands, not millions)."""
    return [WeakGroup("template", tuple(owners)) for owners in shared]


def template_peers(
    shared: Sequence[Sequence[str]], limit: int | None = 20
) -> dict[str, tuple[int, list[str]]]:
    """Each owner of a counted template → how many other accounts post one of its
    templates, and the first ``limit`` of them (sorted; None: all): what investigators see
    as "posts the same ad as". Linear in the owners for an account in one template (the
    usual case): a template posted by 10,000 accounts must not cost 10,000²."""
    groups_of: dict[str, list[int]] = {}
    for n, owners in enumerate(shared):
        for key in owners:
            groups_of.setdefault(key, []).append(n)
    out: dict[str, tuple[int, list[str]]] = {}
    for key, groups in sorted(groups_of.items()):
        if len(groups) == 1:
            owners = shared[groups[0]]
            count = len(owners) - 1
            head = owners if limit is None else owners[: limit + 1]
            out[key] = (count, [o for o in head if o != key][:limit])
        else:
            union = set().union(*(shared[n] for n in groups)) - {key}
            out[key] = (len(union), sorted(union)[:limit])
    return out


def _platform(key: str) -> str:
    return key.partition(":")[0]


def mention_links(
    names: Mapping[str, Iterable[str | None]], snippets: Mapping[str, Iterable[str]]
) -> list[WeakLink]:
    """``@name`` of another account on the same platform: ``names`` maps an account key
    to the names it is mentioned by (nickname, account id), ``snippets`` an account key to
    its :func:`mention_snippets`. The longest name that starts a snippet wins, and
    one-character names are ignored."""
    # only names that start some snippet can resolve: a job reads 100k accounts' names
    # for a few thousand snippets, so the names are filtered through the prefixes
    prefixes = {
        (_platform(me), snippet[:size])
        for me, mine in snippets.items()
        for snippet in mine
        for size in range(2, len(snippet) + 1)
    }
    by_name: dict[tuple[str, str], set[str]] = {}
    for key, found in names.items():
        platform = _platform(key)
        for name in found:
            if name and (platform, name) in prefixes:
                by_name.setdefault((platform, name), set()).add(key)
    longest = max((len(n) for _, n in by_name), default=0)
    links: set[WeakLink] = set()
    for me, mine in snippets.items():
        platform = _platform(me)
        for snippet in mine:
            for size in range(min(longest, len(snippet)), 1, -1):
                found = by_name.get((platform, snippet[:size]))
                if found:
                    links.update(WeakLink(me, other, "mention") for other in found if other != me)
                    break
    return sorted(links)
