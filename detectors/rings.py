"""Link accounts that share a private contact into rings (union-find).

Why: one black-market shop runs dozens of throwaway accounts that all funnel to the same
WeChat id or phone. Taking down one account does nothing; showing investigators the ring
does. Contacts seen only in an exposure frame ("这个微信是骗子") never reach this module —
the detector drops them — so victims who name a scammer are not linked to the scammer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Set


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


def find_rings(contacts_by_account: Mapping[str, Set[str]]) -> dict[str, tuple[str, list[str]]]:
    """Map each account that shares a contact with another account to
    ``(ring id, contacts it shares)``; accounts sharing nothing are absent."""
    holders: dict[str, list[str]] = {}
    for account, contacts in contacts_by_account.items():
        for contact in contacts:
            holders.setdefault(contact, []).append(account)
    uf = _UnionFind()
    shared = {c: accts for c, accts in holders.items() if len(set(accts)) > 1}
    for accounts in shared.values():
        for other in accounts[1:]:
            uf.union(accounts[0], other)
    smallest: dict[str, str] = {}
    for contact in sorted(shared):
        root = uf.find(shared[contact][0])
        smallest.setdefault(root, contact)
    out: dict[str, tuple[str, list[str]]] = {}
    for contact, accounts in shared.items():
        for account in accounts:
            root = uf.find(account)
            rid, mine = out.get(account, (ring_id(smallest[root]), []))
            if contact not in mine:
                mine.append(contact)
            out[account] = (rid, mine)
    for _, mine in out.values():
        mine.sort()
    return out
