from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.records import RecordError, decode_line, parse_time, post_from_record

TZ = ZoneInfo("Asia/Shanghai")


def make(record, max_text_chars=100):
    return post_from_record(
        record, source="s", default_platform="files", tz=TZ, max_text_chars=max_text_chars
    )


def test_scan_input_fields_become_a_post():
    post = make(
        {
            "id": 42,
            "text": "全额退保",
            "platform": "weibo",
            "author_id": "u1",
            "author_name": "李律师",
            "author_bio": "vx: abc123",
            "url": "https://weibo.com/1/2",
            "created_at": "2026-11-01T08:00:00+08:00",
        }
    )
    assert post.key == "weibo:42"
    assert post.account_key == "weibo:u1"
    assert post.created_at == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert post.created_raw == "2026-11-01T08:00:00+08:00"
    assert post.source == "s"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([1, 2], "expected a JSON object"),
        ({"text": "x"}, "missing `id`"),
        ({"id": "1"}, "missing `text`"),
        ({"id": "", "text": "x"}, "`id` is empty"),
        ({"id": True, "text": "x"}, "`id` must be"),
        ({"id": "1", "text": 5}, "`text` must be a string"),
        ({"id": "1", "text": "   "}, "`text` is empty"),
        ({"id": "1", "text": "x", "author_id": {"a": 1}}, "`author_id` must be a string"),
        ({"id": "1", "text": "x", "created_at": "yesterday"}, "not ISO 8601"),
    ],
)
def test_bad_records_say_why(record, reason):
    with pytest.raises(RecordError, match=reason):
        make(record)


def test_huge_text_is_cut_and_marked():
    post = make({"id": "1", "text": "长" * 500}, max_text_chars=100)
    assert len(post.text) == 100
    assert post.truncated is True


def test_times_in_every_form_end_up_utc():
    expected = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert parse_time("2026-11-01 08:00:00", TZ) == expected  # naive = Asia/Shanghai
    assert parse_time("2026-11-01T00:00:00Z", TZ) == expected
    assert parse_time(int(expected.timestamp()), TZ) == expected
    assert parse_time(int(expected.timestamp() * 1000), TZ) == expected
    assert parse_time(str(int(expected.timestamp())), TZ) == expected


def test_wrong_encoding_is_named():
    with pytest.raises(RecordError, match="invalid utf-8 at byte 0"):
        decode_line("退保".encode("gbk"))
    assert decode_line("退保".encode("gbk"), "gbk") == "退保"
