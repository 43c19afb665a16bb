"""Bilibili's public web signing (WBI), as the site's own JavaScript does it.

Search and space endpoints want ``wts`` (unix seconds) and ``w_rid`` in the query. The
algorithm is public (bilibili-API-collect, docs/misc/sign/wbi.md): take the file names of
``data.wbi_img.img_url`` and ``sub_url`` from ``/x/web-interface/nav`` (they rotate
daily), permute their concatenation with a fixed 64-entry table and keep 32 characters
(the mixin key); add ``wts``, sort the parameters by key, drop the characters ``!'()*``
from the values, percent-encode (spaces as ``%20``), and ``w_rid`` is the MD5 of that
query string followed by the mixin key. This is signing the browser does for every
visitor, not a login or a captcha; nothing here fights risk control.

The signed query is sent exactly as signed (the caller puts it in the URL), so httpx's
own encoding can never make the server's check differ from ours.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

MIXIN_KEY_ENC_TAB: tuple[int, ...] = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49,
    33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40,
    61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63, 57, 62, 11,
    36, 20, 34, 44, 52,
)  # fmt: skip
_FILTERED = str.maketrans("", "", "!'()*")


class WbiKeyError(ValueError):
    """The nav answer has no usable ``wbi_img`` keys."""


def key_from_url(url: str) -> str:
    """``https://i0.hdslb.com/bfs/wbi/7cd0…077c.png`` → ``7cd0…077c``."""
    name = url.rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


def mixin_key(img_key: str, sub_key: str) -> str:
    raw = img_key + sub_key
    if len(raw) < len(MIXIN_KEY_ENC_TAB):
        raise WbiKeyError(f"WBI keys too short ({len(raw)} characters, need 64)")
    return "".join(raw[index] for index in MIXIN_KEY_ENC_TAB)[:32]


def keys_from_nav(body: Any) -> tuple[str, str]:
    """``(img_key, sub_key)`` from a decoded ``/x/web-interface/nav`` answer. The nav
    answer carries the keys even for visitors (``code`` -101, "账号未登录")."""
    data = body.get("data") if isinstance(body, dict) else None
    wbi_img = data.get("wbi_img") if isinstance(data, dict) else None
    if not isinstance(wbi_img, dict):
        raise WbiKeyError("nav answer without data.wbi_img")
    img_url, sub_url = wbi_img.get("img_url"), wbi_img.get("sub_url")
    if not isinstance(img_url, str) or not isinstance(sub_url, str):
        raise WbiKeyError("nav answer without img_url / sub_url")
    img_key, sub_key = key_from_url(img_url), key_from_url(sub_url)
    mixin_key(img_key, sub_key)  # validates the length
    return img_key, sub_key


def signed_query(
    params: Mapping[str, Any], img_key: str, sub_key: str, *, wts: int | None = None
) -> str:
    """The query string to send: ``params`` plus ``wts``, sorted, filtered, encoded, and
    ``w_rid`` appended."""
    values = {str(name): str(value).translate(_FILTERED) for name, value in params.items()}
    values["wts"] = str(int(time.time()) if wts is None else wts)
    query = "&".join(
        f"{quote(name, safe='')}={quote(values[name], safe='')}" for name in sorted(values)
    )
    w_rid = hashlib.md5((query + mixin_key(img_key, sub_key)).encode(), usedforsecurity=False)
    return f"{query}&w_rid={w_rid.hexdigest()}"
