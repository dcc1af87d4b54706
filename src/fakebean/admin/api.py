"""The admin API's routes: HTTP requests in, JSON out, every action a call on a ``Backend``.

The HTTP layer only translates: ``FakeBackend`` hands each call to the server's ``Controller`` (the
one control surface the fixture and the in-process servers use too), ``BeanstalkdBackend`` speaks
the protocol to any beanstalkd. Nothing changes state through ``GET``; a ``POST`` must carry
``Content-Type: application/json`` and come from this page's own origin (``Origin`` and
``Sec-Fetch-Site``, which browsers set and scripts on another site cannot forge), so a form or a
script on another site cannot drive the server through a developer's browser. ``Host`` must name
the address the server listens on when that is loopback, against DNS rebinding.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from typing import Any, Protocol

from .http import Request

STATES = ("ready", "delayed", "reserved", "buried")
DEFAULT_LIMIT = 100


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Backend(Protocol):
    """What the API needs from a server; ``kind`` is ``"fakebean"`` or ``"beanstalkd"``."""

    kind: str

    def stats(self) -> dict[str, Any]: ...
    def tubes(self) -> list[dict[str, Any]]: ...
    def jobs(self, tube: str | None, state: str | None, limit: int, after: int) -> dict[str, Any]: ...
    def job(self, job_id: int) -> dict[str, Any] | None: ...
    def put(self, body: bytes, tube: str, priority: int, delay: float, ttr: float, buried: bool) -> int: ...
    def kick(self, tube: str, bound: int) -> int: ...
    def kick_job(self, job_id: int) -> bool: ...
    def delete(self, job_id: int) -> bool: ...
    def bury(self, job_id: int, priority: int | None) -> bool: ...
    def move(self, job_id: int, tube: str) -> int | None: ...
    def pause(self, tube: str, seconds: float) -> None: ...
    def clear(self, tube: str, states: tuple[str, ...]) -> int: ...
    def fakebean_only(self, action: str, data: dict[str, Any]) -> Any: ...


def job_dict(info: dict[str, Any], body: bytes) -> dict[str, Any]:
    """A job for JSON: the body as text when it is UTF-8, else base64 (``body_encoding`` says)."""
    out = dict(info)
    try:
        out["body"], out["body_encoding"] = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        out["body"], out["body_encoding"] = base64.b64encode(body).decode("ascii"), "base64"
    return out


def _int(data: dict[str, Any], name: str, default: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        raise ApiError(400, f"{name} must be an integer")
    return value


def _num(data: dict[str, Any], name: str, default: float | None = None) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError(400, f"{name} must be a number")
    return float(value)


def _str(data: dict[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


class AdminApi:
    """Routes requests to ``backend``. ``hosts``: the ``Host`` values accepted (None: any)."""

    def __init__(self, backend: Backend, hosts: set[str] | None = None) -> None:
        self.backend = backend
        self.hosts = hosts
        self._page: bytes | None = None

    def handle(self, request: Request) -> tuple[int, str, bytes]:
        """(status, content type, body) for ``request``."""
        try:
            self._check_origin(request)
            if request.method in ("GET", "HEAD"):
                if request.path in ("/", "/index.html"):
                    return 200, "text/html; charset=utf-8", self.page()
                return 200, "application/json", _json(self._get(request))
            if request.method != "POST":
                raise ApiError(405, "GET or POST")
            return 200, "application/json", _json(self._post(request))
        except ApiError as err:
            return err.status, "application/json", _json({"error": str(err)})
        except LookupError as err:
            return 404, "application/json", _json({"error": str(err.args[0] if err.args else err)})
        except (ValueError, TypeError) as err:
            return 400, "application/json", _json({"error": str(err)})
        except RuntimeError as err:
            return 409, "application/json", _json({"error": str(err)})

    def page(self) -> bytes:
        if self._page is None:
            self._page = resources.files("fakebean.admin").joinpath("dashboard.html").read_bytes()
        return self._page

    # ------------------------------------------------------------------ security
    def _check_origin(self, request: Request) -> None:
        host = request.headers.get("host")
        if self.hosts is not None and host not in self.hosts:
            raise ApiError(403, f"Host {host!r} is not this server's address")
        if request.method in ("GET", "HEAD"):
            return
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise ApiError(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            raise ApiError(403, f"request from another origin refused ({origin})")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(415, "POST needs Content-Type: application/json")

    # ------------------------------------------------------------------ reading
    def _get(self, request: Request) -> Any:
        path, query, backend = request.path, request.query, self.backend
        if path == "/api/stats":
            return {"server": backend.kind, "stats": backend.stats()}
        if path == "/api/tubes":
            return {"tubes": backend.tubes()}
        if path == "/api/jobs":
            state = query.get("state") or None
            if state is not None and state not in STATES:
                raise ApiError(400, f"state must be one of {', '.join(STATES)}")
            limit = _int(query, "limit", DEFAULT_LIMIT)
            after = _int(query, "after", 0)
            return backend.jobs(query.get("tube") or None, state, limit, after)
        if path.startswith("/api/jobs/"):
            ident = path[len("/api/jobs/") :]
            if not ident.isdigit():
                raise ApiError(400, "a job id is a number")
            job = backend.job(int(ident))
            if job is None:
                raise ApiError(404, f"no job {ident}")
            return job
        if path in ("/api/connections", "/api/transcript"):
            return backend.fakebean_only(path[5:], dict(query))
        if path in _POSTS:
            raise ApiError(405, f"{path} changes the server: use POST")
        raise ApiError(404, f"no such endpoint {path}")

    # ------------------------------------------------------------------ changing
    def _post(self, request: Request) -> Any:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the body is a JSON object")
        action = request.path[5:] if request.path.startswith("/api/") else ""
        if request.path not in _POSTS:
            raise ApiError(404, f"no such endpoint {request.path}")
        backend = self.backend
        if action == "put":
            if "body_base64" in data:
                body = base64.b64decode(_str(data, "body_base64"), validate=True)
            else:
                body = _str(data, "body", "").encode("utf-8")
            job_id = backend.put(
                body,
                _str(data, "tube", "default"),
                _int(data, "priority", 2**16),
                _num(data, "delay", 0),
                _num(data, "ttr", 60),
                bool(data.get("buried", False)),
            )
            return {"id": job_id}
        if action == "kick":
            if "id" in data:
                if not backend.kick_job(_int(data, "id")):
                    raise ApiError(404, f"no buried or delayed job {data['id']}")
                return {"kicked": 1}
            return {"kicked": backend.kick(_str(data, "tube", "default"), _int(data, "bound", 1))}
        if action == "delete":
            if not backend.delete(_int(data, "id")):
                raise ApiError(404, f"no job {data['id']}")
            return {"deleted": 1}
        if action == "bury":
            priority = None if data.get("priority") is None else _int(data, "priority")
            if not backend.bury(_int(data, "id"), priority):
                raise ApiError(404, f"no ready, delayed or reserved job {data['id']}")
            return {"buried": 1}
        if action == "move":
            new_id = backend.move(_int(data, "id"), _str(data, "tube"))
            if new_id is None:
                raise ApiError(404, f"no job {data['id']}")
            return {"id": new_id}
        if action == "pause":
            backend.pause(_str(data, "tube", "default"), _num(data, "seconds"))
            return {"paused": True}
        if action == "clear":
            states = data.get("states", ["ready", "delayed", "buried"])
            if not isinstance(states, list) or not all(s in STATES for s in states):
                raise ApiError(400, f"states is a list of {', '.join(STATES)}")
            return {"deleted": backend.clear(_str(data, "tube", "default"), tuple(states))}
        return backend.fakebean_only(action, data)


_POSTS = {
    f"/api/{name}"
    for name in ("put kick delete bury move pause clear advance drain reset faults transcript".split())
}


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")
