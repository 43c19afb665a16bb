"""Near-duplicate texts: one ad template posted by several accounts is found through
separators, emoji, width and changed contacts; it raises every account posting it and
weakly links them (a weak link alone makes no ring)."""

import random
from types import SimpleNamespace

from detectors.accounts import score_accounts
from detectors.templates import fold, jaccard, shingles, template_groups
from pipeline.models import Contact, Verdict

TEMPLATE = "姐妹们，交了五年的保单也能把已交保费一分不少拿回来，前期零费用，成功后再收服务费"
COPIES = [
    TEMPLATE + "，加V tuibao_1111",
    "姐 妹 们，交了五年的保单也能把已交保费一分不少拿回来🔥前期零费用，成功后再收服务费！薇 qb2222",
    "ＨＩ姐妹们，交了五年的保单也能把已交保费一分不少拿回来，前期零费用，"
    "成功后再收服务费～扣 33334444",
]
OTHERS = [
    "今天去公园散步，天气很好，晚上和朋友一起吃了火锅，很开心",
    "银保监会提醒：警惕代理退保骗局，退保请通过保险公司官方渠道办理",
    "日常",
]


def test_fold_drops_width_case_punctuation_emoji_and_ids():
    assert fold("ＶＸ：ｔｂ１２３４５ 全.额🔥退\u200b保！") == "全额退保"
    assert fold("加V tuibao_1111 谢谢, OK") == "加谢谢ok"


def test_copies_of_one_template_are_grouped_and_nothing_else():
    texts = COPIES + OTHERS
    assert template_groups(texts) == [[0, 1, 2]]
    assert min(jaccard(shingles(a), shingles(b)) for a in COPIES for b in COPIES) >= 0.6


def test_grouping_does_not_depend_on_order():
    texts = COPIES + OTHERS + [t + "。" for t in OTHERS[:2]]
    order = list(range(len(texts)))
    random.Random(3).shuffle(order)
    shuffled = [texts[i] for i in order]
    got = {frozenset(shuffled[i] for i in g) for g in template_groups(shuffled)}
    want = {frozenset(texts[i] for i in g) for g in template_groups(texts)}
    assert got == want and len(want) == 3


def test_short_texts_never_match():
    assert template_groups(["日常", "日常", "谢谢", "谢谢"]) == []


class StubDetector:
    """Verdicts by text, so account arithmetic is tested apart from post scoring."""

    def __init__(self, scores: dict[str, tuple[float, list[str]]]) -> None:
        self.scores = scores
        self.lexicon = SimpleNamespace(scoring={"threshold": 0.5, "account": {}})

    def detect_many(self, posts):
        out = []
        for text, _bio in posts:
            score, contacts = self.scores.get(text, (0.01, []))
            out.append(
                Verdict(
                    flagged=score >= 0.5,
                    score=score,
                    categories=["surrender"] if score >= 0.3 else [],
                    contacts=[
                        Contact(kind="wechat", value=c, start=0, end=1, canonical=f"wechat:{c}")
                        for c in contacts
                    ],
                )
            )
        return out

    def bio_contacts(self, bio):
        return []


def account(aid, posts):
    return {
        "account_id": aid,
        "platform": "douyin",
        "nickname": aid,
        "posts": [{"id": f"{aid}-{i}", "text": t} for i, t in enumerate(posts)],
    }


def test_template_reuse_raises_each_account_but_makes_no_ring_alone():
    det = StubDetector({COPIES[0]: (0.95, ["a1"]), COPIES[1]: (0.45, []), COPIES[2]: (0.4, [])})
    out = score_accounts(
        [account("a", [COPIES[0]]), account("b", [COPIES[1]]), account("c", [COPIES[2]])], det
    )
    assert [o["score"] for o in out] == [1.0, 0.6, 0.55]
    assert all(any("相同的广告模板" in r for r in o["reasons"]) for o in out)
    assert [o["ring"] for o in out] == [None, None, None]


def test_a_template_nobody_flags_is_no_signal():
    det = StubDetector({c: (0.4, []) for c in COPIES})
    out = score_accounts([account(x, [c]) for x, c in zip("abc", COPIES, strict=True)], det)
    assert [o["score"] for o in out] == [0.4, 0.4, 0.4]
    assert not any(o["flagged"] for o in out)


def test_a_flagged_account_sharing_the_template_with_two_ring_members_joins_the_ring():
    det = StubDetector(
        {
            COPIES[0]: (0.95, ["shop"]),
            COPIES[1]: (0.9, ["shop"]),
            COPIES[2]: (0.9, ["other"]),
            OTHERS[0]: (0.9, ["third"]),
        }
    )
    out = score_accounts(
        [
            account("a1", [COPIES[0]]),
            account("a2", [COPIES[1]]),
            account("s", [COPIES[2]]),
            account("t", [OTHERS[0]]),
        ],
        det,
    )
    ring = {o["account_id"]: o["ring"] for o in out}
    assert ring["a1"] == ring["a2"] == ring["s"] is not None
    assert ring["t"] is None
    assert any("模板" in r for r in out[2]["reasons"])
