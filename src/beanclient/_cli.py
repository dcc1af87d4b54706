"""``python -m beanclient <command>`` (also the ``beanclient`` console script): one argparse parser
with a sub-command per tool. Exit codes: 0 done, 1 the command failed (a server error, a job not
found), 2 bad usage, 3 the server could not be reached."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _cli_worker

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beanclient", description="Tools for any beanstalkd, real or fake.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    _cli_worker.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
