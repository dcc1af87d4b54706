"""The many-job commands of ``python -m beanclient``: tail, clear, move, export, import.

beanstalkd shows only the first job of each state of a tube (``peek-ready`` and friends), so
``clear`` and ``move`` work from the top of each state until it is empty; ``export`` looks job ids
up one by one (``_cli_export``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from . import _cli_export
from ._cli_commands import STATES, AddAddress, Progress, body_text, command_adder
from ._errors import NotFoundError, TimedOutError
from ._protocol import DEFAULT_PRIORITY, DEFAULT_TTR, Job
from ._sync import Client


def add_parsers(commands: Any, add_address: AddAddress) -> None:
    command = command_adder(commands, add_address)

    def states(parser: argparse.ArgumentParser, default: str) -> None:
        parser.add_argument(
            "--state",
            action="append",
            choices=STATES,
            dest="states",
            help=f"which jobs (repeat for more; default: {default})",
        )

    p = command("tail", tail, "print each job as it arrives in some tubes, then release or delete it")
    p.add_argument("tubes", nargs="*", default=["default"], metavar="tube")
    p.add_argument("--delete", action="store_true", help="delete each job shown (default: release it)")
    p.add_argument("--count", type=int, help="stop after this many jobs")
    p.add_argument("--raw", action="store_true", help="bodies as they are, without pretty-printing JSON")
    p = command("clear", clear, "delete every job of a tube in the given states")
    p.add_argument("tube")
    states(p, "ready, delayed and buried")
    p = command("move", move, "move jobs from one tube to another (priority, TTR and remaining delay kept)")
    p.add_argument("source")
    p.add_argument("destination")
    states(p, "ready, delayed and buried")
    _cli_export.add_parser(command)
    p = command("import", import_, "put the jobs of a JSON lines file (as written by export)")
    p.add_argument("file", help="the file ('-': stdin)")
    p.add_argument("--tube", help="put every job into this tube instead of its own")


def tail(client: Client[bytes], args: argparse.Namespace) -> int:
    for tube in args.tubes:
        client.watch(tube)
    if "default" not in args.tubes:
        client.ignore("default")
    shown = 0
    while args.count is None or shown < args.count:
        try:
            job = client.reserve(timeout=1)  # a bounded wait keeps Ctrl-C prompt
        except TimedOutError:
            continue
        info = client.stats_job(job)
        print(f"--- job {job.id}  tube {info['tube']}  pri {info['pri']}  ttr {info['ttr']}", flush=False)
        print(body_text(job.body, args.raw), flush=True)
        if args.delete:
            client.delete(job)
        else:
            client.release(job, info["pri"], 0)
        shown += 1
    return 0


def _top_jobs(client: Client[bytes], states: list[str]) -> Iterator[tuple[str, Job[bytes]]]:
    """The first job of each state of the used tube, again and again, until all are empty. The
    caller removes each job before asking for the next."""
    peekers = {"ready": client.peek_ready, "delayed": client.peek_delayed, "buried": client.peek_buried}
    for state in states:
        while True:
            try:
                yield state, peekers[state]()
            except NotFoundError:
                break


def _count(client: Client[bytes], tube: str, states: list[str]) -> int:
    try:
        info = client.stats_tube(tube)
    except NotFoundError:
        return 0
    counts: dict[str, Any] = dict(info)
    return sum(int(counts[f"current-jobs-{state}"]) for state in states)


def clear(client: Client[bytes], args: argparse.Namespace) -> int:
    states = args.states or list(STATES)
    client.use(args.tube)
    progress = Progress(f"clearing {args.tube}", _count(client, args.tube, states))
    deleted = 0
    for _, job in _top_jobs(client, states):
        try:
            client.delete(job)
            deleted += 1
        except NotFoundError:
            pass  # taken by someone else meanwhile
        progress.step()
    progress.close()
    print(f"deleted {deleted} jobs from {args.tube}")
    return 0


def move(client: Client[bytes], args: argparse.Namespace) -> int:
    if args.source == args.destination:
        raise ValueError("the source and destination tubes are the same")
    states = args.states or list(STATES)
    progress = Progress(f"moving {args.source}", _count(client, args.source, states))
    moved = 0
    client.use(args.source)
    for state, job in _top_jobs(client, states):
        try:
            info = client.stats_job(job)
        except NotFoundError:
            continue
        delay = int(info["time-left"]) if state == "delayed" else 0
        client.use(args.destination)
        new_id = client.put(job.body, info["pri"], delay, info["ttr"])
        if state == "buried":  # keep it buried: take it, then bury it in its new tube
            client.bury(client.reserve_job(new_id), info["pri"])
        client.delete(job)  # after the copy exists: a failure in between leaves two, never none
        client.use(args.source)
        moved += 1
        progress.step()
    progress.close()
    print(f"moved {moved} jobs from {args.source} to {args.destination}")
    return 0


def import_(client: Client[bytes], args: argparse.Namespace) -> int:
    source: IO[str] = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    progress = Progress("importing", None)
    imported = 0
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                body = (
                    base64.b64decode(record["body_base64"])
                    if "body_base64" in record
                    else record["body"].encode("utf-8")
                )
                tube = args.tube or record.get("tube", "default")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{args.file}:{number}: not a job record ({exc!r})") from exc
            client.use(tube)
            pri = record.get("pri", DEFAULT_PRIORITY)
            new_id = client.put(body, pri, record.get("delay", 0), record.get("ttr", DEFAULT_TTR))
            if record.get("state") == "buried":
                client.bury(client.reserve_job(new_id), pri)
            imported += 1
            progress.step()
    finally:
        progress.close()
        if source is not sys.stdin:
            source.close()
    print(f"imported {imported} jobs")
    return 0
