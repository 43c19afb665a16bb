"""The ring job's facts on an account (``AccountFact``: "shares a counted ad template")
as the fold applies them: the scan's template bonus, counted once, taken back when the
fact says so, and independent of where the fact falls among the account's posts.

Why order independence matters: in the scale-out mode a fact reaches the worker on the
account's partition behind whatever posts were there when the job ran, and a replay after
a crash can put posts on either side of it again; the embedded runner's writer sees
another interleaving. Both must store the same risk.
"""

from det_helpers import fold_item
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.accounts import (
    TEMPLATE_REASON,
    AccountPolicy,
    apply_fact,
    fold_post,
    with_template_bonus,
)
from pipeline.models import AccountFact, AccountRisk, Post, Verdict

POLICY = AccountPolicy()
SHARES, SHARES_NOT = AccountFact("weibo:a1", True), AccountFact("weibo:a1", False)


def _fold(items: list[tuple[Post, Verdict] | AccountFact]) -> AccountRisk | None:
    risk = None
    for item in items:
        if isinstance(item, AccountFact):
            risk = apply_fact(risk, item, POLICY) if risk is not None else None
        else:
            risk = fold_post(risk, *item, POLICY)
    return risk


def test_a_shared_template_adds_the_bonus_once_and_says_so() -> None:
    plain = _fold([fold_item(0, 0.6, 0, False)])
    assert plain is not None and plain.templates and not plain.flagged
    raised = apply_fact(plain, SHARES, POLICY)
    assert raised.score == with_template_bonus(plain.score, POLICY) > plain.score
    assert raised.shares_template and raised.reasons[0].endswith(TEMPLATE_REASON)
    assert raised.reasons[1:] == plain.reasons[1:]
    assert apply_fact(raised, SHARES, POLICY) is raised  # sent twice, counted once
    back = apply_fact(raised, SHARES_NOT, POLICY)
    assert back == plain


def test_the_bonus_can_flag_an_account_as_the_scan_does() -> None:
    # one post at 0.6 does not flag (high_score 0.7); the bonus lifts it to 0.75
    plain = _fold([fold_item(0, 0.6, 0, False)])
    assert plain is not None and not plain.flagged
    raised = apply_fact(plain, SHARES, POLICY)
    assert raised.score >= POLICY.high_score and raised.flagged


def test_later_posts_keep_the_bonus() -> None:
    raised = _fold([fold_item(0, 0.6, 0, False), SHARES, fold_item(1, 0.1, 1, False)])
    assert raised is not None and raised.shares_template
    assert raised.score == with_template_bonus(0.6, POLICY)


def test_an_account_that_keeps_no_template_gets_no_bonus_until_it_keeps_one() -> None:
    low = _fold([fold_item(0, 0.1, 0, False)])  # below template_min_post_score: none kept
    assert low is not None and low.templates == {}
    told = apply_fact(low, SHARES, POLICY)
    assert told.shares_template and (told.score, told.reasons) == (low.score, low.reasons)
    later = fold_post(told, *fold_item(1, 0.6, 0, False), POLICY)
    assert later.templates and later.score == with_template_bonus(0.6, POLICY)


facts_strategy = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([0.1, 0.35, 0.6, 0.9]), st.integers(0, 3), st.booleans()),
        st.sampled_from([SHARES, SHARES_NOT]),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(rows=facts_strategy)
def test_facts_give_the_same_risk_wherever_they_fall_among_the_posts(rows) -> None:
    """Any interleaving of the posts and the facts (each kept in its own order) gives
    the risk of all the posts first, then all the facts. A fact before the account's
    first post finds no account; the job never sends one for an account not stored."""
    items = [r if isinstance(r, AccountFact) else fold_item(n, *r) for n, r in enumerate(rows)]
    first_post = next((n for n, i in enumerate(items) if not isinstance(i, AccountFact)), None)
    if first_post is None:
        return
    items = items[first_post:]
    posts = [i for i in items if not isinstance(i, AccountFact)]
    facts = [i for i in items if isinstance(i, AccountFact)]
    assert _fold(items) == _fold([*posts, *facts])
