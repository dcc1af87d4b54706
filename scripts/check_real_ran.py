"""Fail unless the tests against the real beanstalkd really ran: CI's guard against a green run that quietly
tested fakebean against itself.

Usage: python scripts/check_real_ran.py JUNIT_XML REAL_NODE_IDS [POLYGLOT_NODE_IDS [BROWSER_NODE_IDS]]

JUNIT_XML is pytest's ``--junitxml`` report of the test run; REAL_NODE_IDS is the output of
``pytest -m real --collect-only -q`` (one node id a line). The check fails when no test is marked ``real``,
when none of them passed, when one of them is missing from the report, or when one was skipped for a
reason that names beanstalkd or the real server.

POLYGLOT_NODE_IDS (``pytest -m polyglot --collect-only -q``) lists the Node, PHP and Ruby client tests
(``tests/polyglot``): every one of them must have passed. A skip there means a client was not installed,
which CI must not take for a pass.

BROWSER_NODE_IDS (``pytest -m browser --collect-only -q``) lists the dashboard's headless-Chromium tests
(``tests/fakebean/admin/test_admin_browser.py``): likewise, every one must have passed; a skip means no
Chromium or no Playwright.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

MISSING_SERVER = re.compile(r"beanstalkd|real server|real backend|not installed|not found", re.IGNORECASE)


def junit_key(node_id: str) -> tuple[str, str]:
    """The (classname, name) pair pytest's junitxml writes for a node id."""
    parts = node_id.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[1:-1]]), parts[-1]


def read_ids(path: str) -> set[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return {junit_key(line.strip()) for line in f if "::" in line}


def outcomes(junit_path: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(classname, name) -> (status, message) for every test case in the report."""
    # A test can appear more than once (an error in teardown after a pass): keep its worst outcome.
    rank = {"passed": 0, "xfailed": 1, "skipped": 2, "failure": 3, "error": 4}
    outcome: dict[tuple[str, str], tuple[str, str]] = {}
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        for child in [*case, None]:
            if child is None:
                status, message = "passed", ""
            elif child.tag == "skipped" and child.get("type") == "pytest.xfail":
                status, message = "xfailed", child.get("message", "")
            elif child.tag in rank:
                status, message = child.tag, child.get("message", "")
            else:
                continue
            if key not in outcome or rank[status] > rank[outcome[key][0]]:
                outcome[key] = (status, message)
    return outcome


def check_all_passed(
    outcome: dict[tuple[str, str], tuple[str, str]],
    ids_path: str,
    marker: str = "polyglot",
    what: str = "client",
) -> int:
    """Every test marked ``marker`` passed (a skip means something was not installed)."""
    wanted = read_ids(ids_path)
    if not wanted:
        print(f"check-{marker}: no test is marked {marker}: the {what} tests were not collected")
        return 1
    problems = []
    for key in sorted(wanted):
        status, message = outcome.get(key, ("not run", ""))
        if status != "passed":
            problems.append(f"{status}: {'::'.join(key)}{': ' + message if message else ''}")
    print(f"check-{marker}: {len(wanted)} {what} tests, {len(wanted) - len(problems)} passed")
    for problem in problems[:20]:
        print(f"check-{marker}: {problem}")
    return 1 if problems else 0


def check_polyglot(outcome: dict[tuple[str, str], tuple[str, str]], ids_path: str) -> int:
    """Every polyglot test passed (a skip means a client was missing)."""
    return check_all_passed(outcome, ids_path, "polyglot", "client")


def main(
    junit_path: str, ids_path: str, polyglot_path: str | None = None, browser_path: str | None = None
) -> int:
    real = read_ids(ids_path)
    if not real:
        print("check-real: no test is marked real: the real-server tests were not collected")
        return 1
    outcome = outcomes(junit_path)
    polyglot_status = check_polyglot(outcome, polyglot_path) if polyglot_path else 0
    if browser_path:
        polyglot_status |= check_all_passed(outcome, browser_path, "browser", "dashboard browser")

    counts = {"passed": 0, "xfailed": 0, "failure": 0, "error": 0, "skipped": 0, "not run": 0}
    problems: list[str] = []
    for key in sorted(real):
        status, message = outcome.get(key, ("not run", ""))
        counts[status] += 1
        if status == "not run":
            problems.append(f"not in the report: {'::'.join(key)}")
        elif status == "skipped" and MISSING_SERVER.search(message):
            problems.append(f"skipped for want of the real server: {'::'.join(key)}: {message}")
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(f"check-real: {len(real)} real-server tests: {summary}")
    if counts["passed"] == 0:
        problems.append("no real-server test passed")
    for problem in problems[:20]:
        print(f"check-real: {problem}")
    if len(problems) > 20:
        print(f"check-real: ... and {len(problems) - 20} more")
    return 1 if problems or polyglot_status else 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4, 5):
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
