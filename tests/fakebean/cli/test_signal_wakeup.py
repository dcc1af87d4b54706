"""A stop signal always ends the executable's loop, whenever it lands.

A signal that arrives after the loop last looked at its flags but before it blocks in epoll_wait is
not an EINTR: Python runs its handler only when the main thread next runs bytecode, so the loop slept
on until some other event came (seen in CI: one ``proc.wait`` in ~200 after SIGTERM timed out). The
same happens, deterministically, when the kernel hands the signal to another thread while the main
thread sits in epoll_wait: that is how this test makes the race happen every time. The fix has the
C-level handler write to the loop's wake pipe (``signal.set_wakeup_fd``).
"""

from __future__ import annotations

import signal
import sys
import time

import pytest

from tests.support import free_port
from tests.support.shells import GUARD, Process

# The server's main thread blocks SIGTERM, after starting a thread that does not: the kernel then
# delivers SIGTERM to that thread, and the main thread's epoll_wait is not interrupted.
_RUNNER = """
import signal, sys, threading
threading.Thread(target=threading.Event().wait, daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1})
from fakebean.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.fake
@pytest.mark.parametrize("first", ["nothing", "SIGUSR1"])
def test_sigterm_handled_outside_the_loops_epoll_wait_still_stops_it(first: str) -> None:
    port = free_port()
    server = Process([sys.executable, "-c", _RUNNER, "-l", "127.0.0.1", "-p", str(port)], ("127.0.0.1", port))
    try:
        assert server.wait_listening(), server.stop()
        conn = server.connect()
        assert conn.cmd("list-tube-used") == b"USING default\r\n"  # serving: the loop is in epoll_wait
        if first == "SIGUSR1":  # drain first: its wake-up byte is drained, the loop goes back to sleep
            server.proc.send_signal(signal.SIGUSR1)
            # The signal reaches the other thread when the kernel schedules it: ask until it has.
            deadline = time.monotonic() + GUARD
            while b"draining: true" not in conn.cmd("stats") and time.monotonic() < deadline:
                pass
            assert conn.cmd("put 0 0 1 1", b"x") == b"DRAINING\r\n"
        # Before the fix the loop slept on in epoll_wait: killed after 10 s, status -9.
        status, _out, err = server.stop()
        conn.close()
    finally:
        server.finish()
    assert status == 0, err
