"""``python -m beanclient worker package.module:function``: run a handler as a ``Worker`` (or an
``AsyncWorker`` when the handler is a coroutine function) until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys
from typing import Any

from ._cli_address import cli_address
from ._worker_async import AsyncWorker
from ._worker_core import DEFAULT_GRACE, DEFAULT_TOUCH_MARGIN, ReconnectPolicy, RetryPolicy, load_handler
from ._worker_sync import Worker


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "worker",
        help="run a job handler",
        description="Reserve jobs and run HANDLER (package.module:function) on each; stop on SIGTERM/SIGINT.",
    )
    parser.add_argument("handler", help="package.module:function taking the job (async def: asyncio)")
    parser.add_argument(
        "--url",
        help="server address: beanstalk://host:port, host:port, a unix socket path "
        "(default: $BEANSTALKD_URL, else 127.0.0.1:11300)",
    )
    parser.add_argument(
        "--tube",
        action="append",
        dest="tubes",
        metavar="TUBE",
        help="a tube to take jobs from (repeat for more; default: default)",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="jobs handled at once (default: 1)")
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=RetryPolicy.max_attempts,
        help="failed runs before a job is buried (default: %(default)s)",
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=RetryPolicy.base,
        help="delay of the first retry in seconds, doubling each time (default: %(default)s)",
    )
    parser.add_argument(
        "--backoff-cap",
        type=float,
        default=RetryPolicy.cap,
        help="longest retry delay in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--touch-margin",
        type=int,
        default=DEFAULT_TOUCH_MARGIN,
        help="touch long jobs this many seconds before the TTR ends (default: %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        help="seconds jobs in hand get to finish at shutdown (default: %(default)s)",
    )
    parser.add_argument("--raw", action="store_true", help="give the handler bodies as bytes, not str")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.path.insert(0, os.getcwd())  # as `python -m` does: the handler's package may live here
    try:
        handler = load_handler(args.handler)
        address = cli_address(args.url)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"beanclient worker: {exc}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {
        "tubes": args.tubes or ["default"],
        "concurrency": args.concurrency,
        "encoding": None if args.raw else "utf-8",
        "retry": RetryPolicy(base=args.backoff, cap=args.backoff_cap, max_attempts=args.max_attempts),
        "reconnect": ReconnectPolicy(),
        "touch_margin": args.touch_margin,
        "grace": args.grace,
    }
    if inspect.iscoroutinefunction(handler):
        asyncio.run(AsyncWorker(address, handler=handler, **options).run())
    else:
        Worker(address, handler=handler, **options).run()
    return 0
