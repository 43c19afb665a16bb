"""Per-post cost of the schema candidates: why ``pipeline/models.py`` uses msgspec.

Decodes the same JSON post N times with each library (typed, validated) and encodes it
back, in one process, and prints µs/post. Run: ``python bench/models.py``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime

import msgspec
import orjson
import pydantic

from pipeline.models import Post

N = 100_000
RECORD = {
    "platform": "weibo",
    "post_id": "4982736451234567",
    "text": "全额退保，不成功不收费！前保险公司内部人员带你走绿色通道，已帮助上千人成功挽损。"
    "有需要的朋友私信或加威信 tuibao_8866，名额有限，先到先得。",
    "source": "weibo-search",
    "author_id": "7712345678",
    "author_name": "保险维权李律师",
    "author_bio": "十年保险从业经验，专注退保维权，V: tuibao_8866",
    "url": "https://m.weibo.cn/detail/4982736451234567",
    "created_at": "2026-11-01T08:00:00+08:00",
}
PAYLOAD = json.dumps(RECORD, ensure_ascii=False).encode()


class PydanticPost(pydantic.BaseModel):
    platform: str
    post_id: str
    text: str
    source: str = ""
    author_id: str | None = None
    author_name: str | None = None
    author_bio: str | None = None
    url: str | None = None
    created_at: datetime | None = None


@dataclasses.dataclass
class DataclassPost:
    platform: str
    post_id: str
    text: str
    source: str = ""
    author_id: str | None = None
    author_name: str | None = None
    author_bio: str | None = None
    url: str | None = None
    created_at: datetime | None = None


def per_post(fn) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1e6


def main() -> None:
    decoder = msgspec.json.Decoder(Post)
    encoder = msgspec.json.Encoder()
    post = decoder.decode(PAYLOAD)
    ppost = PydanticPost.model_validate_json(PAYLOAD)
    record = orjson.loads(PAYLOAD)
    record["created_at"] = datetime.fromisoformat(record["created_at"])
    dpost = DataclassPost(**record)

    def dc_decode():
        data = orjson.loads(PAYLOAD)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return DataclassPost(**data)

    rows = [
        ("msgspec typed decode", per_post(lambda: decoder.decode(PAYLOAD))),
        ("msgspec encode", per_post(lambda: encoder.encode(post))),
        (
            "pydantic model_validate_json",
            per_post(lambda: PydanticPost.model_validate_json(PAYLOAD)),
        ),
        ("pydantic model_dump_json", per_post(ppost.model_dump_json)),
        ("orjson + dataclass (unvalidated)", per_post(dc_decode)),
        ("dataclasses.asdict + orjson", per_post(lambda: orjson.dumps(dataclasses.asdict(dpost)))),
    ]
    base = rows[0][1]
    print(f"{'operation':36} {'µs/post':>8} {'× msgspec decode':>17}")
    for name, micros in rows:
        print(f"{name:36} {micros:8.2f} {micros / base:17.1f}")


if __name__ == "__main__":
    main()
