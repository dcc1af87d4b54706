"""``python -m fakebean.admin --beanstalkd HOST:PORT``: the admin API and dashboard for any beanstalkd.

It talks to the server through the protocol, so it shows only what beanstalkd lets a client see
(each tube's peekable jobs). For fakebean itself use ``fakebean --admin HOST:PORT``, which sees
every job and can travel in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .api import AdminApi
from .beanstalkd import BeanstalkdBackend
from .serve import allowed_hosts, check_address, parse_address, serve_asyncio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakebean.admin", description=__doc__.split("\n")[0])
    parser.add_argument("--beanstalkd", default="127.0.0.1:11300", help="the server: HOST:PORT or a URL")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="where to serve the dashboard")
    parser.add_argument("--allow-remote", action="store_true", help="let --listen be beyond loopback")
    args = parser.parse_args(argv)
    try:
        host, port = parse_address(args.listen)
        check_address(host, args.allow_remote, "--allow-remote")
    except ValueError as err:
        parser.error(str(err))
    target = args.beanstalkd if "://" in args.beanstalkd else f"beanstalk://{args.beanstalkd}"
    backend = BeanstalkdBackend(target)

    async def run() -> None:
        api = AdminApi(backend)
        admin = await serve_asyncio(api, host, port)
        api.hosts = allowed_hosts(host, admin.port)
        shown = f"[{host}]" if ":" in host else host
        print(f"admin http://{shown}:{admin.port}/ for {args.beanstalkd}", flush=True)
        try:
            await admin.server.serve_forever()
        finally:
            await admin.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
