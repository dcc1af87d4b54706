"""The one-shot commands of ``python -m beanclient``: stats, tubes, stats-tube, peek, put, kick,
delete, bury, pause. Each is ``run(client, args) -> exit status``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import IO, Any

from ._errors import NotFoundError
from ._protocol import DEFAULT_PRIORITY, DEFAULT_TTR, Job
from ._sync import Client

AddAddress = Callable[[argparse.ArgumentParser], None]
STATES = ("ready", "delayed", "buried")


AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


def command_adder(commands: Any, add_address: AddAddress) -> AddCommand:
    """``command(name, run, help)``: add a sub-command that talks to a server (the address options,
    and ``run(client, args)`` to call); returns its parser for the command's own arguments."""

    def command(name: str, run: Callable[..., int], help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
        add_address(parser)
        parser.set_defaults(run=run)
        return parser

    return command


class Progress:
    """``label: done/total`` on one stderr line, redrawn in place, when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label, self.total, self.done = label, total, 0
        self.shown = self.stream.isatty()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.shown and (self.done % 100 == 0 or self.done == self.total):
            total = f"/{self.total}" if self.total is not None else ""
            self.stream.write(f"\r{self.label}: {self.done}{total}")
            self.stream.flush()

    def close(self) -> None:
        if self.shown and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def add_parsers(commands: Any, add_address: AddAddress) -> None:
    command = command_adder(commands, add_address)
    p = command("stats", stats, "server statistics, as a table")
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p = command("tubes", tubes, "every tube with its job counts")
    p.add_argument("--json", action="store_true", help="as JSON")
    p = command("stats-tube", stats_tube, "one tube's statistics")
    p.add_argument("tube")
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p = command("peek", peek, "show the next ready, delayed or buried job of a tube, or a job by id")
    p.add_argument("what", help="ready, delayed, buried, or a job id")
    p.add_argument("--tube", default="default")
    p.add_argument("--raw", action="store_true", help="the body as it is, without pretty-printing JSON")
    p = command("put", put, "put a job")
    p.add_argument("body", nargs="?", help="the body (default: read --file, or stdin)")
    p.add_argument("--file", help="read the body from this file ('-': stdin)")
    p.add_argument("--tube", default="default")
    p.add_argument("--priority", type=int, default=DEFAULT_PRIORITY)
    p.add_argument("--delay", type=int, default=0)
    p.add_argument("--ttr", type=int, default=DEFAULT_TTR)
    p = command("kick", kick, "make buried (else delayed) jobs ready: a count, or one job with --job")
    p.add_argument("count", nargs="?", type=int, help="how many jobs at most")
    p.add_argument("--job", type=int, help="kick this job")
    p.add_argument("--tube", default="default")
    p = command("delete", delete, "delete jobs by id")
    p.add_argument("ids", nargs="+", type=int, metavar="id")
    p = command("bury", bury, "bury a ready job by id (reserving it first)")
    p.add_argument("ids", nargs="+", type=int, metavar="id")
    p.add_argument("--priority", type=int, help="the new priority (default: the job's own)")
    p = command("pause", pause, "keep a tube's jobs from being reserved for some seconds (0: resume)")
    p.add_argument("tube")
    p.add_argument("seconds", type=int)


# -- output helpers ------------------------------------------------------------------------------


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(width) if i and cell.lstrip("-").replace(".", "").isdigit() else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def print_mapping(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print_table([(key, str(value)) for key, value in data.items()])


def body_text(body: bytes, raw: bool = False) -> str:
    """The body for a terminal: JSON pretty-printed, text as it is, other bytes escaped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return repr(body)
    if not raw:
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text


def print_job(client: Client[bytes], job: Job[bytes], raw: bool) -> None:
    try:
        info = client.stats_job(job)
        print(
            f"id {job.id}  tube {info['tube']}  state {info['state']}  pri {info['pri']}  ttr {info['ttr']}"
        )
    except NotFoundError:  # gone between the peek and the stats
        print(f"id {job.id}")
    print(body_text(job.body, raw))


def not_found(what: str) -> int:
    print(f"beanclient: {what} not found", file=sys.stderr)
    return 1


# -- commands -----------------------------------------------------------------------------------


def stats(client: Client[bytes], args: argparse.Namespace) -> int:
    print_mapping(dict(client.stats()), args.json)
    return 0


def tubes(client: Client[bytes], args: argparse.Namespace) -> int:
    counts = []
    for tube in sorted(client.tubes()):
        info = client.stats_tube(tube)
        counts.append(
            {
                "tube": tube,
                "ready": info["current-jobs-ready"],
                "delayed": info["current-jobs-delayed"],
                "reserved": info["current-jobs-reserved"],
                "buried": info["current-jobs-buried"],
                "paused": info["pause-time-left"],
            }
        )
    if args.json:
        print(json.dumps(counts, indent=2))
    else:
        header = ("tube", "ready", "delayed", "reserved", "buried", "paused")
        print_table([header] + [tuple(str(c[k]) for k in header) for c in counts])
    return 0


def stats_tube(client: Client[bytes], args: argparse.Namespace) -> int:
    try:
        print_mapping(dict(client.stats_tube(args.tube)), args.json)
    except NotFoundError:
        return not_found(f"tube {args.tube!r}")
    return 0


def peek(client: Client[bytes], args: argparse.Namespace) -> int:
    what = args.what
    try:
        if what.isdigit():
            job = client.peek(int(what))
        elif what in STATES:
            client.use(args.tube)
            job = {"ready": client.peek_ready, "delayed": client.peek_delayed, "buried": client.peek_buried}[
                what
            ]()
        else:
            raise ValueError(f"peek what? {what!r} is not ready, delayed, buried or a job id")
    except NotFoundError:
        return not_found(f"job {what}" if what.isdigit() else f"{what} job in tube {args.tube!r}")
    print_job(client, job, args.raw)
    return 0


def put(client: Client[bytes], args: argparse.Namespace) -> int:
    if args.body is not None and args.file is not None:
        raise ValueError("give the body as an argument or with --file, not both")
    if args.body is not None:
        body = args.body.encode("utf-8")
    elif args.file in (None, "-"):
        body = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            body = f.read()
    client.use(args.tube)
    print(client.put(body, args.priority, args.delay, args.ttr))
    return 0


def kick(client: Client[bytes], args: argparse.Namespace) -> int:
    if (args.count is None) == (args.job is None):
        raise ValueError("give a count, or --job ID")
    if args.job is not None:
        try:
            client.kick_job(args.job)
        except NotFoundError:
            return not_found(f"buried or delayed job {args.job}")
        print(f"kicked job {args.job}")
        return 0
    client.use(args.tube)
    print(f"kicked {client.kick(args.count)}")
    return 0


def delete(client: Client[bytes], args: argparse.Namespace) -> int:
    missing = []
    for job_id in args.ids:
        try:
            client.delete(job_id)
            print(f"deleted {job_id}")
        except NotFoundError:
            missing.append(job_id)
            not_found(f"job {job_id}")
    return 1 if missing else 0


def bury(client: Client[bytes], args: argparse.Namespace) -> int:
    """beanstalkd buries only jobs the connection has reserved: take each job with ``reserve-job``."""
    failed = False
    for job_id in args.ids:
        try:
            job = client.reserve_job(job_id)
            priority = args.priority if args.priority is not None else client.stats_job(job)["pri"]
            client.bury(job, priority)
            print(f"buried {job_id}")
        except NotFoundError:
            failed = True
            not_found(f"ready or delayed job {job_id}")
    return 1 if failed else 0


def pause(client: Client[bytes], args: argparse.Namespace) -> int:
    try:
        client.pause_tube(args.tube, args.seconds)
    except NotFoundError:
        return not_found(f"tube {args.tube!r}")
    print(f"paused {args.tube} for {args.seconds} s")
    return 0
