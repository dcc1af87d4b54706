"""Real clients in three more languages run one scripted scenario against fakebean's executable and
against a real beanstalkd.

The scenario (``node/*_scenario.js``, ``php/pheanstalk_scenario.php``, ``ruby/beaneater_scenario.rb``) is the
same in every language: put with priority, delay and TTR, reserve and reserve-with-timeout, delete, release,
bury, kick and kick-job, touch, the peeks, use/watch/ignore, the three stats, list-tubes, pause-tube, a
binary body with CR LF and NUL inside, a body at the size limit and one byte over it. Each script asserts
as it goes and prints what it saw, one ``ok NAME: VALUE`` line per check; every client on every server
must print exactly ``expected.txt``, so the four clients agree with each other as well as with beanstalkd.

The clients are installed by ``scripts/install-deps.sh`` (Debian's ``php-pda-pheanstalk`` and
``ruby-beaneater``, npm's ``jackd`` and ``fivebeans`` into ``tests/polyglot/node``). A missing one skips its
test with "not installed"; ``.ci/run`` fails the run when any ``polyglot`` test did not pass.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Backend, ExecutableBackend, RealBackend
from tests.support.differential import executable

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
MAX_JOB_SIZE = 65535  # beanstalkd's default, given explicitly so that both servers say it in stats
SCRIPT_TIMEOUT = 60.0  # a hang guard: the scenario takes well under a second

pytestmark = pytest.mark.polyglot

# client id -> (interpreter, script, the interpreter's arguments that load the library or fail)
CLIENTS = {
    "jackd": ("node", NODE_DIR / "jackd_scenario.js", ["-e", "require('jackd')"]),
    "fivebeans": ("node", NODE_DIR / "fivebeans_scenario.js", ["-e", "require('fivebeans')"]),
    "pheanstalk": (
        "php",
        HERE / "php" / "pheanstalk_scenario.php",
        ["-r", "require 'Pheanstalk/autoload.php';"],
    ),
    "beaneater": ("ruby", HERE / "ruby" / "beaneater_scenario.rb", ["-e", "require 'beaneater'"]),
}

SERVERS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


@pytest.fixture(params=SERVERS)
def polyglot_server(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """fakebean's executable (the epoll shell a non-Python client would meet), or a real beanstalkd."""
    backend: Backend
    if request.param == "fake":
        backend = ExecutableBackend(executable(), max_job_size=MAX_JOB_SIZE)
    else:
        backend = RealBackend(max_job_size=MAX_JOB_SIZE)
    try:
        yield backend
    finally:
        backend.close()


def client_command(client: str) -> list[str]:
    interpreter, script, probe = CLIENTS[client]
    found = shutil.which(interpreter)
    if found is None:
        pytest.skip(f"{interpreter} is not installed (scripts/install-deps.sh installs it)")
    loads = subprocess.run(
        [found, *probe],
        cwd=script.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if loads.returncode != 0:
        why = " ".join(loads.stderr.decode(errors="replace").split())[:200]
        pytest.skip(f"the {client} client is not installed (run scripts/install-deps.sh): {why}")
    return [found, str(script)]


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_scenario(client: str, polyglot_server: Backend) -> None:
    command = client_command(client)
    host, port = polyglot_server.address
    done = subprocess.run(
        [*command, host, str(port), str(MAX_JOB_SIZE)],
        cwd=Path(command[1]).parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    report = (
        f"{client} on {polyglot_server.kind}: exit {done.returncode}\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    report = report[:20000]
    assert done.returncode == 0, report
    assert done.stdout == (HERE / "expected.txt").read_text(), report
