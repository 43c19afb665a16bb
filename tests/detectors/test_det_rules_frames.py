"""Frames lower a score only when no private call to action is present; the lexicon is
data and reloads without a restart; the fast path changes nothing."""

import shutil
from pathlib import Path

import pytest

from detectors import Detector
from detectors.lexicon import DEFAULT_DIR, LexiconError


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector(model_dir=None)


@pytest.mark.parametrize(
    "text",
    [
        "警惕“全额退保，不成功不收费”的广告，有问题请拨打12378。",
        "记者调查：所谓“停息挂账”中介收取服务费后失联，涉嫌诈骗。",
        "我在给保险公司投诉，要求全额退保，自己整理材料，自己打12378，没有找任何中介。",
        "被骗了：对方电话是13682945017，自称能帮我停息挂账，交了两千，现在已经是空号。",
        "吧里经常有人私信我“能帮你债务重组”，我一概不理。",
        "刷到“全额退保”的视频先别急着私信！请通过官方客服办理。",
        "我想全额退保，保险公司一直拖着，有没有懂的朋友私信我，谢谢",
        "刚办完停息挂账，是自己打银行客服办的，没找中介。有问题的可以私信我，我分享流程",
    ],
)
def test_warnings_news_complaints_and_exposures_are_not_flagged(rules, text):
    assert not rules.detect(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        "警惕代理退保骗局！正规的找我们，不成功不收费，V：tb_zhengui88",
        "提醒各位：网上很多所谓的“债务优化”都是骗子！我们是正规公司，先办事后收费。QQ：265934077",
        "【警示】有人冒充律师收前期费。本团队承诺：不收前期费用，挽损成功后按比例收费。电话：18132201882",
    ],
)
def test_an_ad_dressed_as_a_warning_is_still_flagged(rules, text):
    assert rules.detect(text).flagged


def test_frame_discount_applies_only_without_a_private_call_to_action(rules):
    warning = "警惕全额退保骗局，不成功不收费都是套路"
    assert not rules.detect(warning).flagged
    assert rules.detect(warning + "，正规的找我们 微信 tb_zhengui88").flagged


def test_exposed_contact_is_not_a_channel(rules):
    analysis = rules.analyse("这个微信 tb_pianzi88 是骗子，别加！他说能全额退保")
    assert [c.canonical for c in analysis.signals.exposed] == ["wechat:tbpianzi88"]
    assert analysis.signals.contacts == []


def test_pinned_comment_and_bio_funnels_open_the_gate(rules):
    assert rules.detect("全额退保，不成功不收费，联系方式在评论区置顶").flagged
    assert rules.detect("需要tb的朋友看我简介", bio="只做保单退费｜xiaowen_tbgw").flagged


def test_look_alike_shop_with_a_phone_is_not_flagged(rules):
    assert not rules.detect("家电维修，修不好不收钱，电话18942736501").flagged


def test_quiet_post_has_an_empty_analysis(rules):
    analysis = rules.analyse("今天天气真好，带娃去公园转了一圈")
    assert analysis.signals.terms == [] and analysis.signals.contacts == []
    assert not analysis.rule.flagged


def _copy_lexicon(tmp_path: Path) -> Path:
    target = tmp_path / "lexicon"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def test_reload_picks_up_an_edited_lexicon_without_restart(tmp_path):
    lexicon = _copy_lexicon(tmp_path)
    detector = Detector(lexicon_dir=lexicon, model_dir=None)
    post = "秘传保单回血术，加微信 huixue_8866"
    assert not detector.detect(post).flagged
    assert detector.reload() is False  # nothing changed

    path = lexicon / "categories.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"帮你退保",', '"帮你退保", "保单回血术",', 1), encoding="utf-8")
    version = detector.version
    assert detector.reload() is True
    assert detector.version != version
    verdict = detector.detect(post)
    assert verdict.flagged
    assert any(e.text == "保单回血术" for e in verdict.evidence)


def test_broken_lexicon_edit_keeps_the_running_detector(tmp_path):
    lexicon = _copy_lexicon(tmp_path)
    detector = Detector(lexicon_dir=lexicon, model_dir=None)
    version = detector.version
    (lexicon / "features.toml").write_text("[outcome_promise\n", encoding="utf-8")
    with pytest.raises(LexiconError):
        detector.reload()
    assert detector.version == version
    assert detector.detect("全额退保，不成功不收费，加微信 tuibao8866").flagged


def test_corpus_posts_analyse_the_same_in_a_batch(rules):
    import json

    path = Path(__file__).parents[2] / "detectors/corpus/dev.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    posts = [(r["text"], r.get("author_bio")) for r in rows]
    batch = rules.analyse_many(posts)
    for (text, bio), got in zip(posts, batch, strict=True):
        want = rules.analyse(text, bio)
        assert (got.normalized, got.signals, got.rule.score) == (
            want.normalized,
            want.signals,
            want.rule.score,
        )


def test_look_alike_refund_of_a_shop_is_not_a_surrender_scheme(rules):
    verdict = rules.detect("沙发一年内质量问题包换，不满意七天内全额退款。售后电话13872649150")
    assert not verdict.flagged
    assert not any(e.feature == "scheme_term" for e in verdict.evidence)


def test_a_help_request_is_discounted_even_with_the_requesters_own_contact(rules):
    text = "求助：我妈的保单能不能全额退？懂行的朋友可以加我微信 wodema_bx 聊聊吗"
    verdict = rules.detect(text)
    assert not verdict.flagged
    assert any(r.startswith("求助语境") for r in verdict.reasons)
