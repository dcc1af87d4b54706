"""Command-line options of the ``fakebean`` executable, parsed exactly like beanstalkd 1.12's ``optparse``.

beanstalkd's rules (docs/protocol.md §10, ``util.c``): flags may be combined (``-VFVukr``); a flag's value
is the rest of its word or else the next word, whatever it looks like (``-p -v`` sets the port to ``-v``);
parsing stops at the first word that is not a flag, or at a lone ``-``, and that word is an error. Every
error prints one ``prog: ...`` line and the usage text on stderr and exits with status 5. ``-h`` prints the
usage text on stderr and exits 0; ``-v`` prints the version on stdout and exits 0. Flags are handled in
order, so warnings printed before an exit stay printed.

Our only additions: the long options ``--compat VERSION`` (or ``--compat=VERSION``), ``--admin HOST:PORT``
and ``--admin-allow-remote``, and the default listen address 127.0.0.1 instead of all interfaces. This
module imports nothing heavy: the executable must be listening within 100 ms of starting.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing costs startup time
if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "fakebean"
DEFAULT_ADDR = "127.0.0.1"  # beanstalkd listens on all interfaces by default; see COMPAT.md
DEFAULT_PORT = "11300"
DEFAULT_FSYNC_MS = 50
JOB_SIZE_DEFAULT = 65535
JOB_SIZE_MAX = 1073741824
BINLOG_SIZE_DEFAULT = 10485760
VERSIONS = ("1.12", "1.13")
EXIT_USAGE = 5

_SIZE_MAX = 2**64 - 1  # size_t on the 64-bit platforms beanstalkd runs on
_C_SPACE = " \t\n\v\f\r"

USAGE = """\
Use: {prog} [OPTIONS]

Options:
 -b DIR   write-ahead log directory
 -f MS    fsync at most once every MS milliseconds (default is {fsync}ms);
          use -f0 for "always fsync"
 -F       never fsync
 -l ADDR  listen on address (default is {addr})
 -p PORT  listen on port (default is {port})
 -u USER  become user and group
 -z BYTES set the maximum job size in bytes (default is {job_size});
          max allowed is {job_size_max} bytes
 -s BYTES set the size of each write-ahead log file (default is {binlog_size});
          will be rounded up to a multiple of 4096 bytes
 -v       show version information
 -V       increase verbosity
 -h       show this help
 --compat VERSION
          speak the protocol of beanstalkd VERSION: 1.12 (default) or 1.13
 --admin HOST:PORT
          serve the admin API and dashboard at http://HOST:PORT/ (loopback only)
 --admin-allow-remote
          let --admin listen on an address beyond loopback (prints a warning)

Differences from beanstalkd:
 the default listen address is {addr}, not 0.0.0.0 (use -l 0.0.0.0 for all interfaces).

Persistence: with -b DIR, jobs are written to DIR in beanstalkd 1.12's own binlog format
 and recovered at start-up; beanstalkd and fakebean can each take over the other's DIR.
"""


def usage_text(prog: str = PROG) -> str:
    return USAGE.format(
        prog=prog,
        fsync=DEFAULT_FSYNC_MS,
        addr=DEFAULT_ADDR,
        port=DEFAULT_PORT,
        job_size=JOB_SIZE_DEFAULT,
        job_size_max=JOB_SIZE_MAX,
        binlog_size=BINLOG_SIZE_DEFAULT,
    )


class Exit(Exception):
    """Parsing ends the program: print ``stdout`` and ``stderr`` (warnings included) and exit ``status``."""

    def __init__(self, status: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


class Options:
    """What the command line asked for; defaults are beanstalkd's except ``addr``."""

    def __init__(self) -> None:
        self.addr = DEFAULT_ADDR  # a host name, an IP address, or ``unix:PATH``
        self.port = DEFAULT_PORT  # kept as text: beanstalkd hands it to getaddrinfo as a service name
        self.max_job_size = JOB_SIZE_DEFAULT
        self.binlog_max_size = BINLOG_SIZE_DEFAULT
        self.binlog_dir: str | None = None
        self.fsync_ms = DEFAULT_FSYNC_MS
        self.want_sync = True
        self.user: str | None = None
        self.verbose = 0
        self.version = "1.12"
        self.admin: str | None = None  # HOST:PORT of the admin API, off by default
        self.admin_allow_remote = False
        self.warnings: list[str] = []  # ``prog: ...`` lines already due on stderr, in order

    @property
    def unix_path(self) -> str | None:
        return self.addr[5:] if self.addr.startswith("unix:") else None


def parse_size(text: str) -> int | None:
    """beanstalkd's ``sscanf(text, "%zu%c")`` == 1: a C size_t, or None when the text is not one.

    Like strtoull: leading C white space, an optional sign, at least one decimal digit and nothing after.
    A minus sign negates modulo 2**64 and an overflow gives SIZE_MAX, so ``-1`` and huge values are
    accepted as very large sizes (and -z then clamps them).
    """
    rest = text.lstrip(_C_SPACE)
    negative = rest[:1] == "-"
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    if not rest or not (rest.isascii() and rest.isdigit()):
        return None
    value = int(rest)
    if value > _SIZE_MAX:
        return _SIZE_MAX
    return (-value) % 2**64 if negative else value


def c_int(value: int) -> int:
    """A size_t stored into a C ``int``: beanstalkd keeps the binlog size (-s) in one (stats shows it)."""
    value %= 2**32
    return value - 2**32 if value >= 2**31 else value


def parse_args(argv: Sequence[str], prog: str = PROG) -> Options:
    """Parse ``argv`` (without the program name). Raises ``Exit`` for -h, -v and every error."""
    opts = Options()
    words = list(argv)
    i = 0

    def fail(message: str) -> Exit:
        return Exit(EXIT_USAGE, stderr=_lines(opts.warnings + [message], prog) + usage_text(prog))

    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-") or word == "-":
            raise fail(f"unknown argument: {word}")
        if word == "--admin-allow-remote":
            opts.admin_allow_remote = True
            continue
        if word == "--admin" or word.startswith("--admin="):
            if word == "--admin":
                if i == len(words):
                    raise fail("flag requires an argument: --admin")
                opts.admin = words[i]
                i += 1
            else:
                opts.admin = word[len("--admin=") :]
            host, sep, port = opts.admin.rpartition(":")
            if not sep or not port.isdigit():
                raise fail(f"--admin takes HOST:PORT, not {opts.admin}")
            continue
        if word == "--compat" or word.startswith("--compat="):
            if word == "--compat":
                if i == len(words):
                    raise fail("flag requires an argument: --compat")
                value = words[i]
                i += 1
            else:
                value = word[len("--compat=") :]
            if value not in VERSIONS:
                raise fail(f"unknown compat version: {value} (choose 1.12 or 1.13)")
            opts.version = value
            continue
        pos = 1
        while pos < len(word):
            flag = word[pos]
            pos += 1
            if flag in "plzsfub":
                # The value is the rest of this word, else the whole next word.
                if pos < len(word):
                    value, pos = word[pos:], len(word)
                elif i < len(words):
                    value = words[i]
                    i += 1
                else:
                    raise fail(f"flag requires an argument: -{flag}")
                if flag in "zsf":
                    size = parse_size(value)
                    if size is None:
                        raise fail(f"invalid size: {value}")
                    if flag == "z":
                        if size > JOB_SIZE_MAX:
                            opts.warnings.append(f"maximum job size was set to {JOB_SIZE_MAX}")
                            size = JOB_SIZE_MAX
                        opts.max_job_size = size
                    elif flag == "s":
                        opts.binlog_max_size = c_int(size)
                    else:
                        opts.fsync_ms = size
                        opts.want_sync = True
                elif flag == "p":
                    opts.port = value
                elif flag == "l":
                    opts.addr = value
                elif flag == "u":
                    opts.user = value
                else:
                    opts.binlog_dir = value
            elif flag in "cn":
                opts.warnings.append(f"-{flag} flag was removed. binlog is always compacted.")
            elif flag == "F":
                opts.want_sync = False
            elif flag == "V":
                opts.verbose += 1
            elif flag == "h":
                raise Exit(0, stderr=_lines(opts.warnings, prog) + usage_text(prog))
            elif flag == "v":
                raise Exit(0, stdout=version_line(opts.version) + "\n", stderr=_lines(opts.warnings, prog))
            else:
                # beanstalkd prints from one character before the bad flag: ``-x`` but ``-Vx`` → ``Vx``.
                raise fail(f"unknown flag: {word[pos - 2 :]}")
    return opts


def version_line(version: str = "1.12") -> str:
    """``beanstalkd 1.12`` as the real server prints it, then which fakebean is answering."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        ours = dist_version("fakebean")
    except PackageNotFoundError:
        ours = "unknown"
    return f"beanstalkd {version} (fakebean {ours})"


def _lines(messages: list[str], prog: str) -> str:
    return "".join(f"{prog}: {message}\n" for message in messages)
