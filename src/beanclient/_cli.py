"""``python -m beanclient <command>`` (also the ``beanclient`` console script): one argparse parser
with a sub-command per tool, for any beanstalkd, real or fake.

Exit codes: 0 done; 1 the server refused (a job not found, a tube paused wrongly, ...); 2 bad usage;
3 the server could not be reached or the connection dropped; 4 ``export`` wrote the jobs it found but
could not show it found them all (``_cli_export``); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence
from typing import Any

from . import _cli_bulk, _cli_commands, _cli_worker
from ._cli_address import cli_address, describe_address
from ._errors import Error, ValidationError
from ._sync import Client

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class Unreachable(Exception):
    pass


def connect(args: argparse.Namespace, **kwargs: Any) -> Client[bytes]:
    """A bytes client on ``--url`` (or ``$BEANSTALKD_URL``); ``Unreachable`` names the address."""
    address = cli_address(args.url)
    try:
        return Client(address, None, connect_timeout=args.timeout, timeout=args.timeout, **kwargs)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.errno == errno.ECONNREFUSED:
            reason = "connection refused"
        raise Unreachable(f"cannot reach {describe_address(address)}: {reason.lower()}") from exc


def add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help="beanstalk://host:port, host:port, [::1]:port or a unix socket path "
        "(default: $BEANSTALKD_URL, else 127.0.0.1:11300)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server (10)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beanclient",
        description="Tools for any beanstalkd, real or fake. Exit status: 0 done, 1 the server refused, "
        "2 bad usage, 3 server unreachable, 4 export could not show it found every job.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    _cli_worker.add_parser(commands)
    _cli_commands.add_parsers(commands, add_address)
    _cli_bulk.add_parsers(commands, add_address)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "worker":
            code: int = args.run(args)
            return code
        with connect(args) as client:
            return int(args.run(client, args) or EXIT_OK)
    except Unreachable as exc:
        print(f"beanclient: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValidationError as exc:
        print(f"beanclient {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Error as exc:
        print(f"beanclient {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as exc:
        print(f"beanclient {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
