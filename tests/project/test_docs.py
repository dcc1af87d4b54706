"""The docs stay true to the tree: every test file and test that README.md, COMPAT.md (a pinning test
per row) and docs/*.md name exists, and every "§N.M" that a comment in src/ or tests/ cites is a section
of docs/protocol.md (scripts/rewrite_section_refs.py points them there)."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

DOC = ROOT / "docs" / "protocol.md"
DOCS = [ROOT / "README.md", ROOT / "COMPAT.md", *sorted((ROOT / "docs").glob("*.md"))]

pytestmark = pytest.mark.fake  # reads files only; no server


def rewrite_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rewrite_section_refs", ROOT / "scripts" / "rewrite_section_refs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(text: str) -> list[str]:
    """Paragraphs, with each table row on its own (a COMPAT.md row names its own pinning test)."""
    found = []
    for paragraph in text.split("\n\n"):
        rows = [line for line in paragraph.splitlines() if line.startswith("|")]
        found.extend(rows if rows else [paragraph])
    return found


def named_tests(doc: Path) -> list[tuple[str, str]]:
    """``(file, name pattern)`` for each ``tests/x.py::name`` in ``doc``, and each ``::name`` that
    follows a file named earlier in the same paragraph (or table row)."""
    found = []
    for block in blocks(doc.read_text(encoding="utf-8")):
        current = None
        for match in re.finditer(r"(tests/[\w/]+\.py)?::(test_[\w*]+)|(tests/[\w/]+\.py)", block):
            if match.group(3):
                current = match.group(3)
            else:
                current = match.group(1) or current
                assert current, f"{doc.name}: '::{match.group(2)}' follows no file in: {block[:80]!r}"
                found.append((current, match.group(2)))
    return found


def test_every_test_the_docs_name_exists() -> None:
    names = {doc.name: named_tests(doc) for doc in DOCS}
    assert len(names["protocol.md"]) > 80 and len(names["COMPAT.md"]) >= 10
    missing = []
    for doc, cited in names.items():
        for path, pattern in cited:
            source = ROOT / path
            defined = (
                re.findall(r"^(?:async )?def (test_\w+)", source.read_text(encoding="utf-8"), re.M)
                if source.exists()
                else []
            )
            if not fnmatch.filter(defined, pattern):
                missing.append(f"{doc}: {path}::{pattern}")
    assert missing == []


def test_every_file_the_docs_name_exists() -> None:
    """Test files, scripts and globs (``tests/fakebean/protocol/test_protocol_*.py``) alike."""
    missing = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for path in sorted(set(re.findall(r"`((?:tests|src|scripts)/[\w/.*]+\.py)", text))):
            if not list(ROOT.glob(path)):
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_every_cited_section_is_in_the_doc() -> None:
    script = rewrite_script()
    have = script.sections()
    assert {"0", "2.1", "4.22", "5.12", "6.6", "9.1", "11"} <= have
    missing = [
        f"{path.relative_to(ROOT)}: §{number}"
        for path in script.files()
        for number in script.cited(path.read_text(encoding="utf-8"))
        if number not in have
    ]
    assert missing == []


def test_the_rewrite_prefixes_bare_references_once() -> None:
    script = rewrite_script()
    before = (
        '"""Framing (§2.1, §2.5), the body (beanstalkd-protocol.md §2.5)."""\n'
        "x = 1  # see protocol reference §10\n"
        "y = 2  # §4.1 and §4.2\n"
    )
    after = script.rewrite(before)
    assert after == (
        '"""Framing (§2.1, §2.5), the body (docs/protocol.md §2.5)."""\n'  # the line names it
        "x = 1  # see docs/protocol.md §10\n"
        "y = 2  # docs/protocol.md §4.1 and §4.2\n"
    )
    assert script.rewrite(after) == after
    long_comment = "    # " + "word " * 19 + "(§6.6), and the rest of a sentence that has to be wrapped"
    wrapped = script.rewrite(long_comment + "\n")
    assert wrapped == (
        "    # " + "word " * 18 + "word\n"
        "    # (docs/protocol.md §6.6), and the rest of a sentence that has to be wrapped\n"
    )
    assert script.rewrite(wrapped) == wrapped
