"""Profile the ``fakebean`` server process under the benchmark's load, with cProfile.

    python bench/profile_fakebean.py                      # pipelined load, 1 and 4 connections
    python bench/profile_fakebean.py --load rr            # greenstalk request/response instead
    python bench/profile_fakebean.py -o /tmp/fb.prof --top 30

The server runs as ``python -m cProfile -o PATH -m fakebean -l 127.0.0.1 -p PORT``, gets the load
for ``--seconds``, and is stopped with SIGINT; fakebean exits 0 on SIGINT, so cProfile writes its
stats. The script checks that exit status, then prints the top functions by own time and by
cumulative time. Open the file later with ``python -m pstats PATH``.
"""

from __future__ import annotations

import argparse
import pstats
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import clients
import pipeline
import servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", choices=["pipeline", "rr"], default="pipeline")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of load per phase (default 3)")
    parser.add_argument("--batch", type=int, default=200, help="commands per pipelined write (default 200)")
    parser.add_argument("-o", "--output", help="where to write the profile (default: a temporary file)")
    parser.add_argument("--top", type=int, default=25, help="rows per listing (default 25)")
    parser.add_argument(
        "--fakebean-src",
        type=Path,
        default=servers.SRC,
        metavar="DIR",
        help="fakebean's src/ folder to profile",
    )
    args = parser.parse_args(argv)
    out = Path(args.output or tempfile.mkstemp(prefix="fakebean-", suffix=".prof")[1])

    server = servers.fakebean_server(["-m", "cProfile", "-o", str(out)], src=args.fakebean_src.resolve())
    status: int | None = None
    try:
        server.start()
        if args.load == "pipeline":
            for conns in (1, 4):
                sample = pipeline.run_pipeline(
                    server.address, conns, args.batch, args.seconds, f"prof{conns}", server
                )
                print(
                    f"pipelined, {conns} conn(s): {sample.rate:,.0f} cmd/s under cProfile "
                    f"(server cpu {sample.server_cpu or 0:.2f})"
                )
        else:
            sample = clients.rr_loop(
                clients.greenstalk_factory(), server.address, "prof", args.seconds, server
            )
            print(
                f"greenstalk req/resp: {sample.rate:,.0f} cmd/s under cProfile "
                f"(server cpu {sample.server_cpu or 0:.2f})"
            )
        proc = server.proc
        assert proc is not None
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(30)  # dumping a big profile takes a moment
        except subprocess.TimeoutExpired:
            print("fakebean did not exit within 30 s of SIGINT", file=sys.stderr)
    finally:
        server.stop()
    if status != 0:
        print(f"fakebean exited with status {status} after SIGINT (expected 0)", file=sys.stderr)
        return 1
    print(f"fakebean exited 0 after SIGINT; profile in {out}\n")
    stats = pstats.Stats(str(out))
    stats.strip_dirs()
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
