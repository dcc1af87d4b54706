"""Statistics in two shapes: greenstalk's dicts (hyphenated keys, values ``int`` or ``str``) and
frozen dataclasses with snake_case attributes, real ``bool`` and ``float`` values.

The dataclasses are built from the YAML text, not from the dict, so a tube called ``007`` keeps its
name (the dict turns it into the integer 7, as greenstalk does). A field the server does not send
(``draining`` before 1.12, say) keeps its default; a field this version does not know is ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypedDict, TypeVar

from ._errors import UnknownResponseError
from ._protocol import unquote, yaml_pairs

Stats = TypedDict(
    "Stats",
    {
        "current-jobs-urgent": int,
        "current-jobs-ready": int,
        "current-jobs-reserved": int,
        "current-jobs-delayed": int,
        "current-jobs-buried": int,
        "cmd-put": int,
        "cmd-peek": int,
        "cmd-peek-ready": int,
        "cmd-peek-delayed": int,
        "cmd-peek-buried": int,
        "cmd-reserve": int,
        "cmd-reserve-with-timeout": int,
        "cmd-touch": int,
        "cmd-use": int,
        "cmd-watch": int,
        "cmd-ignore": int,
        "cmd-delete": int,
        "cmd-release": int,
        "cmd-bury": int,
        "cmd-kick": int,
        "cmd-stats": int,
        "cmd-stats-job": int,
        "cmd-stats-tube": int,
        "cmd-list-tubes": int,
        "cmd-list-tube-used": int,
        "cmd-list-tubes-watched": int,
        "cmd-pause-tube": int,
        "job-timeouts": int,
        "total-jobs": int,
        "max-job-size": int,
        "current-tubes": int,
        "current-connections": int,
        "current-producers": int,
        "current-workers": int,
        "current-waiting": int,
        "total-connections": int,
        "pid": int,
        "version": str,
        "rusage-utime": str,
        "rusage-stime": str,
        "uptime": int,
        "binlog-oldest-index": int,
        "binlog-current-index": int,
        "binlog-max-size": int,
        "binlog-records-written": int,
        "binlog-records-migrated": int,
        "draining": Literal["true", "false"],
        # (str | int: greenstalk's dict turns a value of digits into an int; the dataclasses keep str)
        "id": str | int,
        "hostname": str | int,
        "os": str,
        "platform": str,
    },
)

StatsJob = TypedDict(
    "StatsJob",
    {
        "id": int,
        "tube": str | int,  # a tube called 007 comes back as 7 in the dict (use job_stats() for str)
        # "invalid": a job whose put body is still arriving (``prot.c``'s ``job_state``)
        "state": Literal["ready", "delayed", "reserved", "buried", "invalid"],
        "pri": int,
        "age": int,
        "delay": int,
        "ttr": int,
        "time-left": int,
        "file": int,
        "reserves": int,
        "timeouts": int,
        "releases": int,
        "buries": int,
        "kicks": int,
    },
)

StatsTube = TypedDict(
    "StatsTube",
    {
        "name": str | int,  # a tube called 007 comes back as 7 in the dict (use tube_stats() for str)
        "current-jobs-urgent": int,
        "current-jobs-ready": int,
        "current-jobs-reserved": int,
        "current-jobs-delayed": int,
        "current-jobs-buried": int,
        "total-jobs": int,
        "current-using": int,
        "current-waiting": int,
        "current-watching": int,
        "pause": int,
        "cmd-delete": int,
        "cmd-pause-tube": int,
        "pause-time-left": int,
    },
)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerStats:
    """``stats``: the whole server. ``client.server_stats()`` returns one."""

    current_jobs_urgent: int = 0
    current_jobs_ready: int = 0
    current_jobs_reserved: int = 0
    current_jobs_delayed: int = 0
    current_jobs_buried: int = 0
    cmd_put: int = 0
    cmd_peek: int = 0
    cmd_peek_ready: int = 0
    cmd_peek_delayed: int = 0
    cmd_peek_buried: int = 0
    cmd_reserve: int = 0
    cmd_reserve_with_timeout: int = 0
    cmd_delete: int = 0
    cmd_release: int = 0
    cmd_use: int = 0
    cmd_watch: int = 0
    cmd_ignore: int = 0
    cmd_bury: int = 0
    cmd_kick: int = 0
    cmd_touch: int = 0
    cmd_stats: int = 0
    cmd_stats_job: int = 0
    cmd_stats_tube: int = 0
    cmd_list_tubes: int = 0
    cmd_list_tube_used: int = 0
    cmd_list_tubes_watched: int = 0
    cmd_pause_tube: int = 0
    job_timeouts: int = 0
    total_jobs: int = 0
    max_job_size: int = 0
    current_tubes: int = 0
    current_connections: int = 0
    current_producers: int = 0
    current_workers: int = 0
    current_waiting: int = 0
    total_connections: int = 0
    pid: int = 0
    version: str = ""
    rusage_utime: float = 0.0
    rusage_stime: float = 0.0
    uptime: int = 0
    binlog_oldest_index: int = 0
    binlog_current_index: int = 0
    binlog_records_migrated: int = 0
    binlog_records_written: int = 0
    binlog_max_size: int = 0
    draining: bool = False
    id: str = ""
    hostname: str = ""
    os: str = ""
    platform: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class TubeStats:
    """``stats-tube``: one tube. ``client.tube_stats(tube)`` returns one."""

    name: str = ""
    current_jobs_urgent: int = 0
    current_jobs_ready: int = 0
    current_jobs_reserved: int = 0
    current_jobs_delayed: int = 0
    current_jobs_buried: int = 0
    total_jobs: int = 0
    current_using: int = 0
    current_watching: int = 0
    current_waiting: int = 0
    cmd_delete: int = 0
    cmd_pause_tube: int = 0
    pause: int = 0
    pause_time_left: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class JobStats:
    """``stats-job``: one job. ``client.job_stats(job)`` returns one."""

    id: int = 0
    tube: str = ""
    state: str = ""
    pri: int = 0
    age: int = 0
    delay: int = 0
    ttr: int = 0
    time_left: int = 0
    file: int = 0
    reserves: int = 0
    timeouts: int = 0
    releases: int = 0
    buries: int = 0
    kicks: int = 0


def _to_bool(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError(text)


_CONVERTERS: dict[str, Callable[[str], Any]] = {"int": int, "str": str, "float": float, "bool": _to_bool}

T = TypeVar("T", ServerStats, TubeStats, JobStats)


def _fields(cls: type[Any]) -> dict[str, tuple[str, Callable[[str], Any]]]:
    # Annotations are strings here (postponed evaluation), which is all the table needs.
    return {f.name.replace("_", "-"): (f.name, _CONVERTERS[str(f.type)]) for f in dataclasses.fields(cls)}


_TABLES: dict[type[Any], dict[str, tuple[str, Callable[[str], Any]]]] = {
    cls: _fields(cls) for cls in (ServerStats, TubeStats, JobStats)
}


def typed_stats(cls: type[T], data: bytes) -> T:
    """Build ``cls`` from the YAML body of a stats reply."""
    table = _TABLES[cls]
    values: dict[str, Any] = {}
    for key, text in yaml_pairs(data):
        entry = table.get(key)
        if entry is None:
            continue
        name, convert = entry
        try:
            values[name] = convert(unquote(text))
        except ValueError:
            raise UnknownResponseError(b"OK", [f"bad value for {key}: {text!r}".encode()]) from None
    return cls(**values)
