"""Baseline for bench/stream.py: a faust agent that does nothing with the posts.

Consumes ``radar.posts.raw`` exactly as the radar worker does (same faust settings, the
same ``take_events`` batches, isolated partitions, the same decoding of posts and post
bundles) and only counts the posts, so the difference between it and ``radar worker`` is
what detection, the account table, the verdicts and the store cost. Writes the running
count to ``COUNT_FILE``.

    python bench/faust_baseline.py CONFIG COUNT_FILE
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import faust  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.faust_app import _faust_app  # noqa: E402
from pipeline.kafka_settings import POSTS_TOPIC  # noqa: E402
from pipeline.post_bundles import decode_messages  # noqa: E402


def main() -> None:
    config, count_file = sys.argv[1], Path(sys.argv[2])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings(config)
    kafka = settings.stream.kafka
    settings.data_path.mkdir(parents=True, exist_ok=True)  # faust's state dir lives here
    app = _faust_app(settings)
    posts = app.topic(
        POSTS_TOPIC,
        key_type=str,
        value_serializer="raw",
        partitions=kafka.partitions,
        replicas=kafka.replication,
    )
    seen = 0

    @app.agent(posts, name="baseline.count", isolated_partitions=True)
    async def count(stream: Any) -> None:
        nonlocal seen
        async for events in stream.take_events(kafka.take_messages, kafka.batch_timeout_seconds):
            decoded = decode_messages(((e.value, "") for e in events), POSTS_TOPIC)
            seen += len(decoded.posts)
            count_file.write_text(str(seen), encoding="utf-8")

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False)
    sys.argv[1:] = []  # the worker parses the command line
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()


if __name__ == "__main__":
    main()
