"""A real ``beanstalkd`` process for one test: found, started on a port no other process can take
(systemd socket activation where the binary supports it), stopped and collected. ``fakebean.testing``
(the ``--real-beanstalkd`` fixture) and the tests that hold fakebean's executable against beanstalkd
use it."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time


def find_beanstalkd(path: str | None = None) -> str:
    """The real ``beanstalkd`` binary: ``path``, ``$BEANSTALKD``, or the one on ``PATH``."""
    candidate = path or os.environ.get("BEANSTALKD") or shutil.which("beanstalkd")
    if not candidate:
        raise FileNotFoundError(
            "no real beanstalkd found: install it (Debian/Ubuntu: apt-get install beanstalkd), "
            "or give its path (pytest --real-beanstalkd=/path/to/beanstalkd, or $BEANSTALKD)"
        )
    if not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        raise FileNotFoundError(
            f"{candidate!r} is not an executable beanstalkd (to give the option no path, put it where "
            "no test path follows it, or write --real-beanstalkd=/path/to/beanstalkd)"
        )
    return candidate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on TCP ``port`` (from /proc/net/tcp and tcp6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def _owns_listener(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port``. Sends the server nothing, so
    its counters stay as a fresh server's."""
    wanted = {f"socket:[{inode}]" for inode in _listening_sockets(port)}
    if not wanted:
        return False
    fd_dir = f"/proc/{pid}/fd"
    try:
        return any(os.readlink(os.path.join(fd_dir, fd)) in wanted for fd in os.listdir(fd_dir))
    except OSError:
        return False


def beanstalkd_version(path: str) -> str:
    """The version a beanstalkd binary reports with ``-v`` (``"1.12"``)."""
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10).stdout
    return out.split()[1] if len(out.split()) > 1 else ""


# Debian's beanstalkd links libsystemd: started with LISTEN_FDS=1 and LISTEN_PID set to its own pid,
# it serves the listening socket it inherits as fd 3 (sd_listen_fds) and ignores -l/-p. The socket
# comes in as the shell's stdin (any fd above 9 is beyond dash's redirections); the shell moves it
# to fd 3 and sets LISTEN_PID to its pid, which exec hands on to beanstalkd: the pid Popen knows is
# beanstalkd's own. The shell costs ~0.5 ms a start; subprocess has no shell-free way to put the
# child's own pid in its environment but ``preexec_fn``, which forks the whole interpreter (~1 ms
# slower than the shell, measured) and is unsafe while other threads run (ThreadedServer's do).
_ACTIVATE = 'exec 3<&0 </dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
_activation: dict[str, bool] = {}


def supports_socket_activation(binary: str) -> bool:
    """Whether ``binary`` takes an inherited listening socket (it calls ``sd_listen_fds``)."""
    known = _activation.get(binary)
    if known is None:
        try:
            with open(binary, "rb") as f:
                known = b"sd_listen_fds" in f.read()
        except OSError:
            known = False
        _activation[binary] = known
    return known


STOP_TIMEOUT = 5.0  # seconds a stopped server has to exit before it is killed


def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for ``process`` to exit and collect it (no zombie left); after ``timeout`` seconds it is
    killed. The wait wakes on the exit itself (a pidfd), where ``Popen.wait(timeout)`` would sleep
    in growing steps from 0.5 ms, most of a stop's cost."""
    if process.poll() is None:
        try:
            pidfd = os.pidfd_open(process.pid)  # (the pid is still ours: only we collect it)
        except (AttributeError, OSError):  # no pidfd here (Linux before 5.3, or not Linux)
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                return process.wait()
        try:
            exited = bool(select.select([pidfd], [], [], timeout)[0])
        finally:
            os.close(pidfd)
        if not exited:
            process.kill()
    return process.wait()


class RealBeanstalkd:
    """A real ``beanstalkd`` process on 127.0.0.1 and a free port, for this test only.

    Where beanstalkd supports systemd socket activation (Debian's does), the socket is bound and
    listening before the process starts: no port can be lost to another process, and a client may
    connect at once (the kernel queues it until beanstalkd accepts), so nothing waits for start-up.
    Otherwise (``socket_activation=False``, or a beanstalkd built without libsystemd) it picks a
    free port, starts beanstalkd on it and waits until the process listens there.
    """

    def __init__(
        self,
        path: str | None = None,
        max_job_size: int | None = None,
        binlog_max_size: int | None = None,
        binlog_dir: str | None = None,
        socket_activation: bool | None = None,
    ) -> None:
        binary = find_beanstalkd(path)
        options: list[str] = []
        if max_job_size is not None:
            options += ["-z", str(max_job_size)]
        if binlog_max_size is not None:
            options += ["-s", str(binlog_max_size)]
        if binlog_dir is not None:
            options += ["-b", str(binlog_dir)]
        # stderr goes to a file, never a pipe: nobody reads a pipe while the test runs, and
        # beanstalkd blocks once it holds 64 KiB of warnings (one per put refused while draining)
        self._stderr = tempfile.TemporaryFile()
        if socket_activation is None:
            socket_activation = supports_socket_activation(binary)
        if socket_activation:
            self._start_activated(binary, options)
            return
        last_error = ""
        for _attempt in range(5):
            port = _free_port()
            args = [binary, "-l", "127.0.0.1", "-p", str(port), *options]
            self._stderr.truncate(0)
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._stderr)
            self.address = ("127.0.0.1", port)
            if self._wait_listening():
                return
            self.process.kill()
            self.process.wait()
            last_error = self.stderr().strip()
        self._stderr.close()
        raise RuntimeError(f"could not start {binary} on a free port: {last_error}")

    def _start_activated(self, binary: str, options: list[str]) -> None:
        with socket.socket() as listener:
            # the options beanstalkd sets on a socket it makes itself (make_server_socket in net.c);
            # accepted connections inherit them: without TCP_NODELAY, a second pipelined reply waits
            # ~40 ms for the client's delayed ACK
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1024)  # beanstalkd's own backlog (make_server_socket in net.c)
            self.address = ("127.0.0.1", int(listener.getsockname()[1]))
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", _ACTIVATE, binary, *options],
                stdin=listener.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
            )
        # Our copy is closed; the socket lives on in beanstalkd, which owns it from here.

    def stderr(self) -> str:
        """Everything the process has written to stderr so far."""
        fd = self._stderr.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def _wait_listening(self) -> bool:
        """Wait until our process listens on the port.

        The port was free when chosen but is not reserved for us: another process (a parallel
        pytest-xdist worker) may bind it first, in which case ours exits and we try another port.
        The check reads /proc instead of talking to the server, so its counters start at zero.
        """
        deadline = time.monotonic() + 5.0
        pause = 0.001
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            if _owns_listener(self.process.pid, self.address[1]):
                return True
            time.sleep(pause)  # nothing to wait on but the port itself (beanstalkd takes ~5 ms)
            pause = min(pause * 1.5, 0.005)
        return False

    def drain(self) -> None:
        """SIGUSR1, then wait until ``stats`` says ``draining: true`` (signals land asynchronously)."""
        deadline = time.monotonic() + 5.0
        with socket.create_connection(self.address, timeout=5.0) as sock:
            signalled = False
            while time.monotonic() < deadline:
                sock.sendall(b"stats\r\n")
                reply = b""
                while not reply.endswith(b"\n\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("beanstalkd closed the connection")
                    reply += chunk
                if b"\ndraining: true\n" in reply:
                    return
                if not signalled:
                    # after a round trip: beanstalkd installs its SIGUSR1 handler after it listens
                    self.process.send_signal(signal.SIGUSR1)
                    signalled = True
                    continue
                time.sleep(0.001)
        raise TimeoutError("beanstalkd did not enter drain mode after SIGUSR1")

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then wait for the process to exit, so that it leaves no zombie behind (nor its
        binlog lock); one still running after ``timeout`` seconds is killed."""
        if self.process.poll() is None:
            self.process.terminate()
        _wait_exit(self.process, timeout)
        self._stderr.close()

    def wait(self) -> int:
        """The process's exit status, once it has exited (``close`` has waited for it)."""
        return _wait_exit(self.process, STOP_TIMEOUT)
