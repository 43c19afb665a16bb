"""Scoring: families must co-occur; warnings, news, complaints and exposures are not ads,
but an ad dressed as a warning still is."""

import pytest
from det_helpers import assert_spans_index_original

NOT_ADS = {
    "warning": "警惕“代理退保”黑产：声称全额退保、不成功不收费，实为骗局，请通过正规渠道维权。",
    "warning_quotes_cta": "网上那些“V我全额退保”的都是中介，我不接单、不加微信，有问题打12378。",
    "warning_reported_cta": (
        "有人自称退保专员，称可以全额退保、不成功不收费，要求添加微信并提供身份证照片，请提高警惕。"
    ),
    "official_contact": "温馨提示：谨防代理退保骗局，有问题请联系我们的官方客服。",
    "news": (
        "记者获悉，某“法务咨询公司”因涉嫌组织代理退保被查，"
        "门口“全额退保、不成功不收费”的招牌已被撕下。"
    ),
    "complaint": "我妈被业务员误导买了分红险，想退保只退了现金价值，气死了，已经打12378投诉了。",
    "question": "请问停息挂账靠谱吗？网上好多说能全额减免的，有没有人办过？",
    "exposure": "大家注意，这个微信 tuibao8866 是骗子，代理退保收了我5000就拉黑了，别加！",
    "narrated_dm": (
        "最近刷视频总看到有人说可以全额退保，私信问了一个，对方让我发身份证，到底怎么办？"
    ),
    "lookalike": "淘宝买的鞋子尺码不对，退货运费险全额赔付了，以后都买运费险",
    "chatter_with_contact": "周末去爬山的朋友加我微信 hiking2024 一起组队",
    "board_notice": "【吧务公告】“停息挂账”“征信修复”广告一律删帖，请吧友不要私下联系发帖人。",
}

ADS = {
    "plain": "全额退保，不成功不收费！加微信 tuibao8866",
    "disguised_warning": (
        "提醒大家：别信那些代理退保骗子，真正全额退保找我们正规律师团队，微信 tuibao8866"
    ),
    "spaced": "全 额 退 保 ❗ 不 成 功 不 收 费 ❗ 私 我",
    "zero_width": (
        "征\u200b信\u200b修\u200b复 逾\u200b期\u200b消\u200b除 V\u200b:\u200bzxkx\u200b999"
    ),
    "traditional": "投訴代辦 保險 銀行 網貸 一站式處理 成功才收費 vx：tsdb_88",
    "homophone": "退抱不成功不收费，已交的葆费全部拿回，需要的加威 zbwq_001",
    "spelled_phone": "停息挂账，个性化分期，专业团队免费评估，电话 幺七五三八二零六六幺四",
    "fullwidth": "征信有逾期的找我们，成功率高，ＶＸ：ａｍｙ＿ｘｙ９",
    "pinyin": "tui保 quan额 到账 不成功不收费 wx：afeng0606",
    "coaching": "教你打12378，按我说的话术投诉，保证对方退钱，不成功不收费，私信我",
}


@pytest.mark.parametrize("name", sorted(NOT_ADS))
def test_not_an_ad_is_not_flagged(detector, name):
    text = NOT_ADS[name]
    verdict = detector.detect(text)
    assert not verdict.flagged, (name, verdict.score, verdict.reasons)
    assert verdict.score < detector.threshold
    assert_spans_index_original(text, verdict)


@pytest.mark.parametrize("name", sorted(ADS))
def test_ad_is_flagged_with_evidence(detector, name):
    text = ADS[name]
    verdict = detector.detect(text)
    assert verdict.flagged, (name, verdict.score, verdict.reasons)
    assert verdict.categories
    assert verdict.reasons
    assert_spans_index_original(text, verdict)


def test_scheme_words_alone_are_not_enough(detector):
    verdict = detector.detect("全额退保 不成功不收费 律师团队 新政策")
    assert not verdict.flagged
    assert any("缺少私下联系方式或引流" in r for r in verdict.reasons)


def test_contact_alone_is_not_enough(detector):
    assert not detector.detect("我的微信 tuibao8866 欢迎交流摄影").flagged


def test_bio_contact_opens_the_gate_for_a_selling_post(detector):
    text = "正信花了不要慌，先来做个免费检测，能修复的帮你修复，修复不了不收钱"
    assert not detector.detect(text).flagged
    verdict = detector.detect(text, bio="➕VX：zxxk_5566")
    assert verdict.flagged
    assert "credit" in verdict.categories
    assert any("简介联系方式" in r for r in verdict.reasons)


def test_warning_frame_does_not_discount_a_post_with_a_contact(detector):
    with_contact = detector.detect("警惕骗子！正规全额退保找我，微信 tuibao8866")
    assert with_contact.flagged
    assert any("不降分" in r for r in with_contact.reasons)


def test_exposed_contact_is_evidence_but_not_a_contact(detector):
    verdict = detector.detect(NOT_ADS["exposure"])
    assert verdict.contacts == []
    exposed = [e for e in verdict.evidence if e.feature == "exposed_contact"]
    assert [e.text for e in exposed] == ["tuibao8866"]


def test_reason_names_families_and_examples(detector):
    verdict = detector.detect(ADS["plain"])
    assert verdict.reasons[0].startswith("代理退保+结果承诺+风险逆转")
    assert "微信 tuibao8866" in verdict.reasons[0]


def test_evidence_lists_every_term_and_contact_with_its_feature(detector):
    verdict = detector.detect(ADS["plain"])
    features = {(e.text, e.feature) for e in verdict.evidence}
    assert ("全额退保", "scheme_term") in features
    assert ("不成功不收费", "risk_reversal") in features
    assert ("加微信", "contact_cue") in features
    assert ("tuibao8866", "private_contact") in features


def test_unflagged_post_still_reports_categories_seen(detector):
    verdict = detector.detect(NOT_ADS["warning"])
    assert not verdict.flagged
    assert verdict.categories == ["surrender"]


def test_score_is_a_probability_and_version_is_stamped(detector):
    for text in [*ADS.values(), *NOT_ADS.values(), "", "   "]:
        verdict = detector.detect(text)
        assert 0.0 <= verdict.score <= 1.0
        assert verdict.detector_version == detector.version
    assert detector.version.startswith("lexicon-")


def test_empty_and_huge_posts_do_not_fail(detector):
    assert not detector.detect("").flagged
    big = ADS["plain"] * 2000
    verdict = detector.detect(big)
    assert verdict.flagged
    assert_spans_index_original(big, verdict)


def test_bare_mention_in_news_does_not_cancel_the_news_discount(detector):
    text = "记者私信联系了一家声称能全额退保的中介，对方自称前保险公司员工。"
    verdict = detector.detect(text)
    assert not verdict.flagged
    assert any("新闻语境" in r and "降低分数" in r for r in verdict.reasons)


@pytest.mark.parametrize("tail", ["有意向私信。", "详情私信", "私信“上岸”", "私信 “投诉” 获取"])
def test_mention_that_asks_for_a_dm_is_an_invitation(detector, tail):
    verdict = detector.detect("停息挂账 个性化分期 " + tail)
    cues = [e for e in verdict.evidence if e.feature == "contact_cue"]
    assert cues, verdict.evidence


def test_narrated_mention_stays_a_mention(detector):
    verdict = detector.detect("我私信问了一个做停息挂账的，他说要收费")
    assert not [e for e in verdict.evidence if e.feature in ("contact_cue", "contact_mention")]


def test_victim_naming_a_scammer_wechat_id_is_exposure(detector):
    verdict = detector.detect("曝光一个代理退保骗子，他的微信号 qe_tb_vip，已报警")
    assert verdict.contacts == []
    assert not verdict.flagged
