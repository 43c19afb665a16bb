from detectors import Detector
from pipeline.models import Post
from pipeline.stages import Deduper, fold_accounts, score_posts

AD = "全额退保，不成功不收费！加威信 tuibao_8866"


def post(pid: str, text: str, author: str | None = "u1") -> Post:
    return Post(platform="weibo", post_id=pid, text=text, author_id=author)


def test_deduper_drops_only_same_key_with_same_text():
    dedupe = Deduper(capacity=2)
    assert dedupe.is_new(post("1", "a"))
    assert not dedupe.is_new(post("1", "a"))
    assert dedupe.is_new(post("1", "edited"))  # an edit is new content
    assert dedupe.is_new(post("2", "a"))
    assert dedupe.is_new(post("3", "a"))
    assert dedupe.is_new(post("1", "edited"))  # evicted: capacity bounds memory


def test_fold_accounts_is_idempotent_under_redelivery():
    detector = Detector()
    batch = score_posts(detector, [post("1", AD), post("2", "今天天气不错")])
    once = fold_accounts(batch, {})
    twice = fold_accounts(batch, once)
    assert set(once) == {"weibo:u1"}
    assert once["weibo:u1"].total_posts == twice["weibo:u1"].total_posts == 2
    assert once["weibo:u1"].flagged_posts == twice["weibo:u1"].flagged_posts == 1
    assert once["weibo:u1"].flagged


def test_posts_without_author_touch_no_account():
    detector = Detector()
    assert fold_accounts(score_posts(detector, [post("1", AD, author=None)]), {}) == {}
