"""Alert rules: which accounts and posts of a stored batch deserve an alert. Pure, no I/O.

Both runners call :func:`evaluate` right after a batch is durable, with the accounts'
risk before and after the batch, so the embedded runner and the faust workers alert alike.

What keeps alerts honest (a false alert about a genuine complainant is the costliest
mistake this system can make):

- only what the detector flagged fires: an account rule needs ``AccountRisk.flagged``,
  a post rule needs ``Verdict.flagged`` and a private contact in the post;
- an account rule fires on a *crossing* (the account did not match the rule before the
  batch and does after), never again merely because a flagged account posted again;
- every alert carries evidence from the batch's own posts; a crossing without any is
  not alerted;
- an account (or post) an investigator dismissed never alerts.

The outbox then suppresses repeats of a ``dedupe_key`` within the rule's re-alert window.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from pipeline.alerts.excerpts import contact_labels, excerpt
from pipeline.alerts.settings import AlertRule
from pipeline.models import AccountRisk, Alert, Excerpt, ScoredPost, account_review_target


def account_matches(rule: AlertRule, risk: AccountRisk | None) -> bool:
    """The account, as it stands, satisfies an ``account_flagged`` rule."""
    if risk is None or not risk.flagged or risk.score < rule.min_score:
        return False
    if rule.platforms and risk.platform not in rule.platforms:
        return False
    return not rule.categories or not set(rule.categories).isdisjoint(risk.categories)


def post_matches(rule: AlertRule, scored: ScoredPost) -> bool:
    """A flagged post scoring at least ``min_score`` that carries a private contact."""
    verdict = scored.verdict
    if not verdict.flagged or verdict.score < rule.min_score or not verdict.contacts:
        return False
    if rule.platforms and scored.post.platform not in rule.platforms:
        return False
    return not rule.categories or not set(rule.categories).isdisjoint(verdict.categories)


def dedupe_key(rule: AlertRule, key: str) -> str:
    return f"{rule.name}:{key}"


def evaluate(
    rules: Sequence[AlertRule],
    before: Mapping[str, AccountRisk | None],
    after: Iterable[AccountRisk],
    posts: Sequence[ScoredPost],
    now: datetime,
    *,
    dismissed: Collection[str] = frozenset(),
    max_evidence: int = 5,
) -> list[Alert]:
    """Alerts for one stored batch.

    ``before`` maps account key → risk before the batch (absent or None: unknown until
    now); ``after`` is the risk the batch produced for each account it touched; ``posts``
    are the batch's scored posts; ``dismissed`` holds the review targets an investigator
    dismissed (:func:`pipeline.models.account_review_target` for accounts, post keys).
    At most one alert per rule and account (or per rule and post, for a post without an
    author) per batch.
    """
    after_by_key = {risk.key: risk for risk in after}
    by_account: dict[str, list[ScoredPost]] = {}
    for scored in posts:
        key = scored.post.account_key
        if key is not None:
            by_account.setdefault(key, []).append(scored)
    alerts: list[Alert] = []
    for rule in rules:
        if rule.when == "account_flagged":
            found = _account_alerts(rule, before, after_by_key, by_account, now, dismissed)
        else:
            found = _post_alerts(rule, after_by_key, posts, now, dismissed)
        for alert in found:
            alert.evidence = alert.evidence[:max_evidence]
            if alert.evidence:  # an alert always carries its evidence
                alerts.append(alert)
    return alerts


def _account_alerts(
    rule: AlertRule,
    before: Mapping[str, AccountRisk | None],
    after: Mapping[str, AccountRisk],
    by_account: Mapping[str, list[ScoredPost]],
    now: datetime,
    dismissed: Collection[str],
) -> Iterable[Alert]:
    for key, risk in after.items():
        if account_review_target(key) in dismissed or not account_matches(rule, risk):
            continue
        if account_matches(rule, before.get(key)):
            continue  # already over the line before this batch: not a crossing
        evidence = _account_evidence(risk, by_account.get(key, []), dismissed)
        contacts = list(dict.fromkeys([*risk.contacts, *(c for e in evidence for c in e.contacts)]))
        yield Alert(
            dedupe_key=dedupe_key(rule, key),
            rule=rule.name,
            kind="account",
            created_at=now,
            platform=risk.platform,
            score=round(float(risk.score), 4),
            account_key=key,
            account_id=risk.account_id,
            nickname=risk.nickname,
            categories=list(risk.categories),
            reasons=list(risk.reasons),
            evidence=evidence,
            contacts=contacts,
            recipients=list(rule.recipients),
            realert_hours=rule.realert_hours,
        )


def _account_evidence(
    risk: AccountRisk, posts: list[ScoredPost], dismissed: Collection[str]
) -> list[Excerpt]:
    """The account's flagged posts in the batch, best first; failing those, posts whose
    weight in the account exceeds their own score (the bio funnel: the account scoring
    lifted them, and their evidence is why)."""
    usable = [s for s in posts if s.verdict.evidence and s.post.key not in dismissed]
    chosen = [s for s in usable if s.verdict.flagged]
    if not chosen:
        chosen = [s for s in usable if risk.post_scores.get(s.post.key, 0.0) > s.verdict.score]
    chosen.sort(key=lambda s: (-s.verdict.score, s.post.key))
    return [excerpt(s) for s in chosen]


def _post_alerts(
    rule: AlertRule,
    after: Mapping[str, AccountRisk],
    posts: Sequence[ScoredPost],
    now: datetime,
    dismissed: Collection[str],
) -> Iterable[Alert]:
    grouped: dict[str, list[ScoredPost]] = {}
    for scored in posts:
        account = scored.post.account_key
        if scored.post.key in dismissed:
            continue
        if account is not None and account_review_target(account) in dismissed:
            continue
        if post_matches(rule, scored):
            grouped.setdefault(account or scored.post.key, []).append(scored)
    for key, matched in grouped.items():
        matched.sort(key=lambda s: (-s.verdict.score, s.post.key))
        top = matched[0]
        risk = after.get(key)
        yield Alert(
            dedupe_key=dedupe_key(rule, key),
            rule=rule.name,
            kind="post",
            created_at=now,
            platform=top.post.platform,
            score=round(float(top.verdict.score), 4),
            account_key=top.post.account_key,
            account_id=top.post.author_id,
            nickname=(risk.nickname if risk else None) or top.post.author_name,
            post_key=top.post.key,
            categories=list(dict.fromkeys(c for s in matched for c in s.verdict.categories)),
            reasons=list(top.verdict.reasons),
            evidence=[excerpt(s) for s in matched if s.verdict.evidence],
            contacts=list(dict.fromkeys(c for s in matched for c in contact_labels(s))),
            recipients=list(rule.recipients),
            realert_hours=rule.realert_hours,
        )
