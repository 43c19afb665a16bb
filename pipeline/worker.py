"""``radar worker`` and ``radar collect`` (no ``--once``): the scale-out processes.

A worker is a faust worker started in this process (no ``faust`` command line, no
``-A module`` discovery): it joins the consumer group named by ``stream.kafka.group_id``,
so any number of them share the partitions, and faust moves partitions (and the account
table, from its changelog) when one joins, leaves or dies. The web server stays off:
workers expose nothing; the dashboard reads the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import faust

from pipeline.config import ConfigError, Settings
from pipeline.embedded import configured_sources, load_detector
from pipeline.faust_app import build_app, open_store
from pipeline.gc_tuning import tune_for_streaming

log = logging.getLogger("radar.worker")


def _require_kafka(settings: Settings, command: str) -> None:
    if settings.stream.kind != "kafka":
        raise ConfigError(
            f"stream.kind: `radar {command}` needs the scale-out mode "
            '(set stream.kind = "kafka" or RADAR_STREAM__KIND=kafka)'
        )


def run_worker(settings: Settings) -> int:
    """Run one faust worker until SIGTERM / SIGINT; returns the exit status."""
    _require_kafka(settings, "worker")
    settings.data_path.mkdir(parents=True, exist_ok=True)  # faust's state dir lives here
    for noisy in ("elastic_transport", "mode.timers"):  # a line per request / late tick
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    radar = build_app(settings, detector=load_detector(settings))
    tune_for_streaming()
    worker = faust.Worker(
        radar.app,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


async def run_publisher(settings: Settings, name: str | None = None) -> int:
    """Run the collectors on their schedules, publishing to Kafka, until a signal."""
    from pipeline.publisher import Publisher

    _require_kafka(settings, "collect")
    sources = configured_sources(settings)
    if name is not None:
        sources = [s for s in sources if s.name == name]
        if not sources:
            raise ConfigError(f"sources: no source named {name!r}")
    store = open_store(settings)
    await store.open()
    publisher = Publisher(settings, store, sources)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await publisher.start()
    try:
        await stop.wait()
    finally:
        await publisher.stop()
        await store.close()
        log.info("published %d post(s)", publisher.published)
    return 0
