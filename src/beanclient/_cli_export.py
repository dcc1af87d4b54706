"""``export`` of ``python -m beanclient``: every job a beanstalkd holds, as JSON lines, changing none.

beanstalkd has no command that lists jobs: ``peek-ready``/``peek-delayed``/``peek-buried`` show the
first job of a state of a tube, reserved jobs show nowhere, and learning the id the next job would
get takes a ``put``. So the export looks ids up one by one (``stats-job <id>``, then ``peek <id>``
for the body), from 1 upward, until it has found as many jobs as ``stats`` said the server held when
it began (in every tube: one ``stats`` is one moment; ``stats-tube`` for each tube named would not be).

That count is a proof, not a guess, because ids only grow: a job put after the count was taken has a
higher id than every job counted, so the scan cannot reach the count with it before it has passed
every counted job. Only a job deleted during the export can keep the count from being reached. Then
the scan has no upper bound to go by (``total-jobs`` restarts at 0 when a server restarts from its
binlog, while ids go on; and ids of deleted jobs leave gaps of any size), so it stops once it is past
``total-jobs`` and past every id a peek showed, and has seen ``max_gap`` ids in a row without a job;
it says so on stderr and exits with ``EXIT_INCOMPLETE``.

beanstalkd gives a job its id when the ``put`` line arrives, but counts it only once its body has
(meanwhile ``stats-job`` says ``state: invalid``): such a job is not counted when the scan meets it.
One case escapes the proof: a put whose body was still arriving when ``stats`` was taken and has
arrived by the time the scan reaches its id can stand in for a counted job with a higher id.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from ._cli_commands import Progress
from ._errors import NotFoundError
from ._protocol import Job
from ._stats import StatsJob
from ._sync import Client

EXIT_INCOMPLETE = 4  # the jobs found were written, but it could not be shown that they were all
DEFAULT_MAX_GAP = 100_000  # ids in a row without a job; each costs one round trip


def add_parser(command: Any) -> None:
    p = command("export", export, "write jobs as JSON lines (changes nothing on the server)")
    p.add_argument("tubes", nargs="*", metavar="tube", help="only these tubes (default: all)")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.add_argument(
        "--max-gap",
        type=int,
        default=DEFAULT_MAX_GAP,
        help="when jobs are deleted during the export: give up after this many ids in a row without a "
        "job, past total-jobs and every id a peek showed (default: %(default)s)",
    )


@dataclass
class Census:
    """What the server said it held when the export began."""

    expected: int  # jobs in any tube and state
    floor: int  # the scan does not give up below this id: total-jobs and the highest id peeked
    deletes: int  # the server's cmd-delete, to tell afterwards whether jobs went away meanwhile


def take_census(client: Client[bytes]) -> Census:
    # One `stats` is one moment of the server; counts from several `stats-tube` would not be, and a
    # job put between two of them could stand in for one counted later with a higher id.
    stats = client.server_stats()
    expected = (
        stats.current_jobs_ready
        + stats.current_jobs_delayed
        + stats.current_jobs_reserved
        + stats.current_jobs_buried
    )
    floor = stats.total_jobs
    for tube in client.tubes():  # only tubes that exist: `use` would create one
        client.use(tube)
        for peek in (client.peek_ready, client.peek_delayed, client.peek_buried):
            try:
                floor = max(floor, peek().id)
            except NotFoundError:
                pass
    return Census(expected, floor, stats.cmd_delete)


@dataclass
class Scan:
    """Where the scan stands."""

    found: int = 0  # jobs seen, in any tube, whether or not still there to write
    last_id: int = 0  # the highest id looked up
    gave_up: bool = False


def jobs(
    client: Client[bytes], census: Census, wanted: set[str], max_gap: int, scan: Scan
) -> Iterator[tuple[Job[bytes], StatsJob]]:
    """Each job of the wanted tubes (all: none named), by id, with its stats, until
    ``census.expected`` jobs of any tube were found (or the scan gives up: ``scan.gave_up``)."""
    misses = 0
    while scan.found < census.expected:
        if misses >= max_gap and scan.last_id >= census.floor:
            scan.gave_up = True
            return
        scan.last_id += 1
        try:
            info = client.stats_job(scan.last_id)
        except NotFoundError:
            misses += 1
            continue
        misses = 0
        if info["state"] == "invalid":  # a put whose body is still arriving: counted by no one yet
            continue
        scan.found += 1
        if wanted and info["tube"] not in wanted:
            continue
        try:
            job = client.peek(scan.last_id)
        except NotFoundError:
            continue  # deleted since: it was there, and is accounted for
        yield job, info


def record(job: Job[bytes], info: StatsJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "tube": info["tube"],
        "state": info["state"],
        "pri": info["pri"],
        "delay": info["time-left"] if info["state"] == "delayed" else 0,
        "ttr": info["ttr"],
    }
    try:
        out["body"] = job.body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(job.body).decode("ascii")
    return out


def export(client: Client[bytes], args: argparse.Namespace) -> int:
    if args.max_gap < 1:
        raise ValueError("--max-gap must be at least 1")
    wanted = set(args.tubes)
    census = take_census(client)
    out: IO[str] = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    progress = Progress("exporting", census.expected)
    scan = Scan()
    written = 0
    try:
        for job, info in jobs(client, census, wanted, args.max_gap, scan):
            out.write(json.dumps(record(job, info), ensure_ascii=False) + "\n")
            written += 1
            progress.step()
    finally:
        progress.close()
        if out is not sys.stdout:
            out.close()
    if scan.gave_up:
        print(incomplete(client, census, scan, args.max_gap), file=sys.stderr)
    print(f"exported {written} jobs", file=sys.stderr)
    return EXIT_INCOMPLETE if scan.gave_up else 0


def incomplete(client: Client[bytes], census: Census, scan: Scan, max_gap: int) -> str:
    deletes = client.server_stats().cmd_delete - census.deletes  # the export itself deletes nothing
    why = (
        f"{deletes} delete{'s' if deletes != 1 else ''} ran meanwhile, which may account for the difference"
        if deletes
        else "no delete ran meanwhile, so the others have higher ids"
    )
    return (
        f"beanclient export: WARNING: could not show that every job was found: the server held "
        f"{census.expected} jobs when the export began, and {scan.found} "
        f"{'was' if scan.found == 1 else 'were'} found, with ids up to {scan.last_id}; {why}. The scan "
        f"stopped after {max_gap} ids in a row without a job (--max-gap scans further)."
    )
