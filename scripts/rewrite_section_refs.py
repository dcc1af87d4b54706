"""Point the "§N.M" references in comments and docs at the project's own docs/protocol.md.

    python scripts/rewrite_section_refs.py            # rewrite in place, list the files changed
    python scripts/rewrite_section_refs.py --check    # change nothing; list references to sections
                                                      # that docs/protocol.md lacks, and lines still to
                                                      # rewrite; exit 1 if there are any

The rewrite: a named protocol page (``beanstalkd-protocol.md``, "protocol reference", "protocol page",
"protocol") before a "§" becomes ``docs/protocol.md``; in a line with a bare "§N" where neither it nor the
sentence it continues names the document, the first "§" gets the prefix ``docs/protocol.md`` (later
ones in the same line read as the same document). A file whose header says "Section numbers (§) refer
to ..." only has that header rewritten. A line that grows past ruff's 110 characters is rewrapped
(only comments and docstrings hold § references). Running it twice changes nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = "docs/protocol.md"
GLOBS: tuple[str, ...] = ("src/**/*.py", "tests/**/*.py", "bench/**/*.py", "scripts/*.py", "conftest.py")
GLOBS += ("README.md", "COMPAT.md")
SKIP = {"scripts/rewrite_section_refs.py", "tests/project/test_docs.py"}  # this script and its test: examples

SECTION = re.compile(r"§\s?(\d+(?:\.\d+)?)(?:\s?[-–]\s?§?(\d+(?:\.\d+)?))?")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", re.MULTILINE)
NAMED_PAGE = re.compile(
    r"(?:``|`)?(?:/work/shared/)?beanstalkd-protocol\.md(?:``|`)?"  # the shared page, by file name
    r"|\bprotocol (?:reference|page)\b(?= ?§)"
    r"|(?<![\w/.])protocol(?= §)"
)
HEADER = "Section numbers (§) refer to"
MAX_LINE = 110  # pyproject.toml [tool.ruff] line-length


def files() -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            if path not in seen and path.relative_to(ROOT).as_posix() not in SKIP:
                seen.add(path)
                yield path


def sections() -> set[str]:
    """The section numbers docs/protocol.md has ("4", "4.1", ...)."""
    return set(HEADING.findall((ROOT / DOC).read_text(encoding="utf-8")))


def continues(before: str) -> bool:
    """Whether the line after ``before`` goes on with a sentence that already named the document (a
    comment or docstring line, as ``wrap`` leaves it), so that its "§" needs no prefix of its own."""
    text = before.strip()
    prose = text.startswith("#") or "#" not in text
    return DOC in text and prose and not text.endswith('"""')


def rewrite_line(line: str, header_file: bool, before: str = "") -> str:
    if header_file:
        return NAMED_PAGE.sub(f"``{DOC}``", line) if HEADER in line else line
    if "§" not in line and "beanstalkd-protocol.md" not in line:
        return line
    line = NAMED_PAGE.sub(DOC, line)
    first = line.find("§")
    if first >= 0 and DOC not in line and not continues(before):
        line = line[:first] + f"{DOC} " + line[first:]
    return line.replace(f"``{DOC}``", DOC) if HEADER not in line else line


def wrap(line: str) -> str:
    """A rewritten line that grew past MAX_LINE, made to fit: a ruler comment (``# ----- name``) loses
    dashes; a comment or docstring line is broken at a space, the rest on a line of the same indent."""
    if len(line) <= MAX_LINE:
        return line
    over = len(line) - MAX_LINE
    ruler = re.search(f"-{{{over + 10},}}", line)
    if ruler:
        return line[: ruler.start()] + "-" * (len(ruler.group()) - over) + line[ruler.end() :]
    indent = line[: len(line) - len(line.lstrip())]
    lead = indent + ("# " if line.lstrip().startswith("#") else "")
    cut = line.rfind(" ", len(lead) + 4, MAX_LINE + 1)
    if cut < 0:
        return line
    return line[:cut] + "\n" + wrap(lead + line[cut + 1 :])


def rewrite(text: str) -> str:
    header_file = HEADER in text
    out = [""]
    for line in text.splitlines(keepends=True):
        new = rewrite_line(line, header_file, out[-1])
        if new != line:
            end = new[len(new.rstrip("\r\n")) :]
            new = wrap(new.rstrip("\r\n")) + end
        out.append(new)
    return "".join(out)


def cited(text: str) -> Iterator[str]:
    for match in SECTION.finditer(text):
        yield from (number for number in match.groups() if number)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    have = sections()
    problems = 0
    for path in files():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        missing = sorted(set(cited(text)) - have, key=lambda n: [int(p) for p in n.split(".")])
        for number in missing:
            print(f"{name}: cites §{number}, which {DOC} does not have")
            problems += 1
        new = rewrite(text)
        if new != text:
            if check:
                changed = len(set(new.splitlines()) - set(text.splitlines()))
                print(f"{name}: {changed} lines to rewrite")
                problems += 1
            else:
                path.write_text(new, encoding="utf-8")
                print(f"rewrote {name}")
                for lineno, line in enumerate(new.splitlines(), 1):
                    if len(line) > MAX_LINE and line not in text:
                        print(f"{name}:{lineno}: still {len(line)} characters (limit {MAX_LINE}): rewrap it")
    return 1 if check and problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
