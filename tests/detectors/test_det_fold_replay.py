"""An account's risk does not depend on re-deliveries: folding any stretch of its posts a
second time, at any later point, leaves the risk exactly as folding each post once.

Why this matters beyond counting: delivery is at-least-once, and in the scale-out mode a
re-delivered stretch can arrive after later posts (a worker that lost its partitions in a
rebalance finishes its batch; a producer retry without idempotence). Ties at the top
score made the top post's reasons follow whichever copy came last, so the stored account
differed from the embedded runner's while every count agreed.
"""

from det_helpers import fold_item
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.accounts import fold_post
from pipeline.models import AccountRisk, Post, Verdict

SCORES = [0.1, 0.35, 0.6, 0.9, 1.0]  # ties at the top are the interesting case


def _fold(items: list[tuple[Post, Verdict]]) -> AccountRisk | None:
    risk = None
    for post, verdict in items:
        risk = fold_post(risk, post, verdict)
    return risk


posts_strategy = st.lists(
    st.tuples(st.sampled_from(SCORES), st.integers(0, 3), st.booleans()), min_size=1, max_size=12
).map(lambda rows: [fold_item(n, *row) for n, row in enumerate(rows)])


@settings(max_examples=200, deadline=None)
@given(posts=posts_strategy, data=st.data())
def test_a_replayed_stretch_changes_nothing(posts, data) -> None:
    start = data.draw(st.integers(0, len(posts) - 1))
    end = data.draw(st.integers(start + 1, len(posts)))
    at = data.draw(st.integers(end, len(posts)))  # the replay arrives after its originals
    replayed = posts[:at] + posts[start:end] + posts[at:]
    assert _fold(replayed) == _fold(posts)


def test_a_late_copy_of_a_tied_top_post_keeps_the_latest_reasons() -> None:
    first, second = fold_item(1, 1.0, 0, False), fold_item(2, 1.0, 1, False)
    once = _fold([first, second])
    assert once is not None and once.reasons[1:] == ["帖子 2 的理由"]
    assert _fold([first, second, first]) == once


def test_a_changed_score_is_an_update_not_a_replay() -> None:
    post, verdict = fold_item(1, 0.35, 0, False)
    rescored = Verdict(
        flagged=True,
        score=0.9,
        categories=["surrender"],
        contacts=verdict.contacts,
        reasons=["新模型"],
    )
    risk = _fold([(post, verdict), (post, rescored)])
    assert risk is not None
    assert risk.post_scores == {post.key: 0.9}
    assert risk.flagged_posts == 1 and risk.reasons[1:] == ["新模型"]
