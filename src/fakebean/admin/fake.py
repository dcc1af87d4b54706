"""The admin API's backend for a fakebean server: every call goes to its ``Controller``.

It runs on the server's own loop (the admin HTTP server shares it), so each call sees and leaves a
consistent state, as the in-process controls do. ``advance`` and ``drain`` come from the shell,
which owns the clock; on the executable's real clock ``advance`` adds an offset to the server's
time, so every deadline comes that much sooner, exactly as on a frozen clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..control import Controller
from .api import ApiError, job_dict

FAULTS = ("fail_next", "drop_connection_on", "delay_replies", "disconnect_all")


class FakeBackend:
    kind = "fakebean"

    def __init__(
        self, controller: Controller, advance: Callable[[float], None], drain: Callable[[], None]
    ) -> None:
        self.controller = controller
        self._advance = advance
        self._drain = drain

    def stats(self) -> dict[str, Any]:
        return self.controller.stats()

    def tubes(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self.controller.tubes()]

    def jobs(self, tube: str | None, state: str | None, limit: int, after: int) -> dict[str, Any]:
        infos, total, more = self.controller.page(tube, state, limit, after)
        jobs = [job_dict(i._asdict(), i.body) for i in infos]
        return {"jobs": jobs, "total": total, "next": jobs[-1]["id"] if more and jobs else None}

    def job(self, job_id: int) -> dict[str, Any] | None:
        info = self.controller.job(job_id)
        return None if info is None else job_dict(info._asdict(), info.body)

    def put(self, body: bytes, tube: str, priority: int, delay: float, ttr: float, buried: bool) -> int:
        return self.controller.put(body, tube, priority=priority, delay=delay, ttr=ttr, buried=buried)

    def kick(self, tube: str, bound: int) -> int:
        return self.controller.kick(tube, bound)

    def kick_job(self, job_id: int) -> bool:
        return self.controller.kick_job(job_id)

    def delete(self, job_id: int) -> bool:
        return self.controller.delete(job_id)

    def bury(self, job_id: int, priority: int | None) -> bool:
        return self.controller.bury(job_id, priority)

    def move(self, job_id: int, tube: str) -> int | None:
        return self.controller.move(job_id, tube)

    def pause(self, tube: str, seconds: float) -> None:
        self.controller.pause(tube, seconds)

    def clear(self, tube: str, states: tuple[str, ...]) -> int:
        return self.controller.clear(tube, states)

    def fakebean_only(self, action: str, data: dict[str, Any]) -> Any:
        c = self.controller
        if action == "advance":
            seconds = data.get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ApiError(400, "seconds must be a number >= 0")
            self._advance(float(seconds))
            return {"now": c.shell.engine.now / 1e9}
        if action == "drain":
            self._drain()
            return {"draining": True}
        if action == "reset":
            engine = c.shell.engine
            if engine.journal is not None:
                # a reset would leave the binlog behind (and unwritten from then on)
                raise ApiError(409, "reset is not available on a server with a binlog (-b)")
            log = engine.server_error_log
            c.reset()
            c.shell.engine.server_error_log = log  # the executable's stderr lines go on
            return {"reset": True}
        if action == "connections":
            return {"connections": [x.as_dict() for x in c.connections()]}
        if action == "transcript":
            if "size" in data:  # (POST) keep that many from now on; 0 stops recording
                size = data["size"]
                if isinstance(size, bool) or not isinstance(size, int):
                    raise ApiError(400, "size must be an integer")
                c.keep_transcript(size)
            conn = data.get("connection")
            entries = c.transcript(None if conn in (None, "") else int(conn))
            return {"size": c.ring.size, "entries": [e.as_dict() for e in entries]}
        if action == "faults":
            return self._fault(data)
        raise ApiError(404, f"no such endpoint /api/{action}")

    def _fault(self, data: dict[str, Any]) -> Any:
        try:
            return self._arm(data)
        except KeyError as missing:
            raise ApiError(400, f"{data.get('kind')} needs {missing.args[0]!r}") from None

    def _arm(self, data: dict[str, Any]) -> Any:
        c = self.controller
        kind = data.get("kind")
        if kind == "fail_next":
            c.fail_next(
                str(data["command"]), str(data.get("reply", "INTERNAL_ERROR")), int(data.get("count", 1))
            )
        elif kind == "drop_connection_on":
            c.drop_connection_on(str(data["command"]), bool(data.get("executed", True)))
        elif kind == "delay_replies":
            c.delay_replies(float(data.get("seconds", 0)), bool(data.get("real", False)))
        elif kind == "disconnect_all":
            return {"disconnected": c.disconnect_all()}
        else:
            raise ApiError(400, f"kind is one of {', '.join(FAULTS)}")
        return {"armed": kind}
