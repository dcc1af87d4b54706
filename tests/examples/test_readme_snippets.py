"""The README's "Testing your code" examples are tests: each Python block there is in one of the
example files beside this one, verbatim, and each example file is shown in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import README

HERE = Path(__file__).parent
SECTION = "## Testing your code"


def section_text() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", section_text(), flags=re.MULTILINE | re.DOTALL)


def example_files() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(HERE.glob("test_readme_*.py"))
        if path.name != Path(__file__).name
    }


def test_the_section_has_its_examples() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 10
    text = section_text()
    for topic in ("### asyncio", "### greenstalk", "### freezegun", "### time-machine", "--real-beanstalkd"):
        assert topic in text


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_each_readme_block_is_in_an_example_file(index: int) -> None:
    block = python_blocks()[index]
    homes = [name for name, text in example_files().items() if block in text]
    first_line = block.splitlines()[0] if block else ""
    assert homes, f"README block {index} (starting {first_line!r}) is in no tests/examples/test_readme_*.py"


def test_each_example_file_is_shown_in_the_readme() -> None:
    blocks = python_blocks()
    orphans = [name for name, text in example_files().items() if not any(b in text for b in blocks)]
    assert orphans == []


def test_example_files_are_whole_blocks() -> None:
    """An example file is its docstring, a lint or skip preamble and one README block: nothing of the
    test itself is left out of the README."""
    blocks = python_blocks()
    for name, text in example_files().items():
        (block,) = [b for b in blocks if b in text]
        assert text.endswith(block), name
        assert "def " not in text[: text.index(block)], name
