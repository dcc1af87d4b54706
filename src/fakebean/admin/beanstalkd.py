"""The admin API's backend for any beanstalkd, through the protocol (beanclient).

beanstalkd cannot list its jobs: per tube it shows the peekable ones only (the next ready job,
the next delayed one, the oldest buried one), and never a reserved job's body. Time travel, drain,
reset, faults and the transcript are fakebean's and answer 501 here. ``kick`` with an id,
``delete``, ``move`` and ``clear`` act through the same commands a client would send, so a job
reserved by another client cannot be deleted or buried (``NOT_FOUND``, as beanstalkd says).
"""

from __future__ import annotations

from typing import Any

import beanclient

from .api import ApiError, job_dict

_PEEKS = {"ready": "peek_ready", "delayed": "peek_delayed", "buried": "peek_buried"}
_JOB_FIELDS = {"pri": "priority", "time-left": "time_left", "file": None}


class BeanstalkdBackend:
    kind = "beanstalkd"

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.address = address
        self.timeout = timeout
        self._client: beanclient.Client[bytes] | None = None

    @property
    def client(self) -> beanclient.Client[bytes]:
        if self._client is None:
            self._client = beanclient.Client(self.address, None, timeout=self.timeout, reconnect=True)
        return self._client

    def _in(self, tube: str) -> beanclient.Client[bytes]:
        client = self.client
        client.use(tube)
        return client

    def stats(self) -> dict[str, Any]:
        return dict(self.client.stats())

    def tubes(self) -> list[dict[str, Any]]:
        out = []
        for name in self.client.tubes():
            s: dict[str, Any] = dict(self.client.stats_tube(name))
            out.append(
                {
                    "name": name,
                    "ready": s["current-jobs-ready"],
                    "urgent": s["current-jobs-urgent"],
                    "reserved": s["current-jobs-reserved"],
                    "delayed": s["current-jobs-delayed"],
                    "buried": s["current-jobs-buried"],
                    "total_jobs": s["total-jobs"],
                    "using": s["current-using"],
                    "watching": s["current-watching"],
                    "waiting": s["current-waiting"],
                    "deletes": s["cmd-delete"],
                    "pauses": s["cmd-pause-tube"],
                    "paused": s["pause"] > 0 and s["pause-time-left"] > 0,
                    "pause": s["pause"],
                    "pause_time_left": s["pause-time-left"],
                }
            )
        return out

    def jobs(self, tube: str | None, state: str | None, limit: int, after: int) -> dict[str, Any]:
        """The peekable job of each asked tube and state (beanstalkd shows no more)."""
        found = []
        for name in [tube] if tube else self.client.tubes():
            for kind in [state] if state else list(_PEEKS):
                if kind not in _PEEKS:
                    continue  # reserved jobs cannot be peeked by state
                try:
                    job = getattr(self._in(name), _PEEKS[kind])()
                except beanclient.NotFoundError:
                    continue
                info = self.job(job.id)
                if info is not None and info["id"] > after:
                    found.append(info)
        found.sort(key=lambda j: j["id"])
        return {"jobs": found[:limit], "total": len(found), "next": None, "peekable_only": True}

    def job(self, job_id: int) -> dict[str, Any] | None:
        try:
            stats: dict[str, Any] = dict(self.client.stats_job(job_id))
            body = self.client.peek(job_id).body if stats["state"] != "reserved" else b""
        except beanclient.NotFoundError:
            return None
        info: dict[str, Any] = {}
        for key, value in stats.items():
            name = _JOB_FIELDS.get(key, key)
            if name is not None:
                info[name] = value
        return job_dict(info, body)

    def put(self, body: bytes, tube: str, priority: int, delay: float, ttr: float, buried: bool) -> int:
        if buried:
            raise ApiError(501, "a real beanstalkd cannot put a buried job")
        return self._in(tube).put(body, priority=priority, delay=int(delay), ttr=int(ttr))

    def kick(self, tube: str, bound: int) -> int:
        return self._in(tube).kick(bound)

    def kick_job(self, job_id: int) -> bool:
        try:
            self.client.kick_job(job_id)
        except beanclient.NotFoundError:
            return False
        return True

    def delete(self, job_id: int) -> bool:
        try:
            self.client.delete(job_id)
        except beanclient.NotFoundError:
            return False
        return True

    def bury(self, job_id: int, priority: int | None) -> bool:
        """Only a ready job can be buried from outside: reserve it by id, then bury it."""
        try:
            job = self.client.reserve_job(job_id)
        except beanclient.NotFoundError:
            return False
        self.client.bury(job, priority if priority is not None else self.client.stats_job(job)["pri"])
        return True

    def move(self, job_id: int, tube: str) -> int | None:
        info = self.job(job_id)
        if info is None or info["state"] == "reserved":
            return None
        body = self.client.peek(job_id).body
        new_id = self._in(tube).put(body, priority=info["priority"], ttr=info["ttr"])
        self.client.delete(job_id)
        return new_id

    def pause(self, tube: str, seconds: float) -> None:
        if tube not in self.client.tubes():
            raise LookupError(f"no tube {tube!r}")
        self.client.pause_tube(tube, int(seconds))

    def clear(self, tube: str, states: tuple[str, ...]) -> int:
        deleted = 0
        client = self._in(tube)
        for state in states:
            if state not in _PEEKS:
                continue
            while True:
                try:
                    job = getattr(client, _PEEKS[state])()
                    client.delete(job)
                except beanclient.NotFoundError:
                    break
                deleted += 1
        return deleted

    def fakebean_only(self, action: str, data: dict[str, Any]) -> Any:
        raise ApiError(501, f"/api/{action} is fakebean's: a real beanstalkd cannot do it")
