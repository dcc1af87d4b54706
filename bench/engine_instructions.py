"""Machine instructions per command in the engine alone, with valgrind's callgrind (no sockets).

    python bench/engine_instructions.py               # both workloads, 8,192 and 16,384 rounds
    python bench/engine_instructions.py --src DIR     # another checkout's src/ (before/after)

Wall time on a shared machine drifts by tens of percent; an instruction count does not. The script
runs one workload twice under ``valgrind --tool=callgrind`` with N and 2N rounds and divides the
difference by the N extra rounds' commands, so interpreter start-up and imports cancel out. N is
large enough that both runs include the timer heap's compactions (the amortised cost of the stale
entries each delete leaves), which a short run would leave out.

Workloads (each round is three commands on one connection):
  pipelined  ``put``, ``reserve``, ``delete`` fed as one input: replies queue on ``conn.out``;
  direct     one command per feed with a ``send_now`` (the executable's request/response path).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

_DRIVER = """
import sys
from fakebean.engine import Engine
rounds, workload = int(sys.argv[1]), sys.argv[2]
engine = Engine()
conn = engine.connect(0)
sent = []
if workload == "direct":
    conn.send_now = sent.append
feed = engine.feed
for i in range(1, rounds + 1):
    if workload == "pipelined":
        feed(conn, b"put 0 0 60 5\\r\\nhello\\r\\nreserve\\r\\ndelete %d\\r\\n" % i, 0)
        conn.out.clear()
        conn.out_size = 0
        engine.dirty.clear()
    else:
        feed(conn, b"put 0 0 60 5\\r\\nhello\\r\\n", 0)
        feed(conn, b"reserve\\r\\n", 0)
        feed(conn, b"delete %d\\r\\n" % i, 0)
        sent.clear()
assert engine.counts[7] == rounds  # every delete ran
"""


def instructions(src: Path, rounds: int, workload: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                _DRIVER,
                str(rounds),
                workload,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        match = re.search(rb"^summary: (\d+)", out.read_bytes(), re.M)
        assert match is not None
        return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="fakebean's src/ folder")
    parser.add_argument("--rounds", type=int, default=8192)
    args = parser.parse_args(argv)
    for workload in ("pipelined", "direct"):
        low = instructions(args.src.resolve(), args.rounds, workload)
        high = instructions(args.src.resolve(), 2 * args.rounds, workload)
        per_command = (high - low) / (3 * args.rounds)
        print(f"{workload:10} {per_command:8,.0f} instructions per command")
    return 0


if __name__ == "__main__":
    sys.exit(main())
