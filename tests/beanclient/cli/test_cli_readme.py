"""The README's "Command-line tool" session runs as written, on fakebean and on beanstalkd: each
``$ beanclient ...`` line is run (``echo ... |`` feeds stdin, ``> file`` takes stdout) and what it
prints, stdout then stderr, must be the lines under it."""

from __future__ import annotations

import io
import re
import shlex
import sys
from pathlib import Path

import pytest

from beanclient._cli import main
from tests.support import Backend
from tests.support.paths import README


def session() -> list[tuple[str, list[str]]]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Command-line tool\n")
    end = text.index("\n## ", start + 1)
    (block,) = re.findall(r"^```console\n(.*?)^```$", text[start:end], flags=re.MULTILINE | re.DOTALL)
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_the_session_covers_the_commands() -> None:
    used = {shlex.split(command.split("|")[-1])[1] for command, _ in session() if "beanclient" in command}
    assert {
        "put",
        "tubes",
        "peek",
        "bury",
        "kick",
        "tail",
        "move",
        "export",
        "clear",
        "import",
        "delete",
    } <= used


def test_the_readme_session(
    server: Backend, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for command, expected in session():
        words = shlex.split(command)
        if words[0] == "export":
            assert words[1].startswith("BEANSTALKD_URL=")  # the test's own server instead
            monkeypatch.setenv("BEANSTALKD_URL", f"{server.address[0]}:{server.address[1]}")
            continue
        stdin = b""
        if "|" in words:
            bar = words.index("|")
            assert words[0] == "echo"
            stdin = (" ".join(words[1:bar]) + "\n").encode()
            words = words[bar + 1 :]
        target = None
        if ">" in words:
            target = words[words.index(">") + 1]
            words = words[: words.index(">")]
        assert words[0] == "beanclient"
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        main(words[1:])
        out, err = capfd.readouterr()
        if target is not None:
            Path(target).write_text(out)
            out = ""
        assert (out + err).splitlines() == expected, command
