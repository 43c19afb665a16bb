"""Shared assertions and builders for detector tests."""

from datetime import UTC, datetime, timedelta

from pipeline.models import Contact, Post, Verdict

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def fold_item(n: int, score: float, contact: int, mention: bool) -> tuple[Post, Verdict]:
    """Post ``n`` of account weibo:a1 with a hand-set verdict (``score``, flagged at 0.5)
    naming WeChat shop ``contact``, and an @-mention when ``mention``: what the fold
    tests feed :func:`detectors.accounts.fold_post` without running the detector."""
    text = f"第{n}条 全额退保 不成功不收费 加微信 shop{contact:04d} 主页有联系方式"
    if mention:
        text += f" @同行{contact}"
    post = Post(
        platform="weibo",
        post_id=f"p{n}",
        text=text,
        author_id="a1",
        author_name=f"名字{n % 3}",
        created_at=T0 + timedelta(hours=n),
    )
    flagged = score >= 0.5
    shop = f"shop{contact:04d}"
    at = text.index(shop)
    verdict = Verdict(
        flagged=flagged,
        score=score,
        categories=["surrender"] if flagged else [],
        contacts=[
            Contact(
                kind="wechat", value=shop, start=at, end=at + len(shop), canonical=f"wechat:{shop}"
            )
        ],
        reasons=[f"帖子 {n} 的理由"],
    )
    return post, verdict


def assert_spans_index_original(text: str, verdict: Verdict) -> None:
    """Every evidence span and in-text contact is an exact slice of the original text."""
    for ev in verdict.evidence:
        assert 0 <= ev.start < ev.end <= len(text), ev
        assert text[ev.start : ev.end] == ev.text, ev
    for c in verdict.contacts:
        if not c.in_bio:
            assert text[c.start : c.end] == c.value, c
