"""The pytest plugin's side of the controls: the transcript in a failed test's report, strict mode
(factory option, ini option, marker, ``expect_error``) and the skip under ``--real-beanstalkd``."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

FAILING = """
import socket

def test_fails(fakebean):
    with socket.create_connection(fakebean.address) as s:
        s.sendall(b"put 0 0 60 300\\r\\n" + b"x" * 300 + b"\\r\\nlist-tube-used\\r\\n")
        reply = b""
        while not reply.endswith(b"USING default\\r\\n"):
            reply += s.recv(100)
    assert reply == b"something else"
"""


@pytest.mark.fake
def test_a_failed_test_shows_the_transcript(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=FAILING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- fakebean transcript -*",
            r"+  0.000000s conn 1: put 0 0 60 300\r\nxxxx*... (318 bytes) -> INSERTED 1\r\n",
            r"+*s conn 1: list-tube-used\r\n -> USING default\r\n",
        ]
    )
    assert "x" * 100 not in result.stdout.str()  # the long body is shortened


@pytest.mark.fake
@pytest.mark.parametrize("how", ["flag", "ini"])
def test_the_transcript_can_be_switched_off(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(test_inner=FAILING)
    if how == "ini":
        pytester.makeini("[pytest]\nfakebean_transcript = false\n")
    args = ["--fakebean-no-transcript"] if how == "flag" else []
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    result.assert_outcomes(failed=1)
    assert "fakebean transcript" not in result.stdout.str()


@pytest.mark.fake
def test_the_transcript_size_is_an_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfakebean_transcript_size = 2\n")
    pytester.makepyfile(
        test_inner="""
def test_ring(fakebean):
    c = fakebean.client()
    for tube in ("a", "b", "c", "d"):
        c.use(tube)
    assert [e.command for e in fakebean.transcript()] == [b"use c\\r\\n", b"use d\\r\\n"]
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


STRICT = """
import socket
import pytest

def bad_format(fakebean):
    with socket.create_connection(fakebean.address) as s:
        s.sendall(b"use -bad\\r\\n")
        assert s.recv(100) == b"BAD_FORMAT\\r\\n"

def test_factory_option(fakebean_factory):
    bad_format(fakebean_factory(strict=True))

@pytest.mark.fakebean_strict
def test_marker(fakebean):
    bad_format(fakebean)

@pytest.mark.fakebean_strict
def test_declared(fakebean):
    with fakebean.expect_error("BAD_FORMAT"):
        bad_format(fakebean)

@pytest.mark.fakebean_strict
def test_normal_answers_never_count(fakebean):
    c = fakebean.client()
    assert c.stats_tube("default")["name"] == "default"
    with pytest.raises(Exception):
        c.delete(12345)

def test_not_strict(fakebean):
    bad_format(fakebean)
"""


@pytest.mark.fake
def test_strict_mode_fails_at_teardown_naming_the_mistake(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=STRICT)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_factory_option*",
            "*fakebean strict mode: the client made protocol mistakes*",
            r"*connection 1: b'use -bad\r\n' -> BAD_FORMAT",
            "*ERROR at teardown of test_marker*",
        ]
    )


@pytest.mark.fake
def test_strict_mode_from_the_ini_file_and_a_marker_to_turn_it_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfakebean_strict = true\n")
    pytester.makepyfile(
        test_inner="""
import pytest
import socket

def bad(fakebean):
    with socket.create_connection(fakebean.address) as s:
        s.sendall(b"bogus\\r\\n")
        assert s.recv(100) == b"UNKNOWN_COMMAND\\r\\n"

def test_strict_everywhere(fakebean):
    bad(fakebean)

@pytest.mark.fakebean_strict(False)
def test_but_here(fakebean):
    bad(fakebean)
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_strict_everywhere*", "*-> UNKNOWN_COMMAND"])


REAL = """
import socket
import pytest

def test_controls_are_skipped(fakebean):
    fakebean.fail_next("put")

def test_inspection_is_skipped(fakebean):
    fakebean.jobs()

@pytest.mark.fakebean_strict
def test_expect_error_runs(fakebean):
    with fakebean.expect_error("BAD_FORMAT"):
        with socket.create_connection(fakebean.address) as s:
            s.sendall(b"use -bad\\r\\n")
            assert s.recv(100) == b"BAD_FORMAT\\r\\n"
"""


@pytest.mark.real
def test_real_beanstalkd_skips_the_controls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_real=REAL)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--real-beanstalkd")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]2[]]*fakebean's controls (jobs, tubes, *) exist only in fakebean; this test runs*"]
    )
