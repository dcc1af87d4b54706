"""beanstalkd 1.12's binlog records (``file.c``, ``dat.h``), packed and unpacked.

A file is an int32 version (7; 5 is read only) and records back to back. A full record is
``int32 namelen, name, Jobrec, body`` (body with its CRLF); a short record is ``int32 0, Jobrec``,
a copy of the job's current fields after a state change (state 0, Invalid, is a delete). The
Jobrec is the C struct as x86-64 lays it out: 80 bytes with padding.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ..model import BURIED, DELAYED, INVALID, READY, RESERVED, Job

VERSION = 7
VERSION5 = 5
HEADER = struct.Struct("<i")
NAMELEN = struct.Struct("<i")
NAMELEN5 = struct.Struct("<Q")  # size_t in version 5
JOBREC = struct.Struct("<QI4xqqi4xqqIIIIIB3x")
JOBREC5 = struct.Struct("<QI4xQQi4xQQIIIIIB")  # 77 bytes: no tail padding; times in microseconds
SHORT_SIZE = NAMELEN.size + JOBREC.size  # 84: a short record, the space reserved for any update
MAX_TUBE_NAME_LEN = 201  # the C buffer; names are at most 200 bytes

# Jobrec.state
ST_INVALID, ST_READY, ST_RESERVED, ST_BURIED, ST_DELAYED = 0, 1, 2, 3, 4
STATE_CODE = {
    INVALID: ST_INVALID,
    READY: ST_READY,
    RESERVED: ST_RESERVED,
    BURIED: ST_BURIED,
    DELAYED: ST_DELAYED,
}
STATE_NAME = {code: name for name, code in STATE_CODE.items()}

_U32 = 0xFFFFFFFF


class Jobrec(NamedTuple):
    id: int
    pri: int
    delay: int  # ns
    ttr: int  # ns
    body_size: int  # with the CRLF
    created_at: int  # wall-clock ns
    deadline_at: int  # wall-clock ns
    reserve_ct: int
    timeout_ct: int
    release_ct: int
    bury_ct: int
    kick_ct: int
    state: int


def _us(t: int) -> int:
    """beanstalkd's clock is ``gettimeofday`` times 1000: nanoseconds with microsecond granularity."""
    return t - t % 1000


def pack_jobrec(job: Job, state: int) -> bytes:
    """The job's current fields as beanstalkd keeps them, with ``state`` (a Jobrec state code)."""
    return JOBREC.pack(
        job.id,
        job.pri,
        job.delay,
        job.ttr,
        len(job.body) + 2,
        _us(job.created_at),
        _us(job.deadline),
        job.reserves & _U32,
        job.timeouts & _U32,
        job.releases & _U32,
        job.buries & _U32,
        job.kicks & _U32,
        state,
    )


def full_size(job: Job) -> int:
    """Bytes of the job's full record (``walresvmigrate``)."""
    return NAMELEN.size + len(job.tube.name) + JOBREC.size + len(job.body) + 2


def full_parts(job: Job, state: int) -> tuple[bytes, bytes, bytes, bytes | bytearray, bytes]:
    """A full record in the pieces ``os.writev`` takes: the body is written from where it is,
    never copied into a record (a 200 MiB job would cost 200 MiB more)."""
    name = job.tube.name
    return (NAMELEN.pack(len(name)), name, pack_jobrec(job, state), job.body, b"\r\n")


def pack_short(job: Job, state: int) -> bytes:
    return b"\0\0\0\0" + pack_jobrec(job, state)


def unpack_jobrec(data: bytes) -> Jobrec:
    return Jobrec(*JOBREC.unpack(data))


def unpack_jobrec5(data: bytes) -> Jobrec:
    """A version-5 Jobrec, its microsecond times turned into nanoseconds as ``readrec5`` does."""
    f = JOBREC5.unpack(data)
    return Jobrec(f[0], f[1], f[2] * 1000, f[3] * 1000, f[4], f[5] * 1000, f[6] * 1000, *f[7:])
