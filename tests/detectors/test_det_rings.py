"""Rings: strong links are shared contacts (look-alike characters folded), weak links
(@-mentions, shared templates) only attach a lone flagged account to exactly one ring,
and ring ids do not depend on input order."""

import random

from detectors.accounts import score_accounts
from detectors.rings import Membership, WeakLink, find_rings, link_key, ring_id

AD_A = "全额退保，不成功不收费！加微信 tuibao8866"
AD_B = "征信修复，逾期记录可删除，不成功不收费 wx：zx_kk99"


def account(aid, posts, bio=None, nickname=None, platform="douyin"):
    return {
        "account_id": aid,
        "platform": platform,
        "nickname": nickname or aid,
        "bio": bio,
        "posts": [{"id": f"{aid}-{i}", "text": t} for i, t in enumerate(posts)],
    }


def test_link_key_folds_look_alikes_and_joins_phone_and_wechat_numbers():
    assert link_key("wechat:qiaobd52o6") == link_key("wechat:qiaobd5206")
    assert link_key("wechat:qiаobd5206") == link_key("wechat:qiaobd5206")  # Cyrillic а
    assert link_key("phone:17538206614") == link_key("wechat:17538206614")
    assert link_key("wechat:qiaobd5206") != link_key("wechat:qiaobd5207")
    assert link_key("link:t.cn/abc") != link_key("wechat:t.cn/abc")


def test_look_alike_contacts_link_into_one_ring_named_by_the_smallest():
    rings = find_rings({"a": {"wechat:qiaobd52o6"}, "b": {"wechat:qiaobd5206"}, "c": set()})
    assert set(rings) == {"a", "b"}
    assert rings["a"].ring == rings["b"].ring == ring_id("wechat:qiaobd5206")


def test_ring_ids_do_not_depend_on_input_order():
    contacts = {f"x:{i}": {f"qq:{10000 + i // 3}", f"wechat:w{i}"} for i in range(30)}
    base = find_rings(contacts)
    keys = list(contacts)
    random.Random(7).shuffle(keys)
    assert find_rings({k: contacts[k] for k in keys}) == base
    assert len({m.ring for m in base.values()}) == 10


def test_a_ring_without_an_eligible_account_is_no_ring():
    contacts = {"a": {"phone:13800138000"}, "b": {"phone:13800138000"}}
    assert find_rings(contacts, eligible=set()) == {}
    assert set(find_rings(contacts, eligible={"b"})) == {"a", "b"}


def test_weak_links_never_merge_two_rings():
    contacts = {"a1": {"qq:11111"}, "a2": {"qq:11111"}, "b1": {"qq:22222"}, "b2": {"qq:22222"}}
    weak = [
        WeakLink("a1", "b1", "mention"),
        WeakLink("a2", "b2", "mention"),
        WeakLink("a1", "b2", "template"),
    ]
    rings = find_rings(contacts, weak)
    assert rings["a1"].ring == rings["a2"].ring != rings["b1"].ring == rings["b2"].ring


def test_weak_links_attach_a_lone_account_only_with_two_links_into_one_ring():
    contacts = {"a1": {"qq:11111"}, "a2": {"qq:11111"}, "b1": {"qq:22222"}, "b2": {"qq:22222"}}
    one = find_rings(contacts, [WeakLink("s", "a1", "mention")])
    assert "s" not in one
    two = find_rings(contacts, [WeakLink("s", "a1", "mention"), WeakLink("s", "a2", "template")])
    assert two["s"] == Membership(two["a1"].ring, [], ["mention:a1", "template:a2"])
    torn = find_rings(
        contacts,
        [WeakLink("s", m, "mention") for m in ("a1", "a2", "b1")],
    )
    assert "s" not in torn  # links into two rings: attach to neither
    not_eligible = find_rings(
        contacts,
        [WeakLink("s", "a1", "mention"), WeakLink("s", "a2", "template")],
        eligible={"a1", "a2", "b1", "b2"},
    )
    assert "s" not in not_eligible


def test_weak_links_alone_make_no_ring():
    assert find_rings({"a": {"qq:1"}, "b": {"qq:2"}}, [WeakLink("a", "b", "mention")] * 3) == {}


def test_mentioning_a_ring_persona_alone_does_not_join_or_merge(detector):
    out = score_accounts(
        [
            account("a1", [AD_A], nickname="退保小王"),
            account("a2", ["已交保费全额追回 加V tuibao8866"], nickname="退保小李"),
            account("b1", [AD_B], nickname="征信老周"),
            account("b2", ["征信花了能洗白 wx zx_kk99"], nickname="征信阿强"),
            # a ring member of B praising a persona of A: one weak link, no merge
            account("b3", ["感谢@退保小王 推荐，征信修复找 zx_kk99 不成功不收费"]),
            # a victim naming a persona: not flagged, never attached
            account("v", ["@退保小王 你们收了钱就拉黑，大家别信"]),
        ],
        detector,
    )
    ring = {o["account_id"]: o["ring"] for o in out}
    assert ring["a1"] == ring["a2"] is not None
    assert ring["b1"] == ring["b2"] == ring["b3"] is not None
    assert ring["a1"] != ring["b1"]
    assert ring["v"] is None


def test_exposure_frame_contact_does_not_join_the_ring(detector):
    victim = "这个微信 tuibao8866 是骗子，别加！交了三千服务费就拉黑了"
    verdict = detector.detect(victim)
    assert "wechat:tuibao8866" not in {c.canonical for c in verdict.contacts}
    assert any(e.feature == "exposed_contact" for e in verdict.evidence)
    out = score_accounts(
        [
            account("a1", [AD_A]),
            account("a2", ["不成功不收费，全额退回 V: tuibao_8866"]),
            account("victim", [victim]),
        ],
        detector,
    )
    ring = {o["account_id"]: o["ring"] for o in out}
    assert ring["a1"] == ring["a2"] == ring_id("wechat:tuibao8866")
    assert ring["victim"] is None


def test_mentions_resolve_to_the_longest_nickname_on_the_same_platform():
    from detectors.weak_links import mention_links, mention_snippets

    names = {
        "douyin:1": ("退保", "1"),
        "douyin:2": ("退保小王", "2"),
        "douyin:3": ("小", "3"),
        "weibo:4": ("退保小王", "4"),
        "douyin:9": ("fan", "9"),
    }
    snippets = {"douyin:9": mention_snippets("感谢@退保小王推荐！@小 @nobody @退保小王", 24)}
    assert mention_links(names, snippets) == [WeakLink("douyin:9", "douyin:2", "mention")]
