"""`opscom-bridge dlq ...` and `opscom-bridge stats`: operations from a terminal.

Exit status: 0 done, 1 the operation failed (unknown id, RabbitMQ or OPS-COM refused),
2 usage or settings. A SettingsError propagates to bridge.cli, which prints one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from bridge import db
from bridge.deadletters import DeadLetters, Filter
from bridge.errors import BrokerUnavailable
from bridge.settings import Settings, load_settings
from bridge.web.admin import parse_time, result_body, validate_edit

#: Seconds the CLI waits for RabbitMQ to connect and confirm each replay.
CONFIRM_TIMEOUT = 10.0
#: A progress line every this many dead letters during a bulk replay.
PROGRESS_EVERY = 100
REASON_WIDTH = 60


def dlq_main(argv: list[str]) -> int:
    """`opscom-bridge dlq list|show|replay|purge`."""
    parser = _dlq_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse already printed it
        return exc.code if isinstance(exc.code, int) else 2
    settings = load_settings()
    dead = DeadLetters(db.connect(settings.database_url.reveal()), settings.secrets())
    command: Callable[[argparse.Namespace, Settings, DeadLetters], int] = args.run
    return command(args, settings, dead)


def stats_main(argv: list[str]) -> int:
    """`opscom-bridge stats [--zones "Lot 01,Lot 02"] [--json]`."""
    parser = argparse.ArgumentParser(prog="opscom-bridge stats",
                                     description="OPS-COM permit stats (Pull API)")
    parser.add_argument("--zones", help='comma-separated zone names, e.g. "Lot 01,Lot 02"')
    parser.add_argument("--json", action="store_true", help="print the raw rows as JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    settings = load_settings(require=("OPSCOM_BASE_URL", "OPSCOM_API_TOKEN"))
    from bridge.opscom import OpsComClient

    client = OpsComClient.from_settings(settings)
    try:
        outcome = client.stats(args.zones or None)
    finally:
        client.close()
    if not outcome.ok:
        print(f"opscom-bridge stats: OPS-COM stats failed: {outcome.describe()}",
              file=sys.stderr)
        return 1
    rows = list(outcome.data or ())
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_table(("TYPE", "ZONE", "TOTAL"),
                     [(r.get("type"), r.get("zone"), r.get("total")) for r in rows]))
    return 0


# -- dlq subcommands -------------------------------------------------------------------
def _list(args: argparse.Namespace, _settings: Settings, dead: DeadLetters) -> int:
    items, total = dead.list(_filter(args), limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps({"items": items, "total": total}, indent=2))
        return 0
    rows = [(i["id"], str(i["created_at"])[:19], i["vendor"],
             f"{i['source']}/{i['source_id']}", i["action"], i["error_code"],
             _cut(i["reason"], REASON_WIDTH)) for i in items]
    if rows:
        print(_table(("ID", "CREATED_AT", "VENDOR", "SOURCE/SOURCE_ID", "ACTION",
                      "ERROR_CODE", "REASON"), rows))
    print(f"{len(items)} of {total} dead letters" + (
        f" (from {args.offset + 1}; --limit/--offset for more)" if len(items) < total else ""))
    return 0


def _show(args: argparse.Namespace, _settings: Settings, dead: DeadLetters) -> int:
    record = dead.get(args.id)
    if record is None:
        print(f"opscom-bridge dlq: no dead letter {args.id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    for name in ("id", "created_at", "vendor", "source", "source_id", "event_id", "action",
                 "error_code", "reason"):
        print(f"{name + ':':<12} {_text(record[name])}")
    print("attempts:")
    for n, attempt in enumerate(record["attempts"] or [], start=1):
        print(f"  {n}. " + " ".join(f"{k}={v}" for k, v in attempt.items() if v is not None))
    print("message (as received):")
    print(_indent(json.dumps(record["message"], indent=2)))
    print("command (as translated):")
    print(_indent(json.dumps(record["command"], indent=2)))
    return 0


def _replay(args: argparse.Namespace, settings: Settings, dead: DeadLetters) -> int:
    where = _filter(args)
    by_filter = args.all or where != Filter()
    problem = None
    if args.ids and by_filter:
        problem = "give dead-letter ids or --all/filters, not both"
    elif not args.ids and not by_filter:
        problem = "name dead-letter ids, or --all, or a filter (--vendor, --permit, ...)"
    elif args.edit and len(args.ids) != 1:
        problem = "--edit replays exactly one dead letter: give one id"
    if problem:
        print(f"opscom-bridge dlq replay: {problem}", file=sys.stderr)
        return 2
    edited = None
    if args.edit:
        try:
            edited = _read_edit(args.edit, dead, args.ids[0])
        except (OSError, ValueError) as exc:
            print(f"opscom-bridge dlq replay: {exc}", file=sys.stderr)
            return 1
    ids = args.ids or [item["id"] for item in dead.list(where, limit=None)[0]]
    return _run_replay(settings, dead, ids, edited, args.json, progress=by_filter)


def _purge(args: argparse.Namespace, _settings: Settings, dead: DeadLetters) -> int:
    where = _filter(args)
    if not args.yes:
        count = dead.list(where, limit=0)[1]
        print(f"opscom-bridge dlq purge: this deletes {count} dead letters for good; "
              "add --yes to do it", file=sys.stderr)
        return 2
    print(f"purged {dead.purge(where)} dead letters")
    return 0


def _run_replay(settings: Settings, dead: DeadLetters, ids: list[str],
                edited: dict[str, Any] | None, as_json: bool, progress: bool) -> int:
    from bridge.replay import Replayer, ReplayResult
    from bridge.store import Store

    result = ReplayResult()
    with _publisher(settings) as publisher:
        replayer = Replayer(dead, Store(dead.engine), publisher)
        try:
            for n, dead_letter_id in enumerate(ids, start=1):
                replayer.replay_one(dead_letter_id, edited, result=result)
                if progress and n % PROGRESS_EVERY == 0 and n < len(ids):
                    print(f"... {n} of {len(ids)}", file=sys.stderr, flush=True)
        except BrokerUnavailable as exc:
            done = len(result.replayed) + len(result.adopted)
            print(f"opscom-bridge dlq replay: stopped after {done} of {len(ids)}: {exc}",
                  file=sys.stderr)
            return 1
    if as_json:
        print(json.dumps(result_body(result), indent=2))
    else:
        print(f"replayed {len(result.replayed)}, adopted {len(result.adopted)}, "
              f"failed {len(result.failed)}")
        for dead_letter_id, reason in result.failed.items():
            print(f"  {dead_letter_id}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


@contextmanager
def _publisher(settings: Settings) -> Iterator[Any]:
    from bridge.publisher import Publisher

    publisher = Publisher(settings.amqp_url.reveal(), settings.partitions,
                          max(settings.confirm_timeout, CONFIRM_TIMEOUT))
    try:
        yield publisher
    finally:
        publisher.close()


def _read_edit(path: str, dead: DeadLetters, dead_letter_id: str) -> dict[str, Any]:
    """The edited command from FILE ('-': stdin), checked as the replay will load it."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        edited = json.loads(text)
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    record = dead.get(dead_letter_id)
    if record is None:
        raise ValueError(f"no dead letter {dead_letter_id}")
    try:
        validate_edit(record, edited)
    except ValidationError as exc:
        raise ValueError(f"invalid command in {path}: {json.dumps(exc.messages)}") from None
    return dict(edited)


# -- parsing and printing ------------------------------------------------------------------
def _dlq_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opscom-bridge dlq", description="dead letters")
    subs = parser.add_subparsers(dest="action", required=True, metavar="list|show|replay|purge")
    listing = subs.add_parser("list", help="list dead letters, oldest first")
    _filters(listing)
    listing.add_argument("--limit", type=_natural, default=100, help="at most (default 100)")
    listing.add_argument("--offset", type=_natural, default=0, help="skip this many first")
    listing.add_argument("--json", action="store_true", help='{"items": [...], "total": N}')
    listing.set_defaults(run=_list)
    show = subs.add_parser("show", help="one dead letter in full")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)
    replay = subs.add_parser("replay", help="publish dead letters to the work queues again")
    replay.add_argument("ids", nargs="*", metavar="ID")
    replay.add_argument("--all", action="store_true", help="every dead letter (or every match)")
    replay.add_argument("--edit", metavar="FILE", help="replay ID with the command in FILE")
    replay.add_argument("--json", action="store_true", help="print the result as JSON")
    _filters(replay)
    replay.set_defaults(run=_replay)
    purge = subs.add_parser("purge", help="delete dead letters (all, or the matching ones)")
    purge.add_argument("--yes", action="store_true", help="really delete them")
    _filters(purge)
    purge.set_defaults(run=_purge)
    return parser


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendor", help="vendor name, e.g. easypark")
    parser.add_argument("--error-code", type=int, help="OPS-COM ErrorCode, e.g. 9033")
    parser.add_argument("--since", type=_time, help="ISO 8601, e.g. 2024-05-01T00:00:00Z")
    parser.add_argument("--permit", help="the permit's source_id")
    parser.add_argument("--source", help="the sender (source)")


def _filter(args: argparse.Namespace) -> Filter:
    return Filter(vendor=args.vendor, error_code=args.error_code, since=args.since,
                  source=args.source, permit=args.permit)


def _time(text: str) -> Any:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    cells = [headers, *[tuple(_text(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _cut(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
