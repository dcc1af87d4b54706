"""A job whose body is still arriving: beanstalkd files it under its id as soon as the put line is read."""

from __future__ import annotations

from tests.support import Backend


def _put_line_read(server: Backend) -> None:
    """Wait (by asking, not sleeping) until the server has read the put line of the other connection."""
    probe = server.connect()
    for _ in range(1000):
        if probe.stats()["cmd-put"] == "1":
            return
    raise AssertionError("the put line never arrived")


def test_peek_shows_a_job_whose_body_is_still_being_read(server: Backend) -> None:
    putter, other = server.connect(), server.connect()
    putter.send(b"put 0 0 100 5\r\nab")
    _put_line_read(server)
    reply = other.cmd("peek 1")
    # the real server sends its body buffer as it stands: the bytes read so far, then whatever
    # the buffer held (garbage on beanstalkd, zeros on fakebean)
    assert reply.startswith(b"FOUND 1 5\r\nab")
    assert len(reply) == len(b"FOUND 1 5\r\n") + 5 + 2


def test_nothing_but_peek_and_stats_job_can_touch_it(server: Backend) -> None:
    putter, other = server.connect(), server.connect()
    putter.send(b"put 0 0 100 5\r\nab")
    _put_line_read(server)
    assert b"\nstate: invalid\n" in other.cmd("stats-job 1")
    for command in ("delete 1", "kick-job 1", "reserve-job 1", "touch 1", "release 1 0 0", "bury 1 0"):
        assert other.cmd(command) == b"NOT_FOUND\r\n", command
    assert other.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    putter.send(b"cde\r\n")
    assert putter.recv_reply() == b"INSERTED 1\r\n"
    assert other.cmd("peek 1") == b"FOUND 1 5\r\nabcde\r\n"


def test_the_job_is_gone_when_its_body_ends_badly(server: Backend) -> None:
    putter, other = server.connect(), server.connect()
    putter.send(b"put 0 0 100 1\r\nab")
    _put_line_read(server)
    putter.send(b"c")
    assert putter.recv_reply() == b"EXPECTED_CRLF\r\n"
    assert other.cmd("stats-job 1") == b"NOT_FOUND\r\n"
