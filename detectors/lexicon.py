"""Load the reviewable lexicon (``detectors/lexicon/*.toml``) into typed, immutable config.

Why data files: the people who know which phrases sell "全额退保" are compliance analysts,
not programmers. They edit TOML; this module only checks its shape and hashes it, so
every verdict can say which lexicon produced it (``Detector.version``).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_DIR = Path(__file__).parent / "lexicon"
FILES = ("categories.toml", "features.toml", "aliases.toml", "contacts.toml", "scoring.toml")
# optional files: a lexicon directory without them still loads (no pinyin view, no
# homoglyph folding), so older or trimmed lexicons keep working
OPTIONAL_FILES = ("pinyin.toml", "homoglyphs.toml", "lookalikes.toml")
SCHEME_FEATURE = "scheme_term"
CONTEXT_FEATURE = "domain_term"


class LexiconError(ValueError):
    """The lexicon files are missing or malformed (raised at construction, never later)."""


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    label_zh: str
    weight: float
    terms: tuple[str, ...]
    term_weights: dict[str, float] = field(default_factory=dict)
    context: tuple[str, ...] = ()

    def weight_of(self, term: str) -> float:
        return self.term_weights.get(term, self.weight)


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    label_zh: str
    polarity: Literal["positive", "negative"]
    weight: float
    cap: float
    terms: tuple[str, ...]
    term_weights: dict[str, float] = field(default_factory=dict)
    category: str | None = None

    def weight_of(self, term: str) -> float:
        return self.term_weights.get(term, self.weight)


@dataclass(frozen=True, slots=True)
class ContextualAlias:
    source: str
    target: str
    requires_any: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContactConfig:
    wechat_cues: tuple[str, ...]
    wechat_spaced_cues: tuple[str, ...]
    qq_cues: tuple[str, ...]
    qq_spaced_cues: tuple[str, ...]
    bio_bare_ids: bool
    spelled_digits: dict[str, str]
    short_hosts: tuple[str, ...]
    official_domains: tuple[str, ...]
    official_numbers: tuple[str, ...]
    official_patterns: tuple[str, ...]
    text_underscore_ids: bool = False


@dataclass(frozen=True, slots=True)
class Lexicon:
    categories: dict[str, Category]
    families: dict[str, Family]
    char_map: dict[str, str]
    aliases: dict[str, str]
    contextual: tuple[ContextualAlias, ...]
    contacts: ContactConfig
    scoring: dict[str, Any]
    version: str
    pinyin: PinyinConfig = field(default_factory=lambda: PinyinConfig())
    homoglyphs: dict[str, str] = field(default_factory=dict)
    lookalikes: tuple[str, ...] = ()  # phrases whose inner selling words do not count
    directory: Path = DEFAULT_DIR


@dataclass(frozen=True, slots=True)
class PinyinConfig:
    """Which words get a pinyin view (``pinyin.toml``); see :mod:`detectors.pinyin`."""

    full: tuple[str, ...] = ()  # words also matched written in full pinyin ("tui bao")
    homophones: tuple[str, ...] = ()  # words also matched with one character a homophone
    exclude: tuple[str, ...] = ()  # generated variants that are ordinary words ("私心")


def lexicon_files(directory: Path | None = None) -> list[Path]:
    """Every file the lexicon is read from (for reload-on-change watchers)."""
    directory = directory or DEFAULT_DIR
    return [directory / n for n in (*FILES, *OPTIONAL_FILES)]


def _read(directory: Path, name: str) -> tuple[dict[str, Any], bytes]:
    path = directory / name
    try:
        raw = path.read_bytes()
        return tomllib.loads(raw.decode("utf-8")), raw
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon file missing: {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: {exc}") from exc


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise LexiconError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _categories(data: dict[str, Any]) -> dict[str, Category]:
    out = {}
    for name, body in data.items():
        out[name] = Category(
            name=name,
            label_zh=str(body.get("label_zh", name)),
            weight=float(body.get("weight", 1.0)),
            terms=_strs(body.get("terms"), f"categories.{name}.terms"),
            term_weights={str(k): float(v) for k, v in body.get("weights", {}).items()},
            context=_strs(body.get("context", []), f"categories.{name}.context"),
        )
    return out


def _families(data: dict[str, Any]) -> dict[str, Family]:
    out = {}
    for name, body in data.items():
        polarity = body.get("polarity")
        if polarity not in ("positive", "negative"):
            raise LexiconError(f"features.{name}.polarity must be positive or negative")
        weights = {str(k): float(v) for k, v in body.get("weights", {}).items()}
        out[name] = Family(
            name=name,
            label_zh=str(body.get("label_zh", name)),
            polarity=polarity,
            weight=float(body["weight"]),
            cap=float(body.get("cap", abs(float(body["weight"])))),
            terms=_strs(body.get("terms"), f"features.{name}.terms"),
            term_weights=weights,
            category=body.get("category"),
        )
    return out


def _contacts(data: dict[str, Any]) -> ContactConfig:
    try:
        return ContactConfig(
            wechat_cues=_strs(data["wechat"]["cues"], "contacts.wechat.cues"),
            wechat_spaced_cues=_strs(data["wechat"]["spaced_cues"], "wechat.spaced_cues"),
            qq_cues=_strs(data["qq"]["cues"], "contacts.qq.cues"),
            qq_spaced_cues=_strs(data["qq"]["spaced_cues"], "contacts.qq.spaced_cues"),
            bio_bare_ids=bool(data.get("bio", {}).get("bare_ids", False)),
            spelled_digits={str(k): str(v) for k, v in data["phone"]["spelled_digits"].items()},
            short_hosts=_strs(data["links"]["short_hosts"], "contacts.links.short_hosts"),
            official_domains=_strs(data["links"]["official_domains"], "official_domains"),
            official_numbers=_strs(data["official"]["numbers"], "contacts.official.numbers"),
            official_patterns=_strs(data["official"]["patterns"], "official.patterns"),
            text_underscore_ids=bool(data.get("text", {}).get("bare_underscore_ids", False)),
        )
    except KeyError as exc:
        raise LexiconError(f"contacts.toml: missing {exc}") from exc


def load_lexicon(directory: Path | None = None) -> Lexicon:
    """Read and check every lexicon file; the version hashes their exact bytes."""
    directory = directory or DEFAULT_DIR
    parsed: dict[str, dict[str, Any]] = {}
    digest = hashlib.sha256()
    for name in FILES:
        data, raw = _read(directory, name)
        parsed[name] = data
        digest.update(name.encode() + b"\0" + raw + b"\0")
    for name in OPTIONAL_FILES:
        if (directory / name).exists():
            data, raw = _read(directory, name)
            parsed[name] = data
            digest.update(name.encode() + b"\0" + raw + b"\0")
    pinyin_doc = parsed.get("pinyin.toml", {})
    pinyin = PinyinConfig(
        full=_strs(pinyin_doc.get("full", []), "pinyin.full"),
        homophones=_strs(pinyin_doc.get("homophones", []), "pinyin.homophones"),
        exclude=_strs(pinyin_doc.get("exclude", []), "pinyin.exclude"),
    )
    glyphs = parsed.get("homoglyphs.toml", {}).get("homoglyphs", {})
    aliases_doc = parsed["aliases.toml"]
    contextual = tuple(
        ContextualAlias(
            source=str(src),
            target=str(body["to"]),
            requires_any=_strs(body["requires_any"], f"aliases.contextual.{src}"),
        )
        for src, body in aliases_doc.get("contextual", {}).items()
    )
    return Lexicon(
        categories=_categories(parsed["categories.toml"]),
        families=_families(parsed["features.toml"]),
        char_map={str(k): str(v) for k, v in aliases_doc.get("char_map", {}).items()},
        aliases={str(k): str(v) for k, v in aliases_doc.get("aliases", {}).items()},
        contextual=contextual,
        contacts=_contacts(parsed["contacts.toml"]),
        scoring=parsed["scoring.toml"],
        version="lexicon-" + digest.hexdigest()[:10],
        pinyin=pinyin,
        homoglyphs={str(k): str(v) for k, v in glyphs.items() if len(k) == len(v) == 1},
        lookalikes=_strs(parsed.get("lookalikes.toml", {}).get("phrases", []), "lookalikes"),
        directory=directory,
    )
