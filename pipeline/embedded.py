"""``radar run``: the runner, the scheduler and the dashboard in one process.

Signals belong to this module, not to uvicorn: on SIGTERM / SIGINT the pipeline drains
into the store first, then the web server stops, so a shutdown never loses accepted posts.
A second SIGINT while draining exits at once (the checkpoints make that safe, just slower
to resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from collectors.sample import SampleSourceSettings
from dashboards.app import create_app
from detectors import Detector
from pipeline.config import Settings
from pipeline.runner import Runner
from pipeline.store.factory import open_store

log = logging.getLogger("radar")
PROGRESS_SECONDS = 10.0


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def configured_sources(settings: Settings) -> list:
    sources = list(settings.sources)
    if settings.sample_enabled and not any(s.name == "sample" for s in sources):
        sources.append(
            SampleSourceSettings(
                name="sample",
                interval_seconds=settings.sample.interval_seconds,
                duration_seconds=settings.sample.duration_seconds,
                path=settings.sample.path,
            )
        )
    return sources


def load_detector(settings: Settings) -> Detector:
    lexicon = settings.detector.lexicon_dir
    return Detector(lexicon_dir=None if lexicon is None else Path(lexicon).expanduser())


class PortInUseError(OSError):
    pass


def bind_dashboard(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is a clear error, not a half-started
    monitor (uvicorn would ``sys.exit`` from inside its task)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def run_monitor(settings: Settings) -> int:
    sock = None
    if settings.dashboard.enabled:
        sock = bind_dashboard(settings.dashboard.host, settings.dashboard.port)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    await store.open()
    detector = load_detector(settings)
    runner = Runner(settings, store, detector, configured_sources(settings))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = 0

    def on_signal(signum: int) -> None:
        nonlocal presses
        presses += 1
        if presses > 1 and signum == signal.SIGINT:
            log.warning("second interrupt: exiting without draining")
            os._exit(130)
        log.info("%s received: draining the pipeline", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    server = None
    server_task = None
    if sock is not None:
        app = create_app(
            store,
            status_provider=runner.status_async,
            ingest=runner.ingest,
            ingest_sources=[
                s for s in runner.sources.values() if s.__struct_config__.tag == "ingest"
            ],
            tz=settings.tz,
        )
        config = uvicorn.Config(
            app,
            host=settings.dashboard.host,
            port=settings.dashboard.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = _EmbeddedServer(config)
        server_task = asyncio.create_task(server.serve([sock]), name="radar-dashboard")

    await runner.start()
    if server is not None:
        log.info(
            "dashboard: http://%s:%d/  (data: %s)",
            settings.dashboard.host,
            sock.getsockname()[1],
            settings.data_path.resolve(),
        )
    reporter = asyncio.create_task(_report_progress(runner, stop))
    await stop.wait()
    reporter.cancel()
    await runner.stop()
    if server is not None and server_task is not None:
        server.should_exit = True
        await server_task
    await store.close()
    log.info("stopped cleanly")
    return 0


async def _report_progress(runner: Runner, stop: asyncio.Event) -> None:
    last = None
    while not stop.is_set():
        await asyncio.sleep(PROGRESS_SECONDS)
        line = runner.progress_line()
        if line != last:
            log.info(line)
            last = line
