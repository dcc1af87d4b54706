"""The client's static types, as a user's ``mypy --strict`` sees them: ``encoding_snippet.py`` pins
what each way of building a ``Client``/``AsyncClient`` is typed as (``assert_type``), and a body of
the wrong type must be an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

HERE = Path(__file__).resolve().parent


def mypy(tmp: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``files`` alone (no project config, no cache), with this checkout's
    ``src`` first on the path."""
    config = tmp / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(ROOT / "src"), "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--config-file", str(config), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )  # fmt: skip


def test_each_way_of_building_a_client_has_the_body_type_of_its_encoding(tmp_path: Path) -> None:
    result = mypy(tmp_path, HERE / "encoding_snippet.py")
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_a_body_of_the_wrong_type_is_a_type_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import beanclient\n"
        "beanclient.Client(encoding=None).put('text for a bytes client')\n"
        "beanclient.Client().put(b'bytes for a text client')\n",
        encoding="utf-8",
    )
    result = mypy(tmp_path, wrong)
    assert result.returncode == 1
    assert result.stdout.count("[arg-type]") == 2, result.stdout
