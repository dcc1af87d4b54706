"""Where the repository is, for tests that read its files (README.md, docs/, bench/, scripts/, src/):
one answer, whatever the depth of the test file that asks."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/support/paths.py -> the repository
README = ROOT / "README.md"
SRC = ROOT / "src"
