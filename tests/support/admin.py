"""A small HTTP client for the admin API tests: exact headers, JSON in and out, no redirects."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class AdminClient:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.host, self.port = parts.hostname, parts.port
        self.netloc = parts.netloc

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            kind = response.getheader("Content-Type", "")
        finally:
            conn.close()
        return response.status, json.loads(data) if kind.startswith("application/json") else data

    def get(self, path: str) -> Any:
        status, data = self.request("GET", path)
        assert status == 200, (status, data)
        return data

    def post(self, path: str, payload: Any = None, expect: int = 200) -> Any:
        status, data = self.request(
            "POST", path, json.dumps(payload or {}).encode(), {"Content-Type": "application/json"}
        )
        assert status == expect, (status, data)
        return data
