"""The weak-link rule shared by the scan and the live ring job (detectors.weak_links)."""

from __future__ import annotations

from detectors.rings import WeakGroup, WeakLink, find_rings
from detectors.templates import TemplateConfig, fold, template_groups
from detectors.weak_links import (
    mention_links,
    mention_snippets,
    shared_templates,
    template_links,
    template_peers,
    template_text,
)

AD = "专业代理全额退保，不成功不收费，前期零费用，加威信 {} 私聊详谈"
CONFIG = TemplateConfig()


def test_template_text_is_the_fold_cut_and_none_when_too_short() -> None:
    assert template_text(AD.format("tb_8866"), 600, 12) == fold(AD.format("tb_8866"))
    assert template_text(AD.format("x"), 10, 12) is None  # 8 shingles after the cut
    assert template_text("谢谢谢谢谢谢谢谢谢谢谢谢谢谢谢谢", 600, 12) is None  # one distinct 3-gram
    assert len(template_text("退保" * 400, 600, 2) or "") == 600


def test_template_groups_take_folds_as_they_are() -> None:
    # "ab12" + "cd34" fold to nothing each, but a kept fold "ab" + "cd" must stay as kept
    folded = ["全额退保不成功不收费abcd前期零费用", "全额退保不成功不收费abcd前期零费用"]
    assert template_groups(folded, CONFIG, folded=True) == [[0, 1]]
    assert fold(folded[0]) != folded[0]  # folding again would change them


def test_a_template_counts_with_two_owners_and_one_ad() -> None:
    a, b = fold(AD.format("tb_8866")), fold(AD.format("qiao_99"))
    shared = shared_templates(
        {
            "weibo:a": {a: 0.9},
            "weibo:b": {b: 0.4},
            "weibo:c": {"另一段完全不同的文字内容很长很长": 0.9},
        },
        CONFIG,
        0.5,
    )
    assert shared == [["weibo:a", "weibo:b"]]
    # nobody's copy is an ad: no signal
    assert shared_templates({"weibo:a": {a: 0.4}, "weibo:b": {b: 0.4}}, CONFIG, 0.5) == []
    # one account posting its own ad twice is no reuse across accounts
    assert shared_templates({"weibo:a": {a: 0.9, b + "吗": 0.9}}, CONFIG, 0.5) == []


def test_template_links_and_peers() -> None:
    shared = [["weibo:a", "weibo:b", "weibo:c"], ["weibo:c", "weibo:d"]]
    assert template_links(shared) == [
        WeakGroup("template", ("weibo:a", "weibo:b", "weibo:c")),
        WeakGroup("template", ("weibo:c", "weibo:d")),
    ]
    peers = template_peers(shared, limit=1)
    assert peers == {
        "weibo:a": (2, ["weibo:b"]),
        "weibo:b": (2, ["weibo:a"]),
        "weibo:c": (3, ["weibo:a"]),
        "weibo:d": (1, ["weibo:c"]),
    }
    assert template_peers(shared, limit=None)["weibo:c"] == (3, ["weibo:a", "weibo:b", "weibo:d"])


def test_a_template_group_attaches_like_its_pairs() -> None:
    contacts = {"a": {"qq:1"}, "b": {"qq:1"}, "x": set(), "y": set()}
    pairs = [WeakLink("x", "a", "template"), WeakLink("x", "b", "template")]
    pairs += [WeakLink("y", "a", "template"), WeakLink("x", "y", "template")]
    group = [WeakGroup("template", ("a", "b", "x")), WeakGroup("template", ("a", "y"))]
    by_pairs = find_rings(contacts, pairs)
    assert find_rings(contacts, (), weak_groups=group) == by_pairs
    assert by_pairs["x"].weak == ["template:a", "template:b"] and "y" not in by_pairs


def test_mention_snippets_follow_each_at_sign() -> None:
    text = "感谢@退保小王推荐！@小 @ @nobody"
    assert mention_snippets(text, 4) == {"退保小王", "小 @ ", " @no", "nobo"}
    assert mention_snippets("没有提及", 24) == set()
    assert mention_snippets("结尾@", 24) == set()


def test_mentions_link_the_longest_name_on_the_same_platform_only() -> None:
    names = {
        "douyin:1": ("退保", "1"),
        "douyin:2": ("退保小王", "2"),
        "weibo:3": ("退保小王", "3"),
        "douyin:9": (None, "9"),
    }
    snippets = {"douyin:9": {"退保小王推荐", "退保", "退", "没人叫这个"}}
    assert mention_links(names, snippets) == [
        WeakLink("douyin:9", "douyin:1", "mention"),
        WeakLink("douyin:9", "douyin:2", "mention"),
    ]
    # an account mentioning itself is no link; names longer than a snippet never match
    assert mention_links({"douyin:2": ("退保小王", "2")}, {"douyin:2": {"退保小王"}}) == []
    assert mention_links({"douyin:2": ("退保小王", "2")}, {"douyin:9": {"退保小"}}) == []
