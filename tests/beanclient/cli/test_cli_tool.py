"""``python -m beanclient <command>``: the command-line tool, run in-process (``main(argv)``) against
fakebean and a real beanstalkd, plus a few runs of the real executable entry points."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beanclient
from beanclient._cli import main
from beanclient._cli_address import cli_address
from beanclient._cli_commands import Progress
from tests.support import IO_TIMEOUT, Backend
from tests.support.paths import ROOT


@pytest.fixture
def url(server: Backend, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's address as ``BEANSTALKD_URL`` gives it (``--url`` is tested separately)."""
    address = f"{server.address[0]}:{server.address[1]}"
    monkeypatch.setenv("BEANSTALKD_URL", address)
    return address


@pytest.fixture
def probe(server: Backend) -> Iterator[beanclient.Client[Any]]:
    with beanclient.Client(server.address, use="emails", watch="emails", timeout=IO_TIMEOUT) as c:
        yield c


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_put_then_peek_pretty_prints_a_json_body(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(
        capsys, "put", '{"to": "ada", "n": [1]}', "--tube", "emails", "--priority", "5", "--ttr", "30"
    ) == (
        0,
        "1\n",
        "",
    )
    code, out, _ = run(capsys, "peek", "ready", "--tube", "emails")
    assert code == 0
    assert (
        out == 'id 1  tube emails  state ready  pri 5  ttr 30\n{\n  "to": "ada",\n  "n": [\n    1\n  ]\n}\n'
    )
    assert run(capsys, "peek", "1", "--raw")[1].endswith('{"to": "ada", "n": [1]}\n')


def test_put_reads_the_body_from_a_file_or_stdin(
    url: str,
    probe: beanclient.Client[Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"\x00\xffbinary")
    assert run(capsys, "put", "--file", str(body), "--tube", "emails", "--delay", "60")[:2] == (0, "1\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin")))
    assert run(capsys, "put", "--tube", "emails")[:2] == (0, "2\n")
    with beanclient.Client(probe_address(url), None) as raw:
        assert raw.peek(1).body == b"\x00\xffbinary"
        assert raw.peek(2).body == b"from stdin"
        assert raw.stats_job(1)["state"] == "delayed"


def probe_address(url: str) -> tuple[str, int]:
    host, port = url.rsplit(":", 1)
    return host, int(port)


def test_stats_and_stats_tube_as_table_and_json(url: str, probe: beanclient.Client[Any], capsys: Any) -> None:
    probe.put("x")
    code, out, _ = run(capsys, "stats")
    assert (
        code == 0 and "current-jobs-ready " in out and out.splitlines()[0].startswith("current-jobs-urgent")
    )
    assert json.loads(run(capsys, "stats", "--json")[1])["current-jobs-ready"] == 1
    code, out, _ = run(capsys, "stats-tube", "emails", "--json")
    assert json.loads(out)["current-jobs-ready"] == 1
    assert run(capsys, "stats-tube", "nowhere") == (1, "", "beanclient: tube 'nowhere' not found\n")


def test_tubes_lists_each_tube_with_its_counts(url: str, probe: beanclient.Client[Any], capsys: Any) -> None:
    probe.put("a")
    probe.put("b", delay=100)
    probe.put("c")
    probe.bury(probe.reserve(0))
    assert run(capsys, "tubes")[1] == (
        "tube     ready  delayed  reserved  buried  paused\n"
        "default      0        0         0       0       0\n"
        "emails       1        1         0       1       0\n"
    )
    assert json.loads(run(capsys, "tubes", "--json")[1])[1] == {
        "tube": "emails",
        "ready": 1,
        "delayed": 1,
        "reserved": 0,
        "buried": 1,
        "paused": 0,
    }


def test_kick_delete_bury_and_pause(url: str, probe: beanclient.Client[Any], capsys: Any) -> None:
    first, second = probe.put("a"), probe.put("b")
    assert run(capsys, "bury", str(first), str(second), "--priority", "3")[:2] == (
        0,
        f"buried {first}\nburied {second}\n",
    )
    assert probe.job_stats(first).pri == 3
    assert run(capsys, "kick", "1", "--tube", "emails")[:2] == (0, "kicked 1\n")
    assert run(capsys, "kick", "--job", str(second))[:2] == (0, f"kicked job {second}\n")
    assert run(capsys, "kick", "--job", str(second)) == (
        1,
        "",
        f"beanclient: buried or delayed job {second} not found\n",
    )
    assert run(capsys, "delete", str(first), "999") == (
        1,
        f"deleted {first}\n",
        "beanclient: job 999 not found\n",
    )
    assert run(capsys, "pause", "emails", "60")[:2] == (0, "paused emails for 60 s\n")
    assert probe.tube_stats("emails").pause == 60
    assert run(capsys, "peek", "buried", "--tube", "emails") == (
        1,
        "",
        "beanclient: buried job in tube 'emails' not found\n",
    )


def test_clear_deletes_every_job_in_the_given_states(
    url: str, probe: beanclient.Client[Any], capsys: Any
) -> None:
    for n in range(5):
        probe.put(f"ready {n}")
    probe.put("later", delay=100)
    probe.bury(probe.reserve(0))
    assert run(capsys, "clear", "emails", "--state", "ready") == (0, "deleted 4 jobs from emails\n", "")
    stats = probe.tube_stats("emails")
    assert (stats.current_jobs_ready, stats.current_jobs_delayed, stats.current_jobs_buried) == (0, 1, 1)
    assert run(capsys, "clear", "emails")[1] == "deleted 2 jobs from emails\n"
    assert probe.tube_stats("emails").current_jobs_delayed == 0


def test_move_keeps_priority_ttr_state_and_remaining_delay(
    url: str, probe: beanclient.Client[Any], capsys: Any
) -> None:
    probe.put("ready", priority=7, ttr=33)
    probe.put("delayed", delay=500)
    probe.put("buried")
    probe.bury(probe.reserve_job(3), 9)
    assert run(capsys, "move", "emails", "archive") == (0, "moved 3 jobs from emails to archive\n", "")
    assert probe.tube_stats("emails").current_jobs_ready == 0
    moved = {probe.peek(i).body: probe.job_stats(i) for i in (4, 5, 6)}
    assert (moved["ready"].tube, moved["ready"].pri, moved["ready"].ttr) == ("archive", 7, 33)
    assert moved["delayed"].state == "delayed" and 498 <= moved["delayed"].delay <= 500
    assert (moved["buried"].state, moved["buried"].pri) == ("buried", 9)


def test_export_then_import_copies_jobs_and_changes_nothing_while_exporting(
    url: str, probe: beanclient.Client[Any], capsys: Any, tmp_path: Path
) -> None:
    probe.put("text", priority=4, ttr=20)
    with beanclient.Client(probe_address(url), None, use="emails") as raw:
        raw.put(b"\xff\xfe")
    probe.put("held")
    probe.bury(probe.reserve_job(3))
    before = probe.stats()
    dump = tmp_path / "jobs.jsonl"
    assert run(capsys, "export", "emails", "-o", str(dump)) == (0, "", "exported 3 jobs\n")
    assert probe.stats()["current-jobs-ready"] == before["current-jobs-ready"]
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert records[0] == {
        "id": 1,
        "tube": "emails",
        "state": "ready",
        "pri": 4,
        "delay": 0,
        "ttr": 20,
        "body": "text",
    }
    assert records[1]["body_base64"] == "//4="
    assert records[2]["state"] == "buried"
    assert run(capsys, "import", str(dump), "--tube", "copy") == (0, "imported 3 jobs\n", "")
    copy = probe.tube_stats("copy")
    assert (copy.current_jobs_ready, copy.current_jobs_buried) == (2, 1)
    with beanclient.Client(probe_address(url), None) as raw:
        assert raw.peek(5).body == b"\xff\xfe"


def test_import_reports_a_bad_line_as_a_usage_error(url: str, capsys: Any, tmp_path: Path) -> None:
    dump = tmp_path / "bad.jsonl"
    dump.write_text('{"body": "ok"}\nnot json\n')
    code, out, err = run(capsys, "import", str(dump))
    assert code == 2 and err.startswith(f"beanclient import: {dump}:2: not a job record")


def test_tail_prints_each_job_then_releases_or_deletes_it(
    url: str, probe: beanclient.Client[Any], capsys: Any
) -> None:
    probe.put('{"n": 1}', priority=8)
    assert run(capsys, "tail", "emails", "--count", "1") == (
        0,
        '--- job 1  tube emails  pri 8  ttr 60\n{\n  "n": 1\n}\n',
        "",
    )
    stats = probe.job_stats(1)
    assert (stats.state, stats.pri, stats.releases) == ("ready", 8, 1)
    assert run(capsys, "tail", "emails", "--count", "1", "--delete", "--raw")[1].endswith('{"n": 1}\n')
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(1)


def test_url_option_wins_over_the_environment(server: Backend, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", "127.0.0.1:1")
    assert run(capsys, "put", "x", "--url", f"{server.address[0]}:{server.address[1]}")[:2] == (0, "1\n")


# -- addresses and failures (no server needed) ---------------------------------------------------


def test_short_address_forms() -> None:
    assert cli_address("127.0.0.1:11301") == ("127.0.0.1", 11301)
    assert cli_address("localhost") == ("localhost", 11300)
    assert cli_address("[::1]:11302") == ("::1", 11302)
    assert cli_address("[::1]") == ("::1", 11300)
    assert cli_address("/run/beanstalkd.sock") == "/run/beanstalkd.sock"
    assert cli_address("beanstalk://example:1") == "beanstalk://example:1"  # URLs: the client's job
    with pytest.raises(ValueError, match="bad port"):
        cli_address("127.0.0.1:http")


def test_an_ipv6_address_in_brackets_reaches_the_server(capsys: Any) -> None:
    import fakebean

    with fakebean.ThreadedServer(host="::1") as server:
        port = server.address[1]
        assert run(capsys, "put", "over v6", "--url", f"[::1]:{port}")[:2] == (0, "1\n")


def test_a_unix_socket_path_reaches_the_server(capsys: Any, tmp_path: Path) -> None:
    import fakebean

    path = str(tmp_path / "bs.sock")
    with fakebean.ThreadedServer(unix_path=path):
        assert run(capsys, "put", "over unix", "--url", path)[:2] == (0, "1\n")


def test_an_unreachable_server_gives_one_line_naming_the_address_and_exit_3(capsys: Any) -> None:
    assert run(capsys, "stats", "--url", "127.0.0.1:1") == (
        3,
        "",
        "beanclient: cannot reach 127.0.0.1:1: connection refused\n",
    )
    assert (
        run(capsys, "stats", "--url", "[::1]:1")[2]
        == "beanclient: cannot reach [::1]:1: connection refused\n"
    )


def test_usage_errors_exit_2(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["peek"])
    assert exc.value.code == 2
    assert run(capsys, "kick", "--url", "127.0.0.1:1")[0] == 3  # the address is tried first


def test_the_progress_line_is_drawn_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    for stream in (quiet, tty):
        progress = Progress("clearing emails", 200, stream)
        for _ in range(200):
            progress.step()
        progress.close()
    assert quiet.getvalue() == ""
    assert tty.getvalue() == "\rclearing emails: 100/200\rclearing emails: 200/200\r\x1b[K"


def test_the_module_and_the_console_script_run(server: Backend) -> None:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT / "src"), BEANSTALKD_URL=f"{server.address[0]}:{server.address[1]}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "beanclient", "put", "hello"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")
    done = subprocess.run(
        [sys.executable, "-m", "beanclient", "stats", "--url", "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (3, "beanclient: cannot reach 127.0.0.1:1: connection refused\n")


def test_urls_go_to_the_client_as_they_are(server: Backend, capsys: Any, tmp_path: Path) -> None:
    import fakebean

    url = f"beanstalk://{server.address[0]}:{server.address[1]}"
    assert run(capsys, "put", "by url", "--url", url)[:2] == (0, "1\n")
    path = str(tmp_path / "bs.sock")
    with fakebean.ThreadedServer(unix_path=path):
        assert run(capsys, "put", "over unix", "--url", f"unix://{path}")[:2] == (0, "1\n")
    assert run(capsys, "stats", "--url", "beanstalk://127.0.0.1:1")[0] == 3
