"""How long the admin API takes to page through 100,000 queued jobs (``python bench/admin_paging.py``).

Starts a ``ThreadedServer`` with the admin API, seeds N jobs (ready, with JSON bodies), and times over
HTTP: ``/api/stats``, ``/api/tubes``, the first page of 100, a page deep in the listing (by cursor),
the first page of one state in one tube, and the whole walk through every page. Prints medians of
a few runs; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from urllib.parse import urlsplit

import fakebean


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen") as server:
        started = time.perf_counter()
        for i in range(args.jobs):
            server.put(json.dumps({"task": "resize", "n": i}), tube="images" if i % 2 else "default")
        print(f"seeded {args.jobs} jobs in {time.perf_counter() - started:.1f} s")
        url = urlsplit(server.admin_url)
        conn = http.client.HTTPConnection(url.hostname, url.port)

        def get(path: str) -> tuple[float, bytes]:
            t = time.perf_counter()
            conn.request("GET", path)
            body = conn.getresponse().read()
            return time.perf_counter() - t, body

        def timed(name: str, path: str) -> None:
            samples = [get(path) for _ in range(args.runs)]
            size = len(samples[0][1])
            print(f"{name:40} {statistics.median(s for s, _ in samples) * 1000:8.1f} ms  {size:>9} bytes")

        timed("GET /api/stats", "/api/stats")
        timed("GET /api/tubes", "/api/tubes")
        timed("GET /api/jobs?limit=100 (first page)", "/api/jobs?limit=100")
        timed("GET /api/jobs?limit=100&after=90000", "/api/jobs?limit=100&after=90000")
        timed("GET /api/jobs?tube=images&state=ready", "/api/jobs?tube=images&state=ready&limit=100")
        timed("GET /api/jobs?limit=1000 (largest page)", "/api/jobs?limit=1000")
        t = time.perf_counter()
        after, pages = 0, 0
        while True:
            _, body = get(f"/api/jobs?limit=1000&after={after}")
            page = json.loads(body)
            pages += 1
            if page["next"] is None:
                break
            after = page["next"]
        print(f"walk every job, 1000 a page ({pages} pages)   {(time.perf_counter() - t):8.2f} s")


if __name__ == "__main__":
    main()
