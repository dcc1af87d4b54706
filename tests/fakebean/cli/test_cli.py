"""The ``fakebean`` command: option parsing like beanstalkd's optparse, and the process around the server.

The parsing tests port beanstalkd 1.12's ``testutil.c`` (docs/protocol.md §9.2) and add the edge cases
seen on the real binary. The process tests run ``fakebean`` and, where the behaviour is shared, the real
``beanstalkd`` with the same arguments, and hold both to the same expected bytes (``fake``/``real`` marks).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fakebean.options import (
    BINLOG_SIZE_DEFAULT,
    DEFAULT_ADDR,
    DEFAULT_FSYNC_MS,
    JOB_SIZE_DEFAULT,
    JOB_SIZE_MAX,
    Exit,
    Options,
    parse_args,
    parse_size,
    usage_text,
)
from tests.support import beanstalkd_path, free_port
from tests.support.shells import BOTH, SERVERS, Process, command, serving

FAKE = pytest.mark.fake

# beanstalkd 1.12's usage text, as ``beanstalkd -h`` prints it on stderr.
REAL_USAGE = """\
Use: {prog} [OPTIONS]

Options:
 -b DIR   write-ahead log directory
 -f MS    fsync at most once every MS milliseconds (default is 50ms);
          use -f0 for "always fsync"
 -F       never fsync
 -l ADDR  listen on address (default is 0.0.0.0)
 -p PORT  listen on port (default is 11300)
 -u USER  become user and group
 -z BYTES set the maximum job size in bytes (default is 65535);
          max allowed is 1073741824 bytes
 -s BYTES set the size of each write-ahead log file (default is 10485760);
          will be rounded up to a multiple of 4096 bytes
 -v       show version information
 -V       increase verbosity
 -h       show this help
"""
LAST_REAL_LINE = " -h       show this help\n"


def parse(*argv: str) -> Options:
    return parse_args(list(argv))


def parse_exit(*argv: str) -> Exit:
    with pytest.raises(Exit) as caught:
        parse_args(list(argv))
    return caught.value


def usage_error(message: str, *warnings: str) -> str:
    lines = [f"fakebean: {line}\n" for line in (*warnings, message)]
    return "".join(lines) + usage_text()


# --- parsing: testutil.c, one test per cttest_opt* ---------------------------------------------------


def test_no_options_give_beanstalkd_defaults_except_the_listen_address() -> None:
    opts = parse()
    assert opts.addr == DEFAULT_ADDR == "127.0.0.1"
    assert opts.unix_path is None
    assert opts.port == "11300"
    assert opts.max_job_size == JOB_SIZE_DEFAULT == 65535
    assert opts.binlog_max_size == BINLOG_SIZE_DEFAULT == 10485760
    assert opts.want_sync is True
    assert opts.fsync_ms == DEFAULT_FSYNC_MS == 50
    assert opts.user is None
    assert opts.binlog_dir is None
    assert opts.verbose == 0
    assert opts.version == "1.12"
    assert opts.warnings == []


def test_a_lone_dash_exits_with_the_usage_text() -> None:
    done = parse_exit("-")
    assert (done.status, done.stdout, done.stderr) == (5, "", usage_error("unknown argument: -"))


def test_port_value_attached() -> None:
    assert parse("-p1234").port == "1234"


def test_port_value_in_the_next_word() -> None:
    assert parse("-p", "1234").port == "1234"


def test_listen_address_attached() -> None:
    assert parse("-llocalhost").addr == "localhost"


def test_listen_address_in_the_next_word() -> None:
    assert parse("-l", "localhost").addr == "localhost"


def test_unix_listen_address_gives_the_socket_path() -> None:
    assert parse("-l", "unix:/tmp/x.sock").unix_path == "/tmp/x.sock"


def test_max_job_size() -> None:
    opts = parse("-z1234")
    assert opts.max_job_size == 1234
    assert opts.warnings == []


def test_max_job_size_above_the_maximum_is_clamped_with_a_warning() -> None:
    opts = parse("-z1073741825")
    assert opts.max_job_size == JOB_SIZE_MAX == 1073741824
    assert opts.warnings == ["maximum job size was set to 1073741824"]


def test_max_job_size_at_the_maximum_is_not_clamped() -> None:
    opts = parse("-z", "1073741824")
    assert (opts.max_job_size, opts.warnings) == (1073741824, [])


def test_binlog_file_size() -> None:
    assert parse("-s1234").binlog_max_size == 1234


def test_binlog_file_size_wraps_like_the_c_int_it_is_kept_in() -> None:
    # Real 1.12 shows `binlog-max-size: 705032704` for -s 5000000000, and -1 for -s -1.
    assert parse("-s", "5000000000").binlog_max_size == 705032704
    assert parse("-s", "-1").binlog_max_size == -1


def test_fsync_interval_turns_sync_on() -> None:
    opts = parse("-f1234")
    assert (opts.fsync_ms, opts.want_sync) == (1234, True)


def test_never_fsync_after_an_fsync_interval() -> None:
    assert parse("-f1234", "-F").want_sync is False


def test_user() -> None:
    assert parse("-ukr").user == "kr"


def test_binlog_directory_is_accepted() -> None:
    assert parse("-bfoo").binlog_dir == "foo"


def test_one_verbose_flag() -> None:
    assert parse("-V").verbose == 1


def test_verbose_flags_in_separate_words_add_up() -> None:
    assert parse("-V", "-V").verbose == 2


def test_verbose_flags_in_one_word_add_up() -> None:
    assert parse("-VVV").verbose == 3


def test_combined_flags_end_with_one_that_takes_the_rest_of_the_word() -> None:
    opts = parse("-VFVukr")
    assert (opts.verbose, opts.want_sync, opts.user) == (2, False, "kr")


def test_combined_flags_with_the_value_in_the_next_word() -> None:
    opts = parse("-VFVu", "user")
    assert (opts.verbose, opts.want_sync, opts.user) == (2, False, "user")


# --- parsing: edge cases checked against the real binary --------------------------------------------


def test_a_value_in_the_next_word_is_taken_even_when_it_looks_like_a_flag() -> None:
    assert parse("-p", "-v").port == "-v"


def test_the_last_flag_wins() -> None:
    assert parse("-p1", "-p2", "-l", "a", "-lb").port == "2"


@pytest.mark.parametrize("flag", ["p", "l", "z", "s", "f", "u", "b"])
def test_a_flag_without_its_value_is_a_usage_error(flag: str) -> None:
    done = parse_exit("-V", f"-{flag}")
    assert (done.status, done.stderr) == (5, usage_error(f"flag requires an argument: -{flag}"))


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("65535", 65535),
        ("+5", 5),
        ("\t5", 5),
        (" \v\f\r\n7", 7),
        ("007", 7),
        ("-0", 0),
        ("-1", 2**64 - 1),
        ("-18446744073709551615", 1),
        ("18446744073709551615", 2**64 - 1),
        ("99999999999999999999999", 2**64 - 1),
        ("-99999999999999999999999", 2**64 - 1),
    ],
)
def test_sizes_are_read_like_scanf_zu(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", " ", "+", "-", "- 5", "5 ", "12x", "0x10", "1e3", "abc", "١٢"])
def test_text_that_scanf_zu_rejects_is_not_a_size(text: str) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize("flag", ["z", "s", "f"])
def test_an_invalid_size_is_a_usage_error(flag: str) -> None:
    done = parse_exit(f"-{flag}", "12x")
    assert (done.status, done.stderr) == (5, usage_error("invalid size: 12x"))


def test_a_size_flag_takes_the_rest_of_its_word_even_a_letter() -> None:
    assert parse_exit("-zz").stderr == usage_error("invalid size: z")


def test_a_negative_or_huge_job_size_is_clamped() -> None:
    assert parse("-z", "-1").max_job_size == JOB_SIZE_MAX
    assert parse("-z", "99999999999999999999999").max_job_size == JOB_SIZE_MAX


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-x"], "unknown flag: -x"),
        (["-Vx"], "unknown flag: Vx"),  # beanstalkd prints from the character before the bad flag
        (["-VVxyz"], "unknown flag: Vxyz"),
        (["--"], "unknown flag: --"),
        (["--help"], "unknown flag: --help"),
        (["foo"], "unknown argument: foo"),
        ([""], "unknown argument: "),
        (["-p", "0", "foo"], "unknown argument: foo"),
        (["-p", "0", "-"], "unknown argument: -"),
    ],
)
def test_unknown_flags_and_stray_arguments_are_usage_errors(argv: list[str], message: str) -> None:
    done = parse_exit(*argv)
    assert (done.status, done.stdout, done.stderr) == (5, "", usage_error(message))


def test_help_prints_the_usage_on_stderr_and_succeeds() -> None:
    done = parse_exit("-h")
    assert (done.status, done.stdout, done.stderr) == (0, "", usage_text())


def test_flags_are_handled_in_order_so_help_wins_over_a_later_bad_flag() -> None:
    assert parse_exit("-hx").status == 0
    assert parse_exit("-x", "-h").status == 5


def test_version_prints_the_beanstalkd_version_line_and_succeeds() -> None:
    done = parse_exit("-v")
    assert done.status == 0
    assert done.stdout.startswith("beanstalkd 1.12 (fakebean ")
    assert done.stdout.endswith(")\n")
    assert done.stderr == ""


def test_version_after_a_clamped_size_keeps_the_warning() -> None:
    done = parse_exit("-z", "2000000000", "-v")
    assert done.status == 0
    assert done.stderr == "fakebean: maximum job size was set to 1073741824\n"


def test_an_error_after_warnings_prints_the_warnings_first() -> None:
    done = parse_exit("-c", "-x")
    assert done.stderr == usage_error("unknown flag: -x", "-c flag was removed. binlog is always compacted.")


def test_removed_flags_warn_and_are_otherwise_ignored() -> None:
    opts = parse("-c", "-n", "-cn")
    assert opts.warnings == [
        "-c flag was removed. binlog is always compacted.",
        "-n flag was removed. binlog is always compacted.",
        "-c flag was removed. binlog is always compacted.",
        "-n flag was removed. binlog is always compacted.",
    ]


@pytest.mark.parametrize("argv", [["--compat", "1.13"], ["--compat=1.13"], ["-V", "--compat", "1.13", "-V"]])
def test_compat_selects_the_protocol_version(argv: list[str]) -> None:
    assert parse(*argv).version == "1.13"


def test_compat_changes_the_version_line() -> None:
    assert parse_exit("--compat", "1.13", "-v").stdout.startswith("beanstalkd 1.13 (fakebean ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--compat", "1.11"], "unknown compat version: 1.11 (choose 1.12 or 1.13)"),
        (["--compat="], "unknown compat version:  (choose 1.12 or 1.13)"),
        (["--compat"], "flag requires an argument: --compat"),
        (["--compatible"], "unknown flag: --compatible"),
    ],
)
def test_compat_errors_are_usage_errors(argv: list[str], message: str) -> None:
    done = parse_exit(*argv)
    assert (done.status, done.stderr) == (5, usage_error(message))


def test_usage_text_is_beanstalkds_plus_our_notes() -> None:
    ours = usage_text("fakebean")
    theirs = REAL_USAGE.format(prog="fakebean").replace("(default is 0.0.0.0)", "(default is 127.0.0.1)")
    assert ours.startswith(theirs)
    notes = ours[len(theirs) :]
    assert "--compat VERSION" in notes
    assert "the default listen address is 127.0.0.1, not 0.0.0.0" in notes


def test_importing_the_cli_does_not_import_asyncio() -> None:
    # The executable must listen within 100 ms of starting; asyncio alone costs about that much.
    code = "import sys, fakebean, fakebean.cli; print(sorted({'asyncio', 'typing'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "asyncio" not in out


# --- the executable next to beanstalkd ---------------------------------------------------------------


def prog(kind: str) -> str:
    return "fakebean" if kind.startswith("fake") else beanstalkd_path()


def expected_usage(kind: str) -> str:
    return usage_text() if kind == "fake" else REAL_USAGE.format(prog=prog(kind))


def run(kind: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(kind) + list(args), check=False, capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-x"], "unknown flag: -x"),
        (["-Vx"], "unknown flag: Vx"),
        (["--compat"], "unknown flag: --compat"),
        (["-"], "unknown argument: -"),
        (["foo"], "unknown argument: foo"),
        (["-p"], "flag requires an argument: -p"),
        (["-z", "abc"], "invalid size: abc"),
    ],
    ids=["bad-flag", "bad-flag-in-cluster", "long-option", "lone-dash", "stray", "no-value", "bad-size"],
)
def test_usage_errors_exit_5_with_the_usage_text(kind: str, args: list[str], message: str) -> None:
    if kind == "fake" and args == ["--compat"]:
        message = "flag requires an argument: --compat"  # our one long option
    done = run(kind, *args)
    assert (done.returncode, done.stdout) == (5, "")
    assert done.stderr == f"{prog(kind)}: {message}\n" + expected_usage(kind)


@pytest.mark.parametrize("kind", BOTH)
def test_help_exits_0_with_the_usage_text_on_stderr(kind: str) -> None:
    done = run(kind, "-h")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", expected_usage(kind))


@pytest.mark.parametrize("kind", BOTH)
def test_version_flag_prints_the_version_line(kind: str) -> None:
    done = run(kind, "-v")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("beanstalkd 1.12")
    if kind == "real":
        assert done.stdout == "beanstalkd 1.12\n"


@pytest.mark.parametrize("kind", BOTH)
def test_oversized_job_limit_is_clamped_with_a_warning(kind: str) -> None:
    done = run(kind, "-z", "2000000000", "-v")
    assert done.returncode == 0
    assert done.stderr == f"{prog(kind)}: maximum job size was set to 1073741824\n"


@pytest.mark.parametrize("kind", BOTH)
def test_removed_flags_only_warn(kind: str) -> None:
    done = run(kind, "-c", "-n", "-v")
    assert done.returncode == 0
    assert done.stderr == (
        f"{prog(kind)}: -c flag was removed. binlog is always compacted.\n"
        f"{prog(kind)}: -n flag was removed. binlog is always compacted.\n"
    )


@pytest.mark.parametrize("kind", BOTH)
def test_unknown_user_exits_33(kind: str) -> None:
    done = run(kind, "-l", "127.0.0.1", "-p", "0", "-u", "no-such-user-fakebean")
    assert done.returncode == 33
    assert 'getpwnam("no-such-user-fakebean"): no such user' in done.stderr


@pytest.mark.parametrize("kind", SERVERS)
def test_user_flag_switches_to_that_user_after_binding(kind: str) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    if os.geteuid() != 0:  # only root may become another user
        done = run(kind, "-l", "127.0.0.1", "-p", "0", "-u", "nobody")
        assert done.returncode == 34
        assert "setgid(" in done.stderr
        return
    with serving(kind, "-u", "nobody") as process:  # bound as root, then served as nobody
        conn = process.connect()
        assert conn.put(b"as nobody") == 1
        assert conn.stats()["pid"] == str(process.proc.pid)
        status = Path(f"/proc/{process.proc.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(nobody.pw_uid)] * 4
        conn.close()


@pytest.mark.parametrize("kind", BOTH)
def test_unix_socket_path_taken_by_a_regular_file_exits_111(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "plain-file"
    path.write_text("keep me")
    done = run(kind, "-l", f"unix:{path}")
    assert done.returncode == 111
    assert "another file already exists in the given path" in done.stderr
    assert path.read_text() == "keep me"


@pytest.mark.parametrize("kind", BOTH)
def test_a_port_in_use_exits_111(kind: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run(kind, "-l", "127.0.0.1", "-p", str(taken.getsockname()[1]))
    assert done.returncode == 111
    assert "bind(): Address already in use" in done.stderr


@FAKE
def test_listens_on_127_0_0_1_by_default() -> None:
    # COMPAT.md: beanstalkd listens on all interfaces unless -l is given; fakebean on loopback only.
    port = free_port()
    process = Process(command("fake") + ["-V", "-p", str(port)], ("127.0.0.1", port))
    assert process.wait_listening(), process.stop()
    status, out, err = process.stop()
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"pid {process.proc.pid}"
    assert lines[1].split()[0] == "bind" and lines[1].split()[2] == f"127.0.0.1:{port}"


@pytest.mark.real
def test_beanstalkd_listens_on_all_interfaces_by_default() -> None:
    # The other half of the COMPAT.md row: what fakebean deliberately does not copy.
    port = free_port()
    process = Process(command("real") + ["-V", "-p", str(port)], ("127.0.0.1", port))
    assert process.wait_listening()
    _status, out, _err = process.stop()
    assert f" 0.0.0.0:{port}" in out.splitlines()[1]


@pytest.mark.parametrize("kind", BOTH)
def test_verbose_prints_pid_and_bound_address(kind: str) -> None:
    with serving(kind, "-V") as process:
        assert isinstance(process.address, tuple)
        port = process.address[1]
    _status, out, _err = process.stop()
    pid_line, bind_line = out.splitlines()[:2]
    assert pid_line == f"pid {process.proc.pid}"
    word, fd, address = bind_line.split()
    assert (word, fd.isdigit(), address) == ("bind", True, f"127.0.0.1:{port}")


@pytest.mark.parametrize("kind", SERVERS)
def test_unix_socket_replaces_a_stale_socket_file(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fb") as tmp:  # short: sun_path holds 107 bytes
        path = os.path.join(tmp, "b.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays behind, as after a crash
        with serving(kind, unix=path) as process:
            conn = process.connect()
            assert conn.cmd("use unixtube") == b"USING unixtube\r\n"
            assert conn.put(b"hello") == 1
            assert conn.cmd("peek 1") == b"FOUND 1 5\r\nhello\r\n"
            conn.close()
        _status, _out, err = process.stop()
    assert err == f"{prog(kind)}: removing existing local socket to replace it\n"


@pytest.mark.parametrize("kind", SERVERS)
def test_sigusr1_turns_drain_mode_on(kind: str) -> None:
    with serving(kind) as process:
        conn = process.connect()
        assert conn.stats()["draining"] == "false"
        assert conn.put(b"before") == 1
        process.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while conn.stats()["draining"] != "true":  # the signal lands asynchronously
            assert time.monotonic() < deadline, "SIGUSR1 ignored"
            time.sleep(0.005)
        assert conn.cmd("put 0 0 10 5", b"after") == b"DRAINING\r\n"
        assert conn.cmd("peek-ready") == b"FOUND 1 6\r\nbefore\r\n"
        stats = conn.stats()
        assert (stats["cmd-put"], stats["current-jobs-ready"]) == ("2", "1")
        conn.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_options_reach_the_server(kind: str) -> None:
    with serving(kind, "-z", "10", "-s", "5000000000") as process:
        conn = process.connect()
        stats = conn.stats()
        assert (stats["max-job-size"], stats["binlog-max-size"]) == ("10", "705032704")
        assert conn.cmd("put 0 0 10 11", b"x" * 11) == b"JOB_TOO_BIG\r\n"
        assert conn.put(b"y" * 10) == 1
        conn.close()


@pytest.mark.parametrize("kind", SERVERS[:2])
def test_compat_1_13_quotes_the_version_in_stats(kind: str) -> None:
    with serving(kind, "--compat", "1.13") as process:
        conn = process.connect()
        assert conn.stats()["version"] == '"1.13"'
        assert conn.stats_tube("default")["name"] == '"default"'
        conn.close()


@pytest.mark.parametrize("kind", SERVERS[:2])
def test_binlog_directory_is_written_and_recovered(tmp_path: Path, kind: str) -> None:
    with serving(kind, "-b", str(tmp_path), "-s", "4096") as process:
        conn = process.connect()
        assert conn.put(b"kept on disk") == 1
        assert conn.stats()["binlog-records-written"] == "1"
        conn.close()
    status, _out, err = process.stop()
    assert (status, err) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binlog.1", "lock"]
    with serving(kind, "-b", str(tmp_path)) as process:
        conn = process.connect()
        assert conn.cmd("peek 1") == b"FOUND 1 12\r\nkept on disk\r\n"
        conn.close()


@pytest.mark.parametrize("kind", SERVERS[:2])
def test_a_binlog_directory_that_cannot_be_locked_exits_10(tmp_path: Path, kind: str) -> None:
    missing = tmp_path / "missing"
    done = subprocess.run(
        command(kind) + ["-p", "0", "-b", str(missing)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 10
    assert done.stderr.endswith(f"failed to lock wal dir {missing}\n")


@pytest.mark.parametrize("kind", SERVERS[:2])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_exit_0_without_a_traceback(kind: str, signum: int) -> None:
    # COMPAT.md: beanstalkd dies of SIGTERM (status -15); fakebean shuts down and exits 0.
    with serving(kind) as process:
        conn = process.connect()
        conn.send(b"reserve\r\n")  # a client blocked in reserve does not hold the exit up
        process.proc.send_signal(signum)
        status, out, err = process.finish()
        conn.close()
    assert (status, out, err) == (0, "", "")


@pytest.mark.parametrize("kind", SERVERS[:2])
def test_sigterm_while_still_starting_exits_0(kind: str) -> None:
    # The socket listens before the server is imported; a signal in that window must not leave a traceback.
    port = free_port()
    process = Process(command(kind) + ["-p", str(port)], ("127.0.0.1", port))
    assert process.wait_listening()
    status, out, err = process.stop()
    assert (status, out, err) == (0, "", "")


@FAKE
def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("fakebean")
    found = str(script) if script.exists() else shutil.which("fakebean")
    assert found, "no fakebean command: install the project (pip install -e .)"
    done = subprocess.run([found, "-v"], check=False, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0
    assert done.stdout.startswith("beanstalkd 1.12 (fakebean ")
