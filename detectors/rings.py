"""Link accounts that share a private contact into rings (union-find), with weak links.

Why: one black-market shop runs dozens of throwaway accounts that all funnel to the same
WeChat id or phone. Taking down one account does nothing; showing investigators the ring
does. Contacts seen only in an exposure frame ("这个微信是骗子") never reach this module —
the detector files them as evidence ``exposed_contact``, not as contacts — so victims who
name a scammer are not linked to the scammer; and :func:`detectors.accounts.linking_contacts`
passes on only bio contacts and the contacts of flagged posts.

The rule, in order:

1. **Strong links** — two accounts holding the same contact are one ring (union-find,
   transitive). Contacts are compared by :func:`link_key`, a skeleton of the canonical key
   that also folds look-alike characters (``O``/``0``, ``l``/``1``, Cyrillic ``а``), so
   ``qiao_bd52O6`` and ``qiao_bd5206`` link, and a number is one key whether it was
   written as a phone or as a WeChat id ("电话同微信").
2. A component with no eligible (flagged) account is no ring, when ``eligible`` is given.
3. **Weak links** (an @-mention of a ring member, a shared ad template) never merge two
   rings and never make a ring by themselves. They only attach an account that is in no
   ring, is eligible itself, and holds at least ``min_weak`` distinct weak links (kind,
   member) into exactly one ring. One pass over the strong rings only, so the outcome
   does not depend on input order and cannot chain.
4. A ring's id hashes its smallest shared canonical contact, so reruns and re-orderings
   agree, and attaching an account by weak links never renames a ring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import NamedTuple

# look-alikes folded only for linking; the canonical key (what investigators see) keeps them
_SKELETON = str.maketrans(
    {
        "o": "0",
        "l": "1",
        "i": "1",
        "z": "2",
        "s": "5",
        "а": "a",  # Cyrillic
        "о": "0",
        "ο": "0",
        "е": "e",
        "р": "p",
        "с": "c",
        "х": "x",
        "у": "y",
        "к": "k",
        "м": "m",
        "т": "t",
        "н": "h",
        "в": "b",
        "α": "a",
        "ε": "e",
        "ρ": "p",
        "τ": "t",
        "ν": "v",
        "κ": "k",
        "ι": "1",
    }
)


def link_key(canonical: str) -> str:
    """The key two contacts are compared by. ``kind:`` is dropped for digit-only values
    (a phone that is also the WeChat id is one contact) and kept for links."""
    kind, _, value = canonical.partition(":")
    if not value:
        kind, value = "", canonical
    folded = value.lower().translate(_SKELETON)
    if kind == "link":
        return "link:" + folded
    return folded


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        root = item
        while (parent := self.parent.setdefault(root, root)) != root:
            root = parent
        while item != root:  # path compression, iterative: rings can be long chains
            following = self.parent[item]
            self.parent[item] = root
            item = following
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def ring_id(contact: str) -> str:
    """Stable id named after a ring's smallest shared contact, so reruns agree."""
    return "ring-" + hashlib.sha256(contact.encode("utf-8")).hexdigest()[:10]


class Membership(NamedTuple):
    ring: str
    contacts: list[str]  # the canonical contacts it shares with the ring (sorted)
    weak: list[str]  # "kind:account" weak links that attached it (empty: strong member)


class WeakLink(NamedTuple):
    a: str
    b: str
    kind: str  # "mention" | "template"


class WeakGroup(NamedTuple):
    """A weak link between every two of ``members`` (the owners of one ad template),
    without spelling out the pairs: a template posted by 10,000 accounts is 50 million
    pairs, while only the pairs that touch a ring member can attach anyone."""

    kind: str
    members: Sequence[str]


def find_rings(
    contacts_by_account: Mapping[str, Set[str]],
    weak_links: Iterable[WeakLink] = (),
    eligible: Set[str] | None = None,
    min_weak: int = 2,
    weak_groups: Iterable[WeakGroup] = (),
) -> dict[str, Membership]:
    """Each account in a ring → its :class:`Membership`; accounts in no ring are absent.
    ``eligible`` (None: every account) are the accounts that may hold a ring together or
    be attached by weak links: in practice, the flagged ones. ``weak_groups`` are weak
    links too, one between every two members of a group."""
    holders: dict[str, set[str]] = {}
    for account, contacts in contacts_by_account.items():
        for contact in contacts:
            holders.setdefault(link_key(contact), set()).add(account)
    uf = _UnionFind()
    shared = {k: sorted(accts) for k, accts in holders.items() if len(accts) > 1}
    for accounts in shared.values():
        for other in accounts[1:]:
            uf.union(accounts[0], other)

    components: dict[str, set[str]] = {}
    for accounts in shared.values():
        for account in accounts:
            components.setdefault(uf.find(account), set()).add(account)
    if eligible is not None:
        components = {r: m for r, m in components.items() if m & eligible}

    out: dict[str, Membership] = {}
    for members in components.values():
        mine = {
            a: sorted(
                c
                for c in contacts_by_account[a]
                if link_key(c) in shared and len(holders[link_key(c)] & members) > 1
            )
            for a in members
        }
        rid = ring_id(min(c for cs in mine.values() for c in cs))
        for a in members:
            out[a] = Membership(rid, mine[a], [])

    attach: dict[str, dict[str, set[str]]] = {}

    def add(me: str, other: str, kind: str) -> None:
        if me in out or other not in out or me == other:
            return
        if eligible is not None and me not in eligible:
            return
        attach.setdefault(me, {}).setdefault(out[other].ring, set()).add(f"{kind}:{other}")

    for link in weak_links:
        add(link.a, link.b, link.kind)
        add(link.b, link.a, link.kind)
    for group in weak_groups:
        ringed = [m for m in group.members if m in out]
        if ringed:
            for me in group.members:
                for other in ringed:
                    add(me, other, group.kind)
    for account, by_ring in attach.items():
        if len(by_ring) == 1:
            ((rid, links),) = by_ring.items()
            if len(links) >= min_weak:
                out[account] = Membership(rid, [], sorted(links))
    return out
