"""The ``fakebean`` executable: a drop-in for the ``beanstalkd`` command.

Start-up order matters: the command must be listening within 100 ms of exec, and importing the engine and
its shell costs 30 ms or more (asyncio alone about 60 ms). So this module parses the options, installs the
signal handlers and binds + listens first, and only then imports the server; a client that connects
meanwhile waits in the kernel's accept backlog. Until then it uses the C modules ``_socket`` and
``_signal`` instead of ``socket`` and ``signal``, whose enum machinery costs 10-20 ms on a cold start, and
hands ``getaddrinfo`` an ASCII host as bytes, which skips loading the IDNA codec (another 7 ms).

The server is ``fakebean.epollserver.EpollServer``, a one-thread epoll loop (the command serves other
processes, so it needs no event loop to share); where there is no epoll, the asyncio ``fakebean.Server``.
"""

from __future__ import annotations

import _socket
import io
import os
import sys

from fakebean.options import PROG, Exit, Options, parse_args

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing costs startup time
if TYPE_CHECKING:
    import signal as _signal  # the same functions and constants, typed
    import socket
    from collections.abc import Sequence
    from types import FrameType

    from fakebean.engine import Engine
    from fakebean.epollserver import EpollServer
    from fakebean.server import Server
else:
    import _signal

__all__ = ["main"]

EXIT_LISTEN = 111  # beanstalkd's status when it cannot make its listening socket
EXIT_NO_USER = 33  # -u names no user
EXIT_SETID = 34  # setgid/setuid refused
BACKLOG = 1024


class _Signals:
    """SIGUSR1 (drain), SIGTERM and SIGINT (stop), from exec to exit.

    Before a server is attached the handlers only take note: an exception raised from a signal handler
    in the middle of an import can leave a half-initialised module and a confusing error. Once the
    epoll server runs, they call it directly, and a stop also writes to ``wake_fd``, a pipe that the
    server's epoll watches, because a signal alone does not end a blocking ``epoll.poll`` (PEP 475);
    the pipe is also the C-level handler's ``set_wakeup_fd`` (see ``_serve``).
    """

    def __init__(self) -> None:
        self.drain = False
        self.stop = False
        self.server: EpollServer | None = None
        self.wake_fd = -1

    def attach(self, server: EpollServer, wake_fd: int) -> None:
        self.server, self.wake_fd = server, wake_fd
        if self.drain:
            server.drain()
        if self.stop:
            server.stop()

    def install(self) -> None:
        _signal.signal(_signal.SIGUSR1, self._on_usr1)
        _signal.signal(_signal.SIGTERM, self._on_stop)
        _signal.signal(_signal.SIGINT, self._on_stop)

    def _on_usr1(self, signum: int, frame: FrameType | None) -> None:
        self.drain = True
        if self.server is not None:
            self.server.drain()

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True
        if self.server is not None:
            self.server.stop()
            try:
                os.write(self.wake_fd, b"!")
            except OSError:
                pass  # the pipe is full or closed: a byte is already waiting, or the loop is gone


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM or SIGINT; return the exit status."""
    # Until the socket listens, a write to a closed stdout or stderr kills the process silently,
    # as it kills beanstalkd, which ignores SIGPIPE only once it serves (set_sig_handlers in
    # main.c); Python ignores it from the start and would die of a BrokenPipeError traceback.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    finally:
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)


def _main(args: list[str]) -> int:
    try:
        opts = parse_args(args, PROG)
    except Exit as done:
        sys.stderr.write(done.stderr)  # warnings came first, as beanstalkd prints them while parsing
        sys.stderr.flush()
        sys.stdout.write(done.stdout)
        sys.stdout.flush()
        return done.status
    _warn_all(opts.warnings)

    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # beanstalkd: setlinebuf(stdout)
    signals = _Signals()
    signals.install()
    sock: _socket.socket | None = None
    try:
        if opts.verbose:
            print(f"pid {os.getpid()}")
        sock = make_server_socket(opts)
        if sock is None:
            return EXIT_LISTEN
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)  # serving: a vanished client is no reason to die
        if signals.stop:
            return 0
        return _serve(opts, sock, signals)
    finally:
        if sock is not None:
            sock.close()


def make_server_socket(opts: Options) -> _socket.socket | None:
    """The bound, listening socket for ``-l``/``-p``, or None after printing why not (like net.c)."""
    path = opts.unix_path
    if path is not None:
        sock = _unix_socket(path, opts.verbose)
        if sock is None:
            _warn(f"cannot listen on unix:{path}")  # beanstalkd's second line: make_server_socket()
        return sock
    return _inet_socket(opts.addr, opts.port, opts.verbose)


def _inet_socket(host: str, port: str, verbose: int) -> _socket.socket | None:
    name = host.encode() if host.isascii() else host  # bytes: no IDNA codec to import
    try:
        infos = _socket.getaddrinfo(name, port, _socket.AF_UNSPEC, _socket.SOCK_STREAM, 0, _socket.AI_PASSIVE)
    except _socket.gaierror as err:
        _warn(f"getaddrinfo(): {err.strerror}")
        _warn(f"cannot listen on {host} port {port}")
        return None
    for family, kind, proto, _name, address in infos:
        try:
            sock = _socket.socket(family, kind, proto)
        except OSError as err:
            _warn(f"socket(): {err.strerror}")
            continue
        step = "setsockopt()"
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # accepted sockets inherit it
            step = "bind()"
            sock.bind(address)
            if verbose:
                bound_host, bound_port = sock.getsockname()[:2]
                shown = f"[{bound_host}]" if family == _socket.AF_INET6 else bound_host
                print(f"bind {sock.fileno()} {shown}:{bound_port}")
            step = "listen()"
            sock.listen(BACKLOG)
        except OSError as err:
            _warn(f"{step}: {err.strerror}")
            sock.close()
            continue
        return sock
    _warn(f"cannot listen on {host} port {port}")
    return None


def _unix_socket(path: str, verbose: int) -> _socket.socket | None:
    limit = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
    if len(os.fsencode(path)) > limit:
        _warn(
            f"socket path {path} is too long ({len(os.fsencode(path))} characters), "
            f"where maximum allowed is {limit}"
        )
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        pass  # nothing there (or nothing we may see): bind decides
    else:
        import stat

        if not stat.S_ISSOCK(mode):
            _warn("another file already exists in the given path")
            return None
        # A socket file left by an earlier server: beanstalkd 1.12 replaces it without asking.
        _warn("removing existing local socket to replace it")
        try:
            os.unlink(path)
        except OSError as err:
            _warn(f"unlink: {err.strerror}")
            return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    step = "bind()"
    try:
        sock.bind(path)
        if verbose:
            print(f"bind {sock.fileno()} {path}")
        step = "listen()"
        sock.listen(BACKLOG)
    except OSError as err:
        _warn(f"{step}: {err.strerror}")
        sock.close()
        return None
    return sock


def _become_user(opts: Options) -> int:
    """``-u``, once everything is imported: the new user may not be able to read this Python's files."""
    return 0 if opts.user is None else become_user(opts.user)


def become_user(user: str) -> int:
    """``-u USER``: take the user's gid then uid, as beanstalkd does (no supplementary-group change)."""
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        _warn(f'getpwnam("{user}"): no such user')
        return EXIT_NO_USER
    try:
        os.setgid(entry.pw_gid)
    except OSError as err:
        _warn(f'setgid({entry.pw_gid} "{user}"): {err.strerror}')
        return EXIT_SETID
    try:
        os.setuid(entry.pw_uid)
    except OSError as err:
        _warn(f'setuid({entry.pw_uid} "{user}"): {err.strerror}')
        return EXIT_SETID
    return 0


def _serve(opts: Options, raw: _socket.socket, signals: _Signals) -> int:
    import gc
    import select

    if not hasattr(select, "epoll"):
        return _serve_asyncio(opts, raw, signals)

    import socket

    from fakebean.epollserver import EpollServer

    sock = socket.socket(fileno=raw.detach())  # the same listening socket, as the object the server wants
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    wakeup_set = False
    try:
        if opts.admin is not None or opts.verbose >= 2:
            server = _controlled_server(opts, sock)
            if server is None:
                return EXIT_LISTEN
        else:
            server = EpollServer(
                sock,
                max_job_size=opts.max_job_size,
                version=opts.version,
                binlog_max_size=opts.binlog_max_size,
            )
            if opts.verbose:
                from fakebean.verbose import VerboseLog

                server.log = VerboseLog(opts.verbose)
        server.engine.server_error_log = _log_server_error
        server.io_error_log = _log_io_error
        # A signal that lands after the loop last looked at its flags but before it blocks in
        # epoll_wait is not an EINTR: its Python handler would run only once epoll_wait returned,
        # maybe never. So the C-level handler itself writes to the wake pipe (set_wakeup_fd): the
        # poll returns, the handler runs, and the loop drains the pipe (a SIGUSR1 would otherwise
        # leave it readable for good).
        os.set_blocking(wake_r, False)
        server.epoll.register(wake_r, select.EPOLLIN)
        server.watchers[wake_r] = lambda mask: _drain(wake_r)
        wakeup_set = _set_wakeup_fd(wake_w)
        status = _become_user(opts) or _open_binlog(opts, server.engine)
        if status:
            return status
        signals.attach(server, wake_w)
        # Everything allocated so far lives as long as the process: keep the collector off it.
        gc.freeze()
        if not signals.stop:
            server.serve_forever()
    finally:
        signals.server = None
        if wakeup_set:
            _signal.set_wakeup_fd(-1)
        sock.close()
        os.close(wake_r)
        os.close(wake_w)
    return 0


def _set_wakeup_fd(fd: int) -> bool:
    """``signal.set_wakeup_fd(fd)``; False where it cannot be set (not the main thread)."""
    try:
        _signal.set_wakeup_fd(fd)
    except ValueError:
        return False
    return True


def _drain(fd: int) -> None:
    try:
        os.read(fd, 4096)
    except OSError:
        pass


def _controlled_server(opts: Options, sock: socket.socket) -> EpollServer | None:
    """The epoll server with the controls: for ``-VV`` and for ``--admin`` (None after printing why
    the admin address cannot be served)."""
    from fakebean.epollcontrol import ControlledEpollServer

    # No transcript unless asked (POST /api/transcript {"size": N}): the plain engine is faster.
    server = ControlledEpollServer(
        sock,
        verbose=opts.verbose,
        max_job_size=opts.max_job_size,
        version=opts.version,
        binlog_max_size=opts.binlog_max_size,
    )
    if opts.admin is None:
        return server
    from fakebean.admin import start_epoll

    try:
        address = start_epoll(server, opts.admin, opts.admin_allow_remote)
    except (OSError, ValueError) as err:
        _warn(f"--admin {opts.admin}: {err}")
        return None
    print(f"admin http://{address}/", flush=True)
    return server


def _serve_asyncio(opts: Options, raw: _socket.socket, signals: _Signals) -> int:
    import asyncio
    import signal
    import socket

    from fakebean.server import Server

    sock = socket.socket(fileno=raw.detach())  # the same listening socket, as the object asyncio wants
    status = _become_user(opts)
    if status or signals.stop:
        sock.close()
        return status
    binlog_dir = opts.binlog_dir

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        server: Server | None = None

        def on_usr1() -> None:
            signals.drain = True
            if server is not None:
                server.drain()

        # From here on the loop owns the signals; the handlers above only covered the imports.
        loop.add_signal_handler(signal.SIGUSR1, on_usr1)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        if signals.stop:  # arrived between the check above and the loop taking the signals over
            sock.close()
            return
        server = Server(
            sock=sock,
            max_job_size=opts.max_job_size,
            version=opts.version,
            binlog_max_size=opts.binlog_max_size,
        )
        server.engine.server_error_log = _log_server_error
        if binlog_dir is not None and _open_binlog(opts, server.engine):
            sock.close()
            raise SystemExit(10)
        await server.start()
        if signals.drain:
            server.drain()
        serving = asyncio.ensure_future(server.serve_forever())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            await server.close()
        if serving.done():
            serving.result()  # the server stopped by itself: let its error out
        else:
            serving.cancel()

    try:
        asyncio.run(run())
    finally:
        signals.install()  # closing the loop put back the default handlers: SIGTERM would kill us now
    return 0


def _open_binlog(opts: Options, engine: Engine) -> int:
    """``-b``: lock the directory and recover it (exit 10 when it cannot be locked, as beanstalkd)."""
    if opts.binlog_dir is None:
        return 0
    from fakebean.binlog import EXIT_LOCK, LockError, open_journal

    try:
        open_journal(engine, opts.binlog_dir, opts.binlog_max_size, opts.fsync_ms, opts.want_sync)
    except LockError as err:
        _warn_all(err.lines)
        return EXIT_LOCK
    return 0


def _warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def _log_server_error(reply: bytes) -> None:
    """beanstalkd's ``reply_serr``: the reply, CRLF and all, as a warning line on stderr."""
    _warn(f"server error: {reply.decode('ascii')}")


def _log_io_error(call: str, err: OSError) -> None:
    """beanstalkd's ``check_err`` (prot.c): a connection's failed read or write, with and without
    -V, without the C source location (COMPAT.md)."""
    _warn(f"{call}: {err.strerror}")


def _warn_all(messages: list[str]) -> None:
    for message in messages:
        _warn(message)
