"""The README's "Workers" section runs as written: each Python block is executed, and each test
function it defines is called with this test's ``fakebean`` fixture."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fakebean.testing import Beanstalkd
from tests.support.paths import README


def section_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Workers\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"^```python\n(.*?)^```$", text[start:end], flags=re.MULTILINE | re.DOTALL)


def example_tests() -> list[tuple[str, Any]]:
    found = []
    for block in section_blocks():
        namespace: dict[str, Any] = {"__name__": "readme_workers"}
        exec(compile(block, "README.md#workers", "exec"), namespace)
        found += [(name, fn) for name, fn in namespace.items() if name.startswith("test_")]
    return found


def test_the_section_has_its_examples() -> None:
    assert [name for name, _ in example_tests()] == [
        "test_the_worker_sends_the_email",
        "test_a_failing_job_is_retried_after_1_2_4_seconds_then_buried",
    ]


@pytest.mark.parametrize(("name", "example"), example_tests(), ids=[name for name, _ in example_tests()])
def test_readme_example(name: str, example: Any, fakebean: Beanstalkd) -> None:
    example(fakebean)
