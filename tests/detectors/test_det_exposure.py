"""Who speaks: a victim's story repeats the ad's words and names the scammer's contact,
an ad's invitation is the author's own (detectors/framing.py, scoring.toml [attribution]).

The texts are invented for these tests (none is a corpus post): the rules alone must tell
them apart, so the classifier never sees a victim's story with its gate open.
"""

import pytest
from det_helpers import assert_spans_index_original

from detectors import Detector

INVITES = {"contact_cue", "own_invitation", "funnel", "contact_mention"}


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector(model_dir=None)


def invitations(rules: Detector, text: str) -> list[str]:
    return [e.text for e in rules.analyse(text).signals.terms if e.feature in INVITES]


@pytest.mark.parametrize(
    "text",
    [
        # quoted / reported speech: the invitation is someone else's words
        "看到一条视频写着「分红险全款能退，V我详聊」，我照着加了，结果是要收四成的中介",
        "那个博主说私我帮你停息挂账，我信了，转了三千，现在头像都灰了",
        # a directive to the author, or to someone the author knows
        "客服小姐姐一直让我加她微信，说征信修复不成功不收费，我没理她",
        "对方叫我爸点他头像，说保单能全额退，我爸差点就信了",
        # a third-person subject, with a place in between
        "对方在快手私信我，说征信逾期能洗白，我直接拉黑了",
        # a perfective: it tells what happened
        "上个月我也加微信了，说好退保成功后再收费，后来人就找不到了",
    ],
)
def test_narrated_invitations_are_not_invitations(rules, text):
    assert invitations(rules, text) == []
    assert not rules.detect(text).flagged


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        # owner named in a post that tells (a frame)
        ("被坑了，对方的微信 ruoxi_7342 说能帮我协商停息挂账，收了钱就没动静了", "ruoxi_7342"),
        # reported speech after a colon
        ("短信写着：全额退保加V qiaomu_5519，我差点信了，已经举报", "qiaomu_5519"),
        # what the contact did to the author: enough even without a frame
        ("15936271840 一直给我打电话，说能把我的网贷全部停息挂账，烦死了", "15936271840"),
        # a directive before it
        ("他非让我加 lanxi_2207 这个号，说退保不成功不收费", "lanxi_2207"),
    ],
)
def test_someone_elses_contact_is_exposed(rules, text, contact):
    analysis = rules.analyse(text)
    assert [c.value for c in analysis.signals.exposed] == [contact]
    assert analysis.signals.contacts == []
    verdict = rules.detect(text)
    assert not verdict.flagged
    assert_spans_index_original(text, verdict)
    exposed = [e for e in verdict.evidence if e.feature == "exposed_contact"]
    assert [text[e.start : e.end] for e in exposed] == [contact]


@pytest.mark.parametrize(
    "text",
    [
        "我也被坑过，交了六年的年金险只退回两成。后来找老师办了，全额退回，需要的私我",
        "被催收吓到的姐妹别怕，我当年也被骗过，现在停息挂账上岸了，同样情况的加我",
        "被骗过的人才懂：征信修复要找对人，我推给你，不成功不收费，点我头像",
        "被骗了先别急，我也被坑过，后来找团队追回了全部损失，成功后收费，dd我",
    ],
)
def test_an_ad_dressed_as_a_victim_keeps_its_own_invitation(rules, text):
    """The author's own offer survives the framing and opens the gate; whether the
    victim frame around it is a costume is the classifier's call (own_invitation does
    not shield frames: a real victim offers to share the chat log in the same words)."""
    analysis = rules.analyse(text)
    assert any(e.feature == "own_invitation" for e in analysis.signals.terms)
    assert not any("缺少" in r for r in analysis.rule.reasons), analysis.rule.reasons
    assert_spans_index_original(text, rules.detect(text))


def test_an_ad_naming_its_own_contact_amid_a_victim_story_keeps_it_private(rules):
    text = "我也被骗过两次，后来找到真正靠谱的团队，全额退保，需要的加我微信 suyue_6620"
    analysis = rules.analyse(text)
    assert [c.value for c in analysis.signals.contacts] == ["suyue_6620"]
    assert analysis.signals.exposed == []
    assert rules.detect(text).flagged


def test_a_referral_without_a_frame_is_not_read_as_an_exposure(rules):
    """An owner alone ("那个老师的微信") does not make a contact someone else's: a
    referral ad names another person's number too."""
    text = "我的保单是宓老师帮忙全额退的，那个老师的微信 mixue_3318，需要的自取"
    analysis = rules.analyse(text)
    assert [c.value for c in analysis.signals.contacts] == ["mixue_3318"]
    assert rules.detect(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        "警惕“停息挂账”骗局！本行不委托任何第三方，如需协商请联系我行官方客服热线。",
        "警惕代理退保！对保单有疑问，欢迎联系我们的官方客服。",
    ],
)
def test_an_institution_speaking_of_itself_is_no_own_invitation(rules, text):
    terms = rules.analyse(text).signals.terms
    assert not any(e.feature == "own_invitation" for e in terms)
    assert not rules.detect(text).flagged


def test_self_help_testimony_with_an_invitation_stays_unflagged(rules):
    text = "征信异议是我自己跟银行沟通的，没找中介，逾期记录更正了。不懂的可以私我，我分享经验"
    assert not rules.detect(text).flagged


def test_an_offer_to_explain_keeps_the_perfective_exception(rules):
    """ "私信了解" is an ad's phrase, not a narration ("了" followed by "解")."""
    text = "全额退保，不成功不收费，私信了解"
    assert "私信" in "".join(invitations(rules, text))
    assert rules.detect(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        "同样在这家保险公司被误导买了年金险的朋友，私我拉群，我们一起去12378投诉，要求全额退保",
        "征信修复都是骗局，有疑问的可以私我，我把我被骗的聊天记录发你看",
        "我是律师，提醒大家：所谓全额退保的中介大多涉嫌违法，有法律问题可以咨询我，但我不接代理退保",
    ],
)
def test_a_first_person_invitation_does_not_lift_a_frame(rules, text):
    """Victims, consumers and lawyers say "私我" too: the author's own invitation opens
    the gate but leaves the warning / exposure / grievance discount in place."""
    assert not rules.detect(text).flagged
