"""Input framing: the 224-byte line buffer, line ends, job bodies and their resync (docs/protocol.md §2.1,
§2.5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import Backend, RawConn
from tests.support.protocol import expect_lines, list_reply, put_line, send_lines, wait_for_stat

LINE_MAX = 224  # bytes, CRLF included


def peek_line(length: int) -> bytes:
    """A ``peek 000…1`` command line of exactly ``length`` bytes including its CRLF."""
    digits = length - len(b"peek ") - 2
    return b"peek " + b"0" * (digits - 1) + b"1\r\n"


def test_line_of_exactly_224_bytes_is_accepted(conn: RawConn) -> None:
    conn.put(b"a")
    line = peek_line(LINE_MAX)
    assert len(line) == 224
    conn.send(line)
    assert conn.recv_reply() == b"FOUND 1 1\r\na\r\n"


def test_line_of_225_bytes_swallows_the_next_line_and_gives_one_bad_format(conn: RawConn) -> None:
    conn.send(peek_line(LINE_MAX + 1))
    send_lines(conn, "use swallowed", "use next")
    expect_lines(conn, "BAD_FORMAT", "USING next")
    assert conn.cmd("list-tubes") == list_reply(["default", "next"])


def test_line_of_500_bytes_gives_one_bad_format_then_commands_work(conn: RawConn) -> None:
    conn.send(b"a" * 500 + b"\r\n")
    send_lines(conn, "list-tube-used")
    expect_lines(conn, "BAD_FORMAT", "USING default")


def test_over_long_line_sent_in_pieces_gives_one_bad_format(conn: RawConn) -> None:
    for _ in range(10):
        conn.send(b"b" * 100)
    conn.send(b"\r\nuse after\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING after")


def test_over_long_line_spanning_several_buffers_still_gives_one_bad_format(conn: RawConn) -> None:
    conn.send(b"c" * (LINE_MAX * 5 + 17) + b"\r\n" + b"use x\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING x")


@pytest.mark.parametrize("stall", [b"li\rst-tube-used\r\n", b"stats\r\r\n", b"\r \r\n", b"\r\r\n"])
def test_stray_cr_stalls_the_line_until_224_bytes_then_skips_to_next_crlf(
    conn: RawConn, stall: bytes
) -> None:
    # Only the first CR of the buffer is looked at; it is not followed by LF, so even the valid lines after
    # it are never seen. At 224 bytes the buffer is dropped and the rest of that line is skipped.
    stalled = stall + b"use lost\r\n"
    conn.send(stalled + b"x" * (LINE_MAX - len(stalled)))
    conn.send(b"tail of the skipped line\r\nuse found\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING found")
    assert conn.cmd("list-tubes") == list_reply(["default", "found"])


def test_skip_mode_also_looks_only_at_the_first_cr(conn: RawConn) -> None:
    # 300 bytes: the first 224 are dropped, the rest starts the skipped tail. Its first CR is not followed by
    # LF, so the CRLFs after it do not end the skipped line either, until 224 more bytes are dropped.
    tail = b"a" * 76 + b"\rx\r\nuse lost\r\n"
    conn.send(b"a" * 224 + tail + b"p" * (LINE_MAX - len(tail)))
    conn.send(b"\r\nuse found\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING found")
    assert conn.cmd("list-tubes") == list_reply(["default", "found"])


def test_cr_and_lf_arriving_in_separate_writes_end_the_line(conn: RawConn) -> None:
    conn.send(b"list-tube-used\r")
    conn.send(b"\nuse a\r")
    conn.send(b"\n")
    expect_lines(conn, "USING default", "USING a")


def test_many_pipelined_commands_may_exceed_the_line_buffer_together(conn: RawConn) -> None:
    conn.send(b"".join(b"use t%03d\r\n" % n for n in range(100)))
    for n in range(100):
        expect_lines(conn, f"USING t{n:03d}")
    assert conn.cmd("list-tubes") == list_reply(["default", "t099"])


def test_bare_lf_does_not_end_a_line(conn: RawConn) -> None:
    conn.send(b"list-tube-used\n")
    conn.send(b"\r\nuse a\nb\r\n")
    expect_lines(conn, "BAD_FORMAT", "BAD_FORMAT")
    assert conn.cmd("list-tube-used") == b"USING default\r\n"


def test_pipelined_commands_in_one_write_are_answered_in_order(conn: RawConn) -> None:
    conn.send(b"use a\r\nuse b\r\n" + put_line(b"x") + b"list-tube-used\r\npeek 1\r\n")
    expect_lines(conn, "USING a", "USING b", "INSERTED 1", "USING b")
    assert conn.recv_reply() == b"FOUND 1 1\r\nx\r\n"


def test_a_command_sent_one_byte_at_a_time_is_answered_once(conn: RawConn) -> None:
    for byte in b"put 0 0 10 3\r\nabc\r\nlist-tube-used\r\n":
        conn.send(bytes([byte]))
    expect_lines(conn, "INSERTED 1", "USING default")


def test_body_window_not_ending_in_crlf_is_expected_crlf_and_leftover_is_parsed(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 1\r\nabc\r\n")
    expect_lines(conn, "EXPECTED_CRLF", "UNKNOWN_COMMAND")
    conn.send(b"put 0 0 0 1\r\nab\r\nstats\r\n")
    expect_lines(conn, "EXPECTED_CRLF", "UNKNOWN_COMMAND")
    assert conn.cmd("list-tube-used") == b"USING default\r\n"


def test_short_body_waits_for_the_rest_of_its_window(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 3\r\na\r\n")
    conn.send(b"stats\r\n")  # completes the window as b"a\r\nst"
    expect_lines(conn, "EXPECTED_CRLF", "UNKNOWN_COMMAND")
    assert conn.cmd("list-tube-used") == b"USING default\r\n"


def test_expected_crlf_uses_up_the_job_id(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 2\r\nabcd\r\n")
    expect_lines(conn, "EXPECTED_CRLF", "UNKNOWN_COMMAND")
    conn.send(b"put 0 0 0 2\r\nab\n\r\r\n")
    expect_lines(conn, "EXPECTED_CRLF", "UNKNOWN_COMMAND")
    assert conn.put(b"ok") == 3
    assert conn.cmd("peek 1") == b"NOT_FOUND\r\n"
    assert conn.cmd("peek 2") == b"NOT_FOUND\r\n"


@pytest.mark.parametrize(
    "body", [b"", b"\r\n", b"a\r\nb", b"\x00", b"\x00\r\n\x00", b"\r", b"\n", bytes(range(256))]
)
def test_body_bytes_are_opaque_and_returned_exactly(conn: RawConn, body: bytes) -> None:
    conn.send(put_line(body) + b"peek 1\r\n")
    expect_lines(conn, "INSERTED 1")
    assert conn.recv_reply() == b"FOUND 1 %d\r\n" % len(body) + body + b"\r\n"
    assert conn.cmd("reserve") == b"RESERVED 1 %d\r\n" % len(body) + body + b"\r\n"


def test_body_of_a_put_that_fails_to_parse_is_read_as_commands(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 1 \r\na\r\n")
    expect_lines(conn, "BAD_FORMAT", "UNKNOWN_COMMAND")
    conn.send(b"put 0 0 0 x\r\nlist-tube-used\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING default")


def test_body_split_across_writes_is_assembled(conn: RawConn) -> None:
    conn.send(b"put 1 0 10 10\r\n01234")
    conn.send(b"567")
    conn.send(b"89\r")
    conn.send(b"\npeek 1\r\n")
    expect_lines(conn, "INSERTED 1")
    assert conn.recv_reply() == b"FOUND 1 10\r\n0123456789\r\n"


def test_job_too_big_discards_body_plus_two_bytes_without_checking_them(
    make_server: Callable[..., Backend],
) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 11\r\n" + b"z" * 13 + b"list-tube-used\r\n")
    expect_lines(conn, "JOB_TOO_BIG", "USING default")


def test_job_too_big_eats_later_commands_as_body_bytes(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 11\r\n")
    conn.send(b"list-tube-used\r\n")  # 16 bytes: the first 13 are thrown away, "d\r\n" remains
    expect_lines(conn, "JOB_TOO_BIG", "UNKNOWN_COMMAND")
    assert conn.put(b"fits") == 1


def test_job_too_big_is_checked_before_trailing_garbage(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 11 garbage\r\n" + b"q" * 13 + b"put 0 0 0 1 garbage\r\n")
    expect_lines(conn, "JOB_TOO_BIG", "BAD_FORMAT")
    assert conn.put(b"x") == 1


def test_oversized_bytes_field_beyond_32_bits_is_bad_format_and_skips_nothing(
    make_server: Callable[..., Backend],
) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 4294967296\r\nlist-tube-used\r\n")
    expect_lines(conn, "BAD_FORMAT", "USING default")


def test_default_size_limit_is_65535_and_a_bigger_body_is_skipped_whole(conn: RawConn) -> None:
    body = b"b" * 65535
    conn.send(put_line(body))
    expect_lines(conn, "INSERTED 1")
    conn.send(b"put 0 0 0 65536\r\n" + b"c" * 65538 + b"put 0 0 0 65536abc\r\n" + b"d" * 65538)
    expect_lines(conn, "JOB_TOO_BIG", "JOB_TOO_BIG")
    conn.send(b"peek 1\r\n")
    assert conn.recv_reply() == b"FOUND 1 65535\r\n" + body + b"\r\n"


def test_size_limit_zero_allows_only_empty_bodies(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=0).connect()
    assert conn.cmd("put 0 0 0 0", b"") == b"INSERTED 1\r\n"
    assert conn.cmd("put 0 0 0 1", b"x") == b"JOB_TOO_BIG\r\n"
    assert conn.stats()["max-job-size"] == "0"


def test_size_limit_above_one_gibibyte_is_clamped(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=2000000000).connect()
    assert conn.stats()["max-job-size"] == "1073741824"


def test_disconnect_in_the_middle_of_a_body_drops_the_job_but_uses_its_id(server: Backend) -> None:
    observer = server.connect()
    producer = server.connect()
    producer.send(b"put 0 0 0 5\r\nab")
    wait_for_stat(observer, "current-producers", 1)
    producer.close()
    wait_for_stat(observer, "current-connections", 1)
    assert observer.stats()["total-jobs"] == "0"
    assert observer.put(b"next") == 2
