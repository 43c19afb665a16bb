"""The ``radar`` command. Thin: parse arguments, load settings, call one module.

Every operator-facing failure (bad settings, busy port, unreadable file) is one line on
stderr and exit status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError, Settings, load_settings, write_sample_config

EXIT_USAGE = 2


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    cli: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        cli["data_dir"] = args.data_dir
    dashboard = {k: v for k, v in overrides.items() if k in ("host", "port") and v is not None}
    if dashboard:
        cli["dashboard"] = dashboard
    return load_settings(args.config, overrides=cli)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.path)
    write_sample_config(path, force=args.force)
    print(f"wrote {path}: edit it, then `radar run --config {path}`")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.embedded import PortInUseError, run_monitor

    settings = _settings(args, host=args.host, port=args.port)
    if args.no_dashboard:
        settings.dashboard.enabled = False
    _setup_logging(settings.log_level)
    try:
        return asyncio.run(run_monitor(settings))
    except PortInUseError as exc:
        print(f"radar: {exc} (choose another with --port)", file=sys.stderr)
        return EXIT_USAGE


def cmd_import(args: argparse.Namespace) -> int:
    from pipeline.importer import import_files

    settings = _settings(args)
    _setup_logging(settings.log_level)
    return asyncio.run(
        import_files(settings, args.path, file_format=args.format, platform=args.platform)
    )


def cmd_scan(args: argparse.Namespace) -> int:
    from detectors import Detector
    from pipeline import scan

    detector = Detector()
    lines = _input_lines(args.path)
    if args.accounts:
        return scan.scan_accounts(lines, sys.stdout, sys.stderr, detector)
    return scan.scan_posts(lines, sys.stdout, sys.stderr, detector)


def cmd_eval(args: argparse.Namespace) -> int:
    from detectors import Detector
    from pipeline import scan

    lines = _input_lines(args.path)
    if args.rings:
        from detectors.ring_eval import evaluate_rings

        return evaluate_rings(lines, sys.stdout, sys.stderr, Detector(), as_json=args.json)
    return scan.evaluate(lines, sys.stdout, sys.stderr, Detector(), as_json=args.json)


def cmd_search(args: argparse.Namespace) -> int:
    from pipeline.search_cli import run_search

    settings = _settings(args)
    raw = {
        "q": " ".join(args.query),
        "category": args.category,
        "platform": args.platform,
        "since": args.since,
        "until": args.until,
        "min_score": args.min_score,
        "status": args.status,
        "page": args.page,
        "page_size": args.page_size,
    }
    if args.all:
        raw["flagged_only"] = "false"
    params = {key: str(value) for key, value in raw.items() if value not in (None, "")}
    return asyncio.run(run_search(settings, params, as_json=args.json))


def cmd_sources(args: argparse.Namespace) -> int:
    from pipeline.sources_cli import run_sources

    return asyncio.run(run_sources(_settings(args)))


def cmd_collect(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _setup_logging(settings.log_level)
    if not args.once:  # the scale-out collector process: schedule, publish to Kafka
        from pipeline.worker import run_publisher

        return asyncio.run(run_publisher(settings, args.name))
    from pipeline.sources_cli import run_collect

    if args.name is None:
        raise ConfigError("collect --once: name the source to run")
    return asyncio.run(run_collect(settings, args.name, force=args.force))


def cmd_worker(args: argparse.Namespace) -> int:
    from pipeline.worker import run_worker

    settings = _settings(args)
    _setup_logging(settings.log_level)
    return run_worker(settings)


def cmd_recheck(args: argparse.Namespace) -> int:
    from pipeline.sources_cli import run_recheck

    settings = _settings(args)
    _setup_logging(settings.log_level)
    return asyncio.run(run_recheck(settings))


def cmd_takedown(args: argparse.Namespace) -> int:
    from pipeline.takedown.cli import run_takedown

    settings = _settings(args)
    _setup_logging(settings.log_level)
    return asyncio.run(
        run_takedown(
            settings,
            platforms=args.platform,
            out_dir=args.out,
            dry_run=args.dry_run,
            formats=args.format,
        )
    )


def cmd_rings(args: argparse.Namespace) -> int:
    from pipeline.rings.cli import run_rings

    settings = _settings(args)
    _setup_logging("WARNING" if args.json else settings.log_level)
    return asyncio.run(run_rings(settings, as_json=args.json))


def cmd_alerts(args: argparse.Namespace) -> int:
    from pipeline.alerts.cli import run_alerts, send_test

    settings = _settings(args)
    if args.send_test:
        return asyncio.run(send_test(settings, args.send_test))
    return asyncio.run(
        run_alerts(settings, status=args.status, limit=args.limit, as_json=args.json)
    )


def _input_lines(path: str):
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="radar.toml path (default: $RADAR_CONFIG, else none)")
    common.add_argument("--data-dir", help="where the store lives (default ./radar-data)")

    parser = argparse.ArgumentParser(
        prog="radar", description="黑产雷达 Heichan Radar: 代理维权 black-market monitor"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="write a commented sample radar.toml")
    init.add_argument("path", nargs="?", default="radar.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)

    run = sub.add_parser("run", parents=[common], help="monitor: collect, flag, store, serve")
    run.add_argument("--port", type=int, help="dashboard port (default 8600)")
    run.add_argument("--host", help="dashboard address (default 127.0.0.1)")
    run.add_argument("--no-dashboard", action="store_true", help="run without the web page")
    run.set_defaults(func=cmd_run)

    imp = sub.add_parser(
        "import", parents=[common], help="read JSONL / CSV files once through the pipeline"
    )
    imp.add_argument("path", help="file or glob")
    imp.add_argument("--format", choices=["auto", "jsonl", "csv"], default="auto")
    imp.add_argument("--platform", default="files", help="platform for records without one")
    imp.set_defaults(func=cmd_import)

    scan = sub.add_parser("scan", help="verdicts for JSONL posts (stdin or PATH) as JSONL")
    scan.add_argument("path", nargs="?", default="-")
    scan.add_argument("--accounts", action="store_true", help="input lines are accounts")
    scan.set_defaults(func=cmd_scan)

    evaluate = sub.add_parser("eval", help="precision / recall / F1 on a labeled JSONL")
    evaluate.add_argument("path")
    evaluate.add_argument("--json", action="store_true", help="machine-readable metrics")
    evaluate.add_argument(
        "--rings", action="store_true", help="ring membership pairwise precision / recall"
    )
    evaluate.set_defaults(func=cmd_eval)

    search = sub.add_parser("search", parents=[common], help="search flagged posts")
    search.add_argument("query", nargs="*", help="words to find (may be empty)")
    search.add_argument("--category", help="surrender | debt | credit | complaint | other_scheme")
    search.add_argument("--platform")
    search.add_argument("--since", help="YYYY-MM-DD or ISO 8601 (Asia/Shanghai if no offset)")
    search.add_argument("--until")
    search.add_argument("--min-score", dest="min_score")
    search.add_argument("--status", help="new | confirmed | dismissed | reported | taken_down")
    search.add_argument("--page", type=int)
    search.add_argument("--page-size", dest="page_size", type=int)
    search.add_argument("--all", action="store_true", help="include posts not flagged")
    search.add_argument("--json", action="store_true", help="print the /api/search JSON")
    search.set_defaults(func=cmd_search)

    sources = sub.add_parser(
        "sources", parents=[common], help="every source: health, last success, posts per hour/day"
    )
    sources.set_defaults(func=cmd_sources)

    collect = sub.add_parser(
        "collect",
        parents=[common],
        help="--once: run one source now and print what it got; "
        "without: run the sources on schedule, publishing to Kafka",
    )
    collect.add_argument("name", nargs="?", help="the source's name in radar.toml")
    collect.add_argument("--once", action="store_true", help="run the source once and exit")
    collect.add_argument("--force", action="store_true", help="run even while cooling down")
    collect.set_defaults(func=cmd_collect)

    worker = sub.add_parser(
        "worker", parents=[common], help="scale-out: a faust worker (detect, accounts, store)"
    )
    worker.set_defaults(func=cmd_worker)

    recheck = sub.add_parser(
        "recheck", parents=[common], help="ask platforms whether reported accounts are gone"
    )
    recheck.set_defaults(func=cmd_recheck)

    alerts = sub.add_parser(
        "alerts", parents=[common], help="告警: the alert outbox (pending / sent / failed)"
    )
    alerts.add_argument("--status", help="only pending | sent | failed")
    alerts.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    alerts.add_argument("--json", action="store_true", help="counts and alerts as JSON")
    alerts.add_argument(
        "--send-test", metavar="ADDRESS", help="send a test alert mail through [alerts.smtp]"
    )
    alerts.set_defaults(func=cmd_alerts)

    takedown = sub.add_parser(
        "takedown",
        parents=[common],
        help="produce takedown lists of confirmed accounts now (marks them reported)",
    )
    takedown.add_argument(
        "--platform", action="append", help="only this platform (repeatable; default: all)"
    )
    takedown.add_argument("--out", help="write the files here (default DATA_DIR/takedowns)")
    takedown.add_argument(
        "--dry-run", action="store_true", help="show what would be listed; change nothing"
    )
    takedown.add_argument(
        "--format",
        action="append",
        choices=["csv", "xlsx"],
        help="file format (repeatable; default: [takedown] formats, csv and xlsx)",
    )
    takedown.set_defaults(func=cmd_takedown)

    rings = sub.add_parser(
        "rings",
        parents=[common],
        help="团伙: link stored accounts sharing a private contact now, save and print the rings",
    )
    rings.add_argument("--json", action="store_true", help="rings and members as JSON")
    rings.set_defaults(func=cmd_rings)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"radar: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
