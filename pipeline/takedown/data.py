"""The takedown data file (``takedown.toml``): profile links, labels and columns.

Loaded once through :mod:`importlib.resources` so it ships inside the wheel; analysts
edit the file, not the code.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from urllib.parse import quote

import msgspec


class Column(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    field: str
    header: str
    width: int = 16


class TakedownData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    profile_urls: dict[str, str]
    contact_labels: dict[str, str]
    platform_labels: dict[str, str]
    columns: list[Column]


@functools.cache
def takedown_data() -> TakedownData:
    raw = resources.files("pipeline.takedown").joinpath("takedown.toml").read_text("utf-8")
    return msgspec.convert(tomllib.loads(raw), TakedownData)


def profile_url(platform: str, account_id: str) -> str | None:
    """The account's profile page, or None for a platform without a known pattern."""
    pattern = takedown_data().profile_urls.get(platform)
    if pattern is None or not account_id:
        return None
    return pattern.replace("{id}", quote(account_id, safe=""))


def platform_label(platform: str) -> str:
    return takedown_data().platform_labels.get(platform, platform)


def contact_text(canonical: str) -> str:
    """``wechat:tb2025`` → ``微信 tb2025`` (an unknown kind is shown as it is)."""
    kind, sep, value = canonical.partition(":")
    label = takedown_data().contact_labels.get(kind)
    return f"{label} {value}" if sep and label else canonical
