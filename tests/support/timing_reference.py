"""The reference model for tests/fakebean/engine/test_timing_model.py: beanstalkd 1.12's time rules,
written plainly.

Written from the real server's source (prot.c, conn.c, ms.c) and docs/protocol.md, not from
fakebean's engine; the rules it follows are listed in test_timing_model's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NS = 1_000_000_000
T0 = 1_700_000_000 * NS + 123_456_789
TUBES = ("default", "t")
PRODUCERS = {"pd": "default", "pt": "t"}
WORKERS = {"w1": ("default", "t"), "w2": ("t",), "w3": ("default",)}
SETUP = {  # bytes that give each connection its tubes, and the replies they earn
    "pd": (b"", b""), "pt": (b"use t\r\n", b"USING t\r\n"), "w3": (b"", b""),
    "w1": (b"watch t\r\n", b"WATCHING 2\r\n"),
    "w2": (b"watch t\r\nignore default\r\n", b"WATCHING 2\r\nWATCHING 1\r\n"),
}  # fmt: skip
COUNTS = ("reserves", "timeouts", "releases", "buries", "kicks")


@dataclass
class MJob:
    id: int
    tube: str
    pri: int
    ttr: int
    created: int
    delay: int
    state: str = "ready"
    deadline: int = 0  # delayed: ready at; reserved: TTR deadline
    seq: int = 0  # when its pending timer was scheduled (tie order)
    owner: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))


@dataclass
class MTube:
    waiting: list[str] = field(default_factory=list)  # the real server's Ms: swap-with-last removal
    cursor: int = 0
    buried: list[int] = field(default_factory=list)  # FIFO
    pause_until: int | None = None
    pause_len: int = 0
    pause_seq: int = 0
    stat: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("total", "deletes", "pauses"), 0))


@dataclass
class MConn:
    watch: tuple[str, ...]
    use: str
    open: bool = True
    waiting: bool = False
    timeout_at: int | None = None
    wait_seq: int = 0
    reserved: list[int] = field(default_factory=list)  # reservation order


def ms_remove(items: list[str], item: str) -> None:
    if item in items:
        i = items.index(item)
        last = items.pop()
        if i < len(items):
            items[i] = last


class Model:
    """beanstalkd 1.12's jobs, tubes, waiters and clock, as plainly as possible."""

    def __init__(self, now: int) -> None:
        self.now, self.seq, self.next_id = now, 0, 1
        self.jobs: dict[int, MJob] = {}
        self.tubes = {name: MTube() for name in TUBES}
        self.conns: dict[str, MConn] = {}
        self.out: dict[str, list[bytes]] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def reply(self, name: str, data: bytes) -> None:
        self.out.setdefault(name, []).append(data)

    def ready(self, tube: str) -> list[MJob]:
        jobs = [j for j in self.jobs.values() if j.tube == tube and j.state == "ready"]
        return sorted(jobs, key=lambda j: (j.pri, j.id))

    def in_margin(self, c: MConn) -> bool:
        soonest = min((self.jobs[i].deadline for i in c.reserved), default=None)
        return soonest is not None and self.now >= soonest - NS

    # ------------------------------------------------------------------ time
    def events(self) -> list[tuple[int, int, int, str, Any]]:
        """Pending events as (time, rank, seq, kind, subject), in the order they run."""
        evs: list[tuple[int, int, int, str, Any]] = []
        for j in self.jobs.values():
            if j.state == "delayed":
                evs.append((j.deadline, 0, j.seq, "delay", j))
            elif j.state == "reserved":
                evs.append((j.deadline + 1, 2, j.seq, "ttr", j))
        for t in self.tubes.values():
            if t.pause_until is not None:
                evs.append((t.pause_until, 1, t.pause_seq, "pause", t))
        for name, c in self.conns.items():
            times = [self.jobs[i].deadline - NS for i in c.reserved]
            times += [c.timeout_at] if c.timeout_at is not None else []
            if c.waiting and times:
                evs.append((min(times), 2, c.wait_seq, "wait", name))
        return sorted(evs, key=lambda e: e[:3])

    def next_event(self) -> int | None:
        evs = self.events()
        return evs[0][0] if evs else None

    def advance_to(self, t: int) -> None:
        while (evs := self.events()) and evs[0][0] <= t:
            when, _rank, _seq, kind, subject = evs[0]
            self.now = max(self.now, when)
            if kind == "ttr":
                self.conns[subject.owner].reserved.remove(subject.id)
                subject.counts["timeouts"] += 1
            if kind in ("delay", "ttr"):
                self.make_ready(subject)
            elif kind == "pause":
                subject.pause_until = None
                self.dispatch()
            elif kind == "wait":
                self.fire_wait(subject)
        self.now = max(self.now, t)

    def fire_wait(self, name: str) -> None:
        c = self.conns[name]
        if self.in_margin(c):
            self.stop_waiting(name)
            self.reply(name, b"DEADLINE_SOON\r\n")
        elif c.timeout_at is not None and self.now >= c.timeout_at:
            self.stop_waiting(name)
            self.reply(name, b"TIMED_OUT\r\n")

    # ------------------------------------------------------------------ queues
    def make_ready(self, job: MJob) -> None:
        job.state, job.owner = "ready", ""
        self.dispatch()

    def make_delayed(self, job: MJob, delay: int) -> None:
        job.state, job.owner, job.deadline, job.seq = "delayed", "", self.now + delay * NS, self.next_seq()

    def dispatch(self) -> None:
        while True:
            best: MJob | None = None
            for name, t in self.tubes.items():
                if t.pause_until is not None and t.pause_until > self.now:
                    continue
                t.pause_until = None
                top = self.ready(name)[:1]
                if t.waiting and top and (best is None or (top[0].pri, top[0].id) < (best.pri, best.id)):
                    best = top[0]
            if best is None:
                return
            tube = self.tubes[best.tube]
            tube.cursor %= len(tube.waiting)
            taker = tube.waiting[tube.cursor]
            ms_remove(tube.waiting, taker)
            tube.cursor += 1
            self.stop_waiting(taker)
            best.state, best.owner, best.deadline, best.seq = (
                "reserved",
                taker,
                self.now + best.ttr,
                self.next_seq(),
            )
            best.counts["reserves"] += 1
            self.conns[taker].reserved.append(best.id)
            self.reply(taker, b"RESERVED %d 1\r\nx\r\n" % best.id)

    def stop_waiting(self, name: str) -> None:
        c = self.conns[name]
        if c.waiting:
            c.waiting = False
            for t in c.watch:
                ms_remove(self.tubes[t].waiting, name)

    # ------------------------------------------------------------------ commands (docs/protocol.md §4)
    def put(self, name: str, pri: int, delay: int, ttr: int) -> None:
        tube = self.conns[name].use
        job = self.jobs[self.next_id] = MJob(self.next_id, tube, pri, max(ttr, 1) * NS, self.now, delay * NS)
        self.next_id += 1
        self.tubes[tube].stat["total"] += 1
        self.make_delayed(job, delay) if delay else self.make_ready(job)
        self.reply(name, b"INSERTED %d\r\n" % job.id)

    def reserve(self, name: str, timeout: int | None) -> None:
        c = self.conns[name]
        if c.reserved and self.in_margin(c) and not any(self.ready(t) for t in c.watch):
            return self.reply(name, b"DEADLINE_SOON\r\n")
        c.waiting = True
        for t in c.watch:
            self.tubes[t].waiting.append(name)
        c.timeout_at = None if timeout is None else self.now + timeout * NS
        self.dispatch()
        if c.waiting:
            c.wait_seq = self.next_seq()
            if any(e[3] == "wait" and e[4] == name and e[0] <= self.now for e in self.events()):
                self.fire_wait(name)

    def on_job(self, name: str, action: str, job_id: int, pri: int, delay: int) -> None:
        """release / bury / touch: only the connection that reserved the job may."""
        c = self.conns[name]
        if job_id not in c.reserved:
            return self.reply(name, b"NOT_FOUND\r\n")
        job = self.jobs[job_id]
        if action == "touch":
            job.deadline, job.seq = self.now + job.ttr, self.next_seq()
            return self.reply(name, b"TOUCHED\r\n")
        c.reserved.remove(job_id)
        job.pri = pri
        if action == "bury":
            job.state, job.owner = "buried", ""
            job.counts["buries"] += 1
            self.tubes[job.tube].buried.append(job_id)
            return self.reply(name, b"BURIED\r\n")
        job.delay = delay * NS
        job.counts["releases"] += 1
        self.make_delayed(job, delay) if delay else self.make_ready(job)
        self.reply(name, b"RELEASED\r\n")

    def delete(self, name: str, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is None or (job.state == "reserved" and job.owner != name):
            return self.reply(name, b"NOT_FOUND\r\n")
        if job.state == "reserved":
            self.conns[name].reserved.remove(job_id)
        if job.state == "buried":
            self.tubes[job.tube].buried.remove(job_id)
        del self.jobs[job_id]
        self.tubes[job.tube].stat["deletes"] += 1
        self.reply(name, b"DELETED\r\n")

    def kick(self, name: str, bound: int) -> None:
        use = self.conns[name].use
        chosen = [self.jobs[i] for i in self.tubes[use].buried[:bound]]
        if not chosen:
            delayed = [j for j in self.jobs.values() if j.tube == use and j.state == "delayed"]
            chosen = sorted(delayed, key=lambda j: (j.deadline, j.id))[:bound]
        for job in chosen:
            self.kick_one(job)
        self.reply(name, b"KICKED %d\r\n" % len(chosen))

    def kick_job(self, name: str, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.state not in ("buried", "delayed"):
            return self.reply(name, b"NOT_FOUND\r\n")
        self.kick_one(job)
        self.reply(name, b"KICKED\r\n")

    def kick_one(self, job: MJob) -> None:
        if job.state == "buried":
            self.tubes[job.tube].buried.remove(job.id)
        job.counts["kicks"] += 1
        self.make_ready(job)

    def pause(self, name: str, tube: str, seconds: int) -> None:
        t = self.tubes[tube]
        t.pause_len = seconds * NS or 1
        t.pause_until, t.pause_seq = self.now + t.pause_len, self.next_seq()
        t.stat["pauses"] += 1
        self.reply(name, b"PAUSED\r\n")

    def close(self, name: str) -> None:
        """docs/protocol.md §5.8: leave the waiting lists, then each reserved job goes back to ready, in
        order."""
        self.stop_waiting(name)
        c = self.conns[name]
        while c.reserved:
            self.make_ready(self.jobs[c.reserved.pop(0)])
        c.open = False
        self.out.pop(name, None)  # a reply made as it closes (a due TIMED_OUT) never reaches anyone

    # ------------------------------------------------------------- stats bodies (docs/protocol.md §6.2, §6.3)
    def stats_job(self, job_id: int) -> bytes:
        j = self.jobs.get(job_id)
        if j is None:
            return b"NOT_FOUND\r\n"
        left = (j.deadline - self.now) // NS if j.state in ("reserved", "delayed") else 0
        rows = [("id", j.id), ("tube", j.tube), ("state", j.state), ("pri", j.pri)]
        rows += [("age", (self.now - j.created) // NS), ("delay", j.delay // NS), ("ttr", j.ttr // NS)]
        rows += [("time-left", left), ("file", 0), *j.counts.items()]
        return yaml(rows)

    def stats_tube(self, name: str) -> bytes:
        t = self.tubes[name]
        jobs = [j for j in self.jobs.values() if j.tube == name]
        conns = [c for c in self.conns.values() if c.open]
        left = (t.pause_until - self.now) // NS if t.pause_until is not None else 0
        rows: list[tuple[str, Any]] = [("name", name)]
        rows += [("current-jobs-urgent", sum(j.pri < 1024 for j in self.ready(name)))]
        rows += [(f"current-jobs-{s}", sum(j.state == s for j in jobs)) for s in ("ready", "reserved")]
        rows += [(f"current-jobs-{s}", sum(j.state == s for j in jobs)) for s in ("delayed", "buried")]
        rows += [("total-jobs", t.stat["total"]), ("current-using", sum(c.use == name for c in conns))]
        rows += [
            ("current-watching", sum(name in c.watch for c in conns)),
            ("current-waiting", len(t.waiting)),
        ]
        rows += [("cmd-delete", t.stat["deletes"]), ("cmd-pause-tube", t.stat["pauses"])]
        rows += [("pause", t.pause_len // NS if t.pause_until is not None else 0), ("pause-time-left", left)]
        return yaml(rows)


def yaml(rows: list[tuple[str, Any]]) -> bytes:
    body = ("---\n" + "".join(f"{k}: {v}\n" for k, v in rows)).encode()
    return b"OK %d\r\n%s\r\n" % (len(body), body)
