"""Source kinds by name: the settings type and the factory of each ``kind``.

Adding a platform is adding a module that calls :func:`register`; the settings loader asks
this registry for the tagged union of all settings types, so ``radar.toml`` is validated
per kind without the config module knowing any kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from collectors.base import Collector, CollectorContext, SourceSettings

BUILTIN_MODULES = (
    "collectors.files",
    "collectors.sample",
    "collectors.rsshub",
    "collectors.jsonapi",
    "collectors.ingest",
    "collectors.bilibili",
    "collectors.weibo",
    "collectors.zhihu",
    "collectors.wechat",
)


@dataclass(frozen=True)
class SourceKind:
    kind: str
    settings_type: type[SourceSettings]
    factory: Callable[[Any, CollectorContext], Collector]


_KINDS: dict[str, SourceKind] = {}


def register(
    settings_type: type[SourceSettings], factory: Callable[[Any, CollectorContext], Collector]
) -> None:
    kind = settings_type.__struct_config__.tag
    if not isinstance(kind, str):
        raise TypeError(f"{settings_type.__name__} needs a string tag (the kind)")
    _KINDS[kind] = SourceKind(kind, settings_type, factory)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a module that exists but fails to import is a bug
                raise


def known_source_kinds() -> list[str]:
    _load_builtins()
    return sorted(_KINDS)


def source_settings_union() -> Any:
    _load_builtins()
    types = tuple(kind.settings_type for kind in _KINDS.values())
    return Union[types]  # noqa: UP007 - built at run time from the registry


def build_collector(settings: SourceSettings, context: CollectorContext) -> Collector:
    _load_builtins()
    kind = settings.__struct_config__.tag
    return _KINDS[kind].factory(settings, context)
