"""How long the admin API and dashboard take with 100,000 queued jobs (``python bench/admin_paging.py``).

Starts a ``ThreadedServer`` with the admin API, seeds N jobs (ready, with JSON bodies, half in each of
two tubes), and times over HTTP: ``/api/stats``, ``/api/tubes``, the first page of 100, a page deep in
the listing (by cursor), the first page of one state in one tube, the largest page, and the whole walk
through every page. With ``--browser`` (Playwright and Debian's chromium), also the dashboard: its
first render, one refresh as the page does it twice a second, and how soon a new job shows. Prints
medians of a few runs; numbers depend on the machine and its load.
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
    parser.add_argument("--browser", action="store_true", help="also time the dashboard in Chromium")
    args = parser.parse_args()
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen") as server:
        started = time.perf_counter()
        server._control(
            lambda c: [
                c.put(json.dumps({"task": "resize", "n": i}), "images" if i % 2 else "default")
                for i in range(args.jobs)
            ]
        )
        print(f"seeded {args.jobs} jobs in {time.perf_counter() - started:.1f} s")
        url = urlsplit(server.admin_url)
        assert url.hostname is not None  # admin_url is http://host:port
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
        if args.browser:
            dashboard(server, args.jobs)


def dashboard(server: fakebean.ThreadedServer, jobs: int) -> None:
    from playwright.sync_api import sync_playwright
    from tests.support.browser import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 820})
        t = time.perf_counter()
        page.goto(server.admin_url)
        page.wait_for_selector("#jobs tr[data-id='1']")
        print(f"dashboard: first render                  {(time.perf_counter() - t) * 1000:8.1f} ms")
        samples = [
            page.evaluate(
                "async () => { const t = performance.now(); await load(); return performance.now() - t; }"
            )
            for _ in range(5)
        ]
        print(f"dashboard: one refresh (all panels, 50 jobs) {statistics.median(samples):5.1f} ms")
        t = time.perf_counter()
        server.put("one more")
        page.wait_for_selector(f"#page-info:has-text('{jobs // 2 + 1} ready')")
        print(f"dashboard: a new job shows after          {(time.perf_counter() - t) * 1000:8.1f} ms")
        browser.close()


if __name__ == "__main__":
    main()
