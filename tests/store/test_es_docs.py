"""Post and account documents encoded by msgspec hold exactly what the dict documents held:
the same keys, the flat datetimes as ``iso`` wrote them, the nested ``post`` / ``verdict``
/ ``account`` as ``msgspec.to_builtins`` wrote them (the nested post's text left empty:
the flat ``text`` holds it), and ``search_text`` = ``fts.fold``. Hits read back both
these documents and those written with the text in the nested post too."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_factories import scored

from pipeline.models import AccountRisk, Contact, Evidence, Post, ScoredPost, Verdict
from pipeline.store import es_docs
from pipeline.store.es_mappings import fixed_mappings, iso, posts_mappings
from pipeline.store.fts import fold
from pipeline.store.rings import unsaved

BEIJING = timezone(timedelta(hours=8))
# Text a post can hold: emoji (astral, ZWJ sequences), full-width and enclosed forms NFKC
# folds, half-width katakana that compose (ｶﾞ → ガ), a combining accent, an astral
# compatibility letter (𝐀), line/paragraph separators, control characters, quotes and
# backslashes JSON must escape, Hangul, CJK compatibility ideographs.
ODD_TEXTS = [
    "加我ｖｘ：ＴＢ２０２５！全额退保①② 🙏👨‍👩‍👧",
    "ｶﾞｷﾞ e\u0301 𝐀𝐁 ﬁ ㈱ ℃ Ⅻ 豈",
    'quote " back \\ slash \u2028 sep \u2029 tab\t nl\n cr\r nul\x00 bell\x07',
    "한국어 テスト ﾃｽﾄ 々〇 ・",
    "",
    "plain ascii MiXeD",
]


def _post(text: str, created: datetime | None, collected: datetime | None) -> ScoredPost:
    post = Post(
        platform="weibo",
        post_id="p1",
        text=text,
        source="weibo-test",
        author_id="u1",
        author_name="名字🙂",
        url="https://weibo.example/p1",
        created_at=created,
        collected_at=collected,
        counts={"likes": 12000},
    )
    verdict = Verdict(
        flagged=True,
        score=0.875,
        categories=["debt", "surrender", "debt", ""],
        evidence=[
            Evidence(start=0, end=2, text="加我", feature="contact_hint", category="debt"),
            Evidence(start=2, end=4, text="ｖｘ", feature="contact_hint", weight=1.5),
        ],
        contacts=[
            Contact(kind="wechat", value="TB2025", start=5, end=11, canonical="wechat:tb2025"),
            Contact(kind="qq", value="12345", start=0, end=5),
            Contact(kind="wechat", value="tb2025", start=5, end=11, canonical="wechat:tb2025"),
        ],
        reasons=["why"],
        detector_version="t-1",
    )
    return ScoredPost(post=post, verdict=verdict)


def _decoded(doc: es_docs.PostDoc | es_docs.AccountDoc) -> dict[str, Any]:
    return msgspec.json.decode(es_docs.encode(doc))


def _assert_post_source(source: dict[str, Any], sp: ScoredPost, status: str) -> None:
    """What the dict ``post_doc`` wrote, field by field."""
    post, verdict = sp.post, sp.verdict
    assert set(source) == set(posts_mappings(False)["properties"])
    assert source["key"] == post.key and source["account_key"] == post.account_key
    for name in ("platform", "post_id", "author_id", "author_name", "source", "url", "text"):
        assert source[name] == getattr(post, name)
    assert source["search_text"] == fold(post.text)
    assert source["created_at"] == iso(post.created_at)
    assert source["collected_at"] == iso(post.collected_at)
    assert source["posted_at"] == iso(post.created_at or post.collected_at)
    assert source["flagged"] is True and source["score"] == 0.875
    assert source["categories"] == ["debt", "surrender"]
    assert source["features"] == ["contact_hint"]
    assert source["contacts"] == ["12345", "wechat:tb2025"]
    assert source["status"] == status and source["detector_version"] == "t-1"
    assert source["post"] == {**msgspec.to_builtins(post), "text": ""}
    assert source["verdict"] == msgspec.to_builtins(verdict)


@pytest.mark.parametrize("text", ODD_TEXTS)
@pytest.mark.parametrize(
    ("created", "collected"),
    [
        (datetime(2025, 3, 1, 12, 0, 0), datetime(2025, 3, 2)),  # naive = UTC
        (datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)),
        (datetime(2025, 3, 1, 7, 30, 5, 7, tzinfo=BEIJING), None),  # → 2025-02-28T23:30:05Z
        (None, datetime(2025, 3, 2, 1, 2, 3, tzinfo=BEIJING)),
        (None, None),
    ],
)
def test_post_source_is_what_the_dict_document_held(
    text: str, created: datetime | None, collected: datetime | None
) -> None:
    sp = _post(text, created, collected)
    source = _decoded(es_docs.post_doc(sp, "confirmed"))
    _assert_post_source(source, sp, "confirmed")
    hit = es_docs.hit_from_source(source)
    assert hit.post == sp.post and hit.verdict == sp.verdict and hit.status == "confirmed"
    # Only what a search asks for (HIT_SOURCE) is enough to rebuild the hit.
    trimmed = {k: v for k, v in source.items() if k in es_docs.HIT_SOURCE}
    assert es_docs.hit_from_source(trimmed).post == sp.post


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_documents_with_the_text_in_the_nested_post_still_read(text: str) -> None:
    """Documents written before the nested copy dropped its text: the nested text wins."""
    sp = _post(text, datetime(2025, 3, 1, tzinfo=UTC), None)
    source = _decoded(es_docs.post_doc(sp, "new"))
    source["post"] = msgspec.to_builtins(sp.post)
    source["text"] = "the flat copy, not read" if text else ""
    hit = es_docs.hit_from_source(source, ["全额"])
    assert hit.post == sp.post
    assert [t for t, mark in hit.highlight if mark == "q"] == (["全额"] if "全额" in text else [])


def test_a_post_document_holds_its_text_once_besides_search_text() -> None:
    text = "全额退保，加微信 tb2025 详聊" * 20
    encoded = es_docs.encode(es_docs.post_doc(scored("p1", text), "new"))
    assert encoded.count(text.encode()) == 1


def test_a_lone_surrogate_is_written_as_the_stdlib_serializer_wrote_it() -> None:
    """msgspec refuses lone surrogates (possible in text decoded by the stdlib); the
    document then takes the client serializer's stdlib path instead of failing."""
    sp = _post("a\udc80b 全额退保", datetime(2025, 3, 1, tzinfo=UTC), None)
    encoded = es_docs.encode(es_docs.post_doc(sp, "new"))
    assert b"a\xed\xb2\x80b" in encoded  # surrogatepass, as JsonSerializer.dumps
    source = json.loads(encoded.decode("utf-8", "surrogatepass"))
    assert source["text"] == sp.post.text and source["post"]["text"] == ""


def test_post_source_literal() -> None:
    """One document spelled out, so that a renamed key or a changed format shows."""
    sp = scored("p9", "全额退保", created=datetime(2025, 3, 1, 12, tzinfo=BEIJING))
    sp = ScoredPost(post=msgspec.structs.replace(sp.post, created_raw=None), verdict=sp.verdict)
    expected = (
        '{"key":"weibo:p9","platform":"weibo","post_id":"p9","account_key":"weibo:u1",'
        '"author_id":"u1","author_name":"name-u1","source":"weibo-test",'
        '"url":"https://weibo.example/p9","text":"全额退保","search_text":"全额退保",'
        '"created_at":"2025-03-01T04:00:00Z","collected_at":"2025-03-31T00:00:00Z",'
        '"posted_at":"2025-03-01T04:00:00Z","flagged":true,"score":0.9,'
        '"categories":["surrender"],"features":[],"contacts":[],"status":"new",'
        '"detector_version":"test-1","post":{"platform":"weibo","post_id":"p9",'
        '"text":"","source":"weibo-test","author_id":"u1","author_name":"name-u1",'
        '"url":"https://weibo.example/p9","created_at":"2025-03-01T12:00:00+08:00",'
        '"collected_at":"2025-03-31T00:00:00Z"},"verdict":{"flagged":true,"score":0.9,'
        '"categories":["surrender"],"reasons":["test reason for p9"],'
        '"detector_version":"test-1"}}'
    )
    assert es_docs.encode(es_docs.post_doc(sp, "new")) == expected.encode()


def test_post_without_author_and_empty_verdict() -> None:
    post = Post(platform="zhihu", post_id="z", text="ｘ")
    sp = ScoredPost(post=post, verdict=Verdict(flagged=False, score=0))
    source = _decoded(es_docs.post_doc(sp, "new"))
    assert source["account_key"] is None and source["author_name"] is None
    assert source["created_at"] is None and source["posted_at"] is None
    assert source["categories"] == source["features"] == source["contacts"] == []
    assert source["score"] == 0.0 and isinstance(source["score"], float)
    assert source["search_text"] == "x"
    assert source["post"] == {"platform": "zhihu", "post_id": "z", "text": ""}
    assert es_docs.hit_from_source(source).post == post
    assert source["verdict"] == {"flagged": False, "score": 0}


@pytest.mark.parametrize(
    "last_seen", [None, datetime(2025, 3, 1), datetime(2025, 3, 1, tzinfo=BEIJING)]
)
def test_account_source_is_what_the_dict_document_held(last_seen: datetime | None) -> None:
    account = AccountRisk(
        platform="douyin",
        account_id="a1",
        nickname="昵称🙂",
        score=2,  # an int where a float belongs: the flat copy is a float all the same
        flagged=True,
        categories=["debt", "", "debt", "credit"],
        contacts=["wechat:b", "", "wechat:a", "wechat:b"],
        post_scores={"douyin:1": 0.5, "douyin:2": 0.9},
        templates={"douyin:2": "全额退保不成功不收费", "douyin:9": "已经不在postscores里"},
        mentions=["退保小王 推荐"],
        ring="ring-1",
        ring_weak=["mention:douyin:x"],
        template_peers=["douyin:b"],
        first_seen=datetime(2025, 1, 1, tzinfo=UTC),
        last_seen=last_seen,
    )
    source = _decoded(es_docs.account_doc(account))
    assert set(source) == set(fixed_mappings("accounts")["properties"])
    assert source == {
        "key": "douyin:a1",
        "platform": "douyin",
        "account_id": "a1",
        "nickname": "昵称🙂",
        "score": 2.0,
        "flagged": True,
        "categories": ["debt", "credit"],
        "contacts": ["wechat:a", "wechat:b"],
        "ring": None,  # the rings index holds it; a copy here would go stale
        "last_seen": iso(last_seen),
        "weak_inputs": ["template", "mention"],
        "template_scores": {"douyin:2": 0.9},
        "account": msgspec.to_builtins(unsaved(account)),
    }
    assert isinstance(source["score"], float)
    assert es_docs.account_from_source(source) == unsaved(account)
    assert unsaved(account).ring_weak == unsaved(account).template_peers == []


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_fold_is_nfkc_then_lower(text: str) -> None:
    assert fold(text) == unicodedata.normalize("NFKC", text).lower()


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_fold_is_nfkc_then_lower_on_any_text(text: str) -> None:
    assert fold(text) == unicodedata.normalize("NFKC", text).lower()


# Characters NFKC changes or composes, mixed with CJK: the map, the fallback and both.
_NFKC_HEAVY = (
    "".join(chr(c) for c in range(0x3000, 0x3100) if not unicodedata.is_normalized("NFKC", chr(c)))
    + "ｶﾞﾟｷﾞe\u0301\u0308\u0323ﬁ𝐀①ＡＢ！，：退保全额 \u3000\u00a0"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_NFKC_HEAVY, max_size=40))
def test_fold_is_nfkc_then_lower_on_text_nfkc_changes(text: str) -> None:
    assert fold(text) == unicodedata.normalize("NFKC", text).lower()
