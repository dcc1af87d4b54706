"""Just enough HTTP/1.1 for the admin API, without I/O: bytes in, requests out; a response to bytes.

The admin server runs on the beanstalk server's own loop (epoll or asyncio), so it cannot use
``http.server``, which blocks a thread per connection. ``HttpParser.feed`` takes whatever a read
delivered and returns the complete requests; keep-alive and pipelining come free. Requests are
small (JSON), so a request larger than ``MAX_REQUEST`` is refused rather than streamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 16 * 1024
MAX_REQUEST = 16 * 1024 * 1024  # a put's JSON: bodies up to beanstalkd's largest jobs, with room

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    501: "Not Implemented",
}


class HttpError(Exception):
    """The bytes are not a request we take: answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes = b""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    keep_alive: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))


class HttpParser:
    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[Request]:
        self.buf += data
        requests: list[Request] = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    raise HttpError(413, "request head too large")
                return requests
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, version = lines[0].split(" ")
            except ValueError:
                raise HttpError(400, "malformed request line") from None
            if not version.startswith("HTTP/1."):
                raise HttpError(400, "HTTP/1.x only")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise HttpError(400, "malformed header")
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                raise HttpError(501, "send a Content-Length, not a chunked body")
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise HttpError(400, "bad Content-Length") from None
            if length < 0 or length > MAX_REQUEST:
                raise HttpError(413, "request too large")
            total = end + 4 + length
            if len(self.buf) < total:
                return requests
            body = self.buf[end + 4 : total]
            self.buf = self.buf[total:]
            connection = headers.get("connection", "").lower()
            keep = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
            requests.append(Request(method, target, headers, body, keep_alive=keep))


def response(
    status: int,
    body: bytes,
    content_type: str = "application/json",
    keep_alive: bool = True,
    extra: dict[str, str] | None = None,
) -> bytes:
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Connection": "keep-alive" if keep_alive else "close",
    }
    if extra:
        headers.update(extra)
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body
