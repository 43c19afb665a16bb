"""The recheck job's logic: who is asked, what changes, and backing off on risk control."""

import httpx

from collectors.http import RiskControlError
from collectors.recheck import checker_for, recheck_accounts


class Answers:
    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, platform: str, account_id: str) -> bool | None:
        self.asked.append(account_id)
        answer = self.answers[account_id]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


async def test_gone_accounts_are_marked_and_the_rest_left_alone():
    check = Answers({"gone": True, "here": False, "unsure": None, "boom": ValueError("bad")})
    marked: list[str] = []

    async def mark(key: str) -> None:
        marked.append(key)

    keys = ["weibo:gone", "weibo:here", "weibo:unsure", "weibo:boom", "douyin:x"]
    report = await recheck_accounts(keys, {"weibo": [check]}, mark)
    assert marked == ["weibo:gone"]
    assert (report.checked, report.still_there, report.unknown) == (4, 1, 3)
    assert report.errors == ["weibo:boom: ValueError: bad"]


async def test_risk_control_stops_asking_that_platform():
    check = Answers({"a": RiskControlError("432"), "b": True, "c": True})
    marked: list[str] = []

    async def mark(key: str) -> None:
        marked.append(key)

    report = await recheck_accounts(["weibo:a", "weibo:b", "weibo:c"], {"weibo": [check]}, mark)
    assert check.asked == ["a"]
    assert marked == []
    assert report.unknown == 3 and "risk control" in report.errors[0]


async def test_the_next_checker_answers_when_the_first_cannot_tell():
    first, second = Answers({"a": None}), Answers({"a": True})
    marked: list[str] = []

    async def mark(key: str) -> None:
        marked.append(key)

    await recheck_accounts(["zhihu:a"], {"zhihu": [first, second]}, mark)
    assert marked == ["zhihu:a"]


async def test_checker_for_finds_methods_or_module_functions_with_the_client():
    class WithMethod:
        async def check_account(self, platform: str, account_id: str) -> bool | None:
            return True

    assert await checker_for(WithMethod())("weibo", "1") is True

    class WithoutAnything:
        pass

    assert checker_for(WithoutAnything()) is None

    import sys
    import types

    module = types.ModuleType("fake_platform")

    async def check_account(client, platform, account_id):
        return isinstance(client, httpx.AsyncClient) and account_id == "gone"

    module.check_account = check_account
    sys.modules["fake_platform"] = module
    try:
        WithClient = type("WithClient", (), {"__module__": "fake_platform"})
        collector = WithClient()
        async with httpx.AsyncClient() as client:
            collector._client = client
            assert await checker_for(collector)("p", "gone") is True
    finally:
        del sys.modules["fake_platform"]
