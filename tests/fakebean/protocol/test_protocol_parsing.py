"""Command lookup and argument grammars, byte for byte (docs/protocol.md §2.2-§2.4 and the §7 table)."""

from __future__ import annotations

import pytest

from tests.support import Backend, RawConn
from tests.support.protocol import CRLF, expect_lines, list_reply, send_lines, wait_for_stat

NAME_200 = "n" * 200
DELAYED_JOB = b"put 0 1000 100 1\r\nx\r\n"  # job 1: delayed, so reserve finds nothing and kick finds one
SENTINEL = b"list-tubes-watched"  # its exact reply proves no extra reply was queued before it

# (line sent, CRLF added; expected reply bytes). Job 1 exists and is delayed; the used tube is default.
EDGE_CASES: list[tuple[bytes, bytes]] = [
    (b"", b"UNKNOWN_COMMAND\r\n"),
    (b" stats", b"UNKNOWN_COMMAND\r\n"),
    (b"PEEK 1", b"UNKNOWN_COMMAND\r\n"),
    (b"Stats", b"UNKNOWN_COMMAND\r\n"),
    (b"stats ", b"BAD_FORMAT\r\n"),
    (b"stats  ", b"BAD_FORMAT\r\n"),
    (b"statsfoo", b"BAD_FORMAT\r\n"),
    (b"reserve ", b"BAD_FORMAT\r\n"),
    (b"reserve  ", b"BAD_FORMAT\r\n"),
    (b"reservex", b"BAD_FORMAT\r\n"),
    (b"stats\x00", b"BAD_FORMAT\r\n"),
    (b"\x00", b"BAD_FORMAT\r\n"),
    (b"\x00stats", b"BAD_FORMAT\r\n"),
    (b"nonsense\x00", b"BAD_FORMAT\r\n"),
    (b"put 0 0 0 1\x00", b"BAD_FORMAT\r\n"),
    (b"\xff\xfe", b"UNKNOWN_COMMAND\r\n"),
    (b"nont10knowncommand", b"UNKNOWN_COMMAND\r\n"),
    (b"peek  1", b"FOUND 1 1\r\nx\r\n"),
    (b"peek 0001", b"FOUND 1 1\r\nx\r\n"),
    (b"peek 1 ", b"BAD_FORMAT\r\n"),
    (b"peek +1", b"BAD_FORMAT\r\n"),
    (b"peek -1", b"BAD_FORMAT\r\n"),
    (b"peek 1\t", b"BAD_FORMAT\r\n"),
    (b"peek ", b"BAD_FORMAT\r\n"),
    (b"peek\t1", b"UNKNOWN_COMMAND\r\n"),
    (b"peek", b"UNKNOWN_COMMAND\r\n"),
    (b"peek 18446744073709551615", b"NOT_FOUND\r\n"),
    (b"peek 18446744073709551616", b"BAD_FORMAT\r\n"),
    (b"put  0  0  0  1\r\nb", b"INSERTED 2\r\n"),
    (b"put 0 0 0 1 \r\nb", b"BAD_FORMAT\r\nUNKNOWN_COMMAND\r\n"),
    (b"put 0 0 0", b"BAD_FORMAT\r\n"),
    (b"put 0 0 0 ", b"BAD_FORMAT\r\n"),
    (b"put ", b"BAD_FORMAT\r\n"),
    (b"put", b"UNKNOWN_COMMAND\r\n"),
    (b"put -1 0 0 1", b"BAD_FORMAT\r\n"),
    (b"put +1 0 0 1", b"BAD_FORMAT\r\n"),
    (b"put 1\t2 3 4", b"BAD_FORMAT\r\n"),
    (b"put 4294967295 4294967295 4294967295 0\r\n", b"INSERTED 2\r\n"),
    (b"put 4294967296 0 0 0", b"BAD_FORMAT\r\n"),
    (b"put 0 4294967296 0 0", b"BAD_FORMAT\r\n"),
    (b"put 0 0 4294967296 0", b"BAD_FORMAT\r\n"),
    (b"put 0 0 0 4294967296", b"BAD_FORMAT\r\n"),
    (b"put 00 00 00 01\r\nb", b"INSERTED 2\r\n"),
    (b"put 1 2 3 4 5", b"BAD_FORMAT\r\n"),
    (b"puts 1", b"UNKNOWN_COMMAND\r\n"),
    (b"release 1 0", b"BAD_FORMAT\r\n"),
    (b"release 1 0 0 ", b"BAD_FORMAT\r\n"),
    (b"release 1", b"BAD_FORMAT\r\n"),
    (b"release  1  0  0", b"NOT_FOUND\r\n"),
    (b"bury 1 0 0", b"BAD_FORMAT\r\n"),
    (b"bury 111", b"BAD_FORMAT\r\n"),
    (b"bury  1  4294967295", b"NOT_FOUND\r\n"),
    (b"bury 1 4294967296", b"BAD_FORMAT\r\n"),
    (b"touch 1 2", b"BAD_FORMAT\r\n"),
    (b"kick-job 1 ", b"BAD_FORMAT\r\n"),
    (b"kick-jobs 1", b"UNKNOWN_COMMAND\r\n"),
    (b"delete 1 2", b"BAD_FORMAT\r\n"),
    (b"delete ", b"BAD_FORMAT\r\n"),
    (b"delete", b"UNKNOWN_COMMAND\r\n"),
    (b"delete-foo 1", b"UNKNOWN_COMMAND\r\n"),
    (b"stats-job 111 222", b"BAD_FORMAT\r\n"),
    (b"stats-jobx 1", b"BAD_FORMAT\r\n"),
    (b"use foo ", b"BAD_FORMAT\r\n"),
    (b"use  foo", b"BAD_FORMAT\r\n"),
    (b"use -foo", b"BAD_FORMAT\r\n"),
    (b"use foo#", b"BAD_FORMAT\r\n"),
    (b"use foo bar", b"BAD_FORMAT\r\n"),
    (b"use ", b"BAD_FORMAT\r\n"),
    (b"use f-oo", b"USING f-oo\r\n"),
    (b"use-foo", b"UNKNOWN_COMMAND\r\n"),
    (b"use", b"UNKNOWN_COMMAND\r\n"),
    (b"watch", b"UNKNOWN_COMMAND\r\n"),
    (b"ignore", b"UNKNOWN_COMMAND\r\n"),
    (b"stats-tube", b"BAD_FORMAT\r\n"),
    (b"stats-job", b"BAD_FORMAT\r\n"),
    (b"stats-tube -x", b"BAD_FORMAT\r\n"),
    (b"stats-tube nonexist", b"NOT_FOUND\r\n"),
    (b"pause-tubedefault 1", b"PAUSED\r\n"),
    (b"pause-tube  default  1", b"PAUSED\r\n"),
    (b"pause-tube default", b"BAD_FORMAT\r\n"),
    (b"pause-tube default 1 ", b"BAD_FORMAT\r\n"),
    (b"pause-tube default 1x", b"BAD_FORMAT\r\n"),
    (b"pause-tube default -1", b"BAD_FORMAT\r\n"),
    (b"pause-tube default 4294967296", b"BAD_FORMAT\r\n"),
    (b"pause-tube default\t1", b"BAD_FORMAT\r\n"),
    (b"pause-tube de#fault 1", b"BAD_FORMAT\r\n"),
    (b"pause-tube", b"BAD_FORMAT\r\n"),
    (b"pause-tube -x 1", b"BAD_FORMAT\r\n"),
    (b"pause-tube " + NAME_200.encode() + b"x 1", b"BAD_FORMAT\r\n"),
    (b"pause-tube nope 1", b"NOT_FOUND\r\n"),
    (b"kick", b"UNKNOWN_COMMAND\r\n"),
    (b"kick\t1", b"UNKNOWN_COMMAND\r\n"),
    (b"kick ", b"BAD_FORMAT\r\n"),
    (b"kick abc", b"BAD_FORMAT\r\n"),
    (b"kick 5abc", b"KICKED 1\r\n"),
    (b"kick -1", b"KICKED 1\r\n"),
    (b"kick +3", b"KICKED 1\r\n"),
    (b"kick 1 2", b"KICKED 1\r\n"),
    (b"kick  \t 3", b"KICKED 1\r\n"),
    (b"reserve-with-timeout", b"BAD_FORMAT\r\n"),
    (b"reserve-with-timeout ", b"TIMED_OUT\r\n"),
    (b"reserve-with-timeout abc", b"TIMED_OUT\r\n"),
    (b"reserve-job", b"BAD_FORMAT\r\n"),
    (b"reserve-jobx 1", b"BAD_FORMAT\r\n"),
    (b"list-tubesx", b"BAD_FORMAT\r\n"),
    (b"list-tube-usedx", b"BAD_FORMAT\r\n"),
    (b"list-tubes-watchedx", b"BAD_FORMAT\r\n"),
    (b"peek-ready ", b"BAD_FORMAT\r\n"),
    (b"peek-readyx", b"BAD_FORMAT\r\n"),
    (b"peek-delayed ", b"BAD_FORMAT\r\n"),
    (b"peek-buried-x", b"BAD_FORMAT\r\n"),
]


@pytest.mark.parametrize(("line", "reply"), EDGE_CASES, ids=[repr(c[0])[2:-1] or "empty" for c in EDGE_CASES])
def test_edge_case_table_row_gets_exactly_its_reply(conn: RawConn, line: bytes, reply: bytes) -> None:
    conn.send(DELAYED_JOB)
    conn.expect(b"INSERTED 1\r\n")
    conn.send(line + CRLF + SENTINEL + CRLF)
    conn.expect(reply)
    assert conn.recv_reply() == list_reply(["default"])


# kick's bound is C strtoul cut to 32 bits (docs/protocol.md §2.3 P-KICK); six delayed jobs make the bound
# visible.
KICK_BOUNDS = [
    ("5abc", 5),
    ("1 2", 1),
    ("-1", 6),
    ("4294967296", 0),
    ("4294967297", 1),
    ("4294967302", 6),
    ("99999999999", 6),
    ("18446744073709551615", 6),
    ("  \t 3", 3),
    ("\t2", 2),
    ("+3", 3),
    ("0x10", 0),
    ("0", 0),
    ("007", 6),
    ("-0", 0),
    ("-4294967295", 1),
    ("-18446744073709551615", 1),
]


@pytest.mark.parametrize(("argument", "kicked"), KICK_BOUNDS)
def test_kick_bound_is_parsed_like_strtoul_cut_to_32_bits(conn: RawConn, argument: str, kicked: int) -> None:
    for _ in range(6):
        conn.put(b"d", delay=1000)
    assert conn.cmd(f"kick {argument}") == f"KICKED {kicked}\r\n".encode()
    assert conn.stats_tube("default")["current-jobs-ready"] == str(kicked)


@pytest.mark.parametrize("argument", ["18446744073709551616", "99999999999999999999", "abc", "", "-", "+"])
def test_kick_without_digits_or_beyond_64_bits_is_bad_format(conn: RawConn, argument: str) -> None:
    conn.put(b"d", delay=1000)
    assert conn.cmd(f"kick {argument}") == b"BAD_FORMAT\r\n"
    assert conn.cmd("kick 1") == b"KICKED 1\r\n"


@pytest.mark.parametrize("argument", ["", " ", "abc", "0", "00", "+0", "-0", "0abc", " \t0", "4294967296"])
def test_reserve_with_timeout_argument_that_reads_as_zero_times_out_at_once(
    conn: RawConn, argument: str
) -> None:
    send_lines(conn, f"reserve-with-timeout {argument}", SENTINEL)
    expect_lines(conn, "TIMED_OUT")
    assert conn.recv_reply() == list_reply(["default"])


@pytest.mark.parametrize("argument", ["99999999999999999999", "-99999999999999999999"])
def test_reserve_with_timeout_overflowing_a_long_is_bad_format(conn: RawConn, argument: str) -> None:
    conn.put(b"r")
    assert conn.cmd(f"reserve-with-timeout {argument}") == b"BAD_FORMAT\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"RESERVED 1 1\r\nr\r\n"


def test_reserve_with_timeout_is_strtol_cut_to_int_and_negative_waits_forever(server: Backend) -> None:
    observer = server.connect()
    one_second = ["+1", "1abc", "4294967297", " 1"]
    forever = ["-1", "-5", "4294967295", "3000000000", "2147483648"]
    conns = {}
    for count, argument in enumerate(one_second + forever, start=1):
        conns[argument] = server.connect()
        conns[argument].send(f"reserve-with-timeout {argument}\r\n".encode())
        wait_for_stat(observer, "current-waiting", count)
    server.wait(1.2)
    for argument in one_second:
        expect_lines(conns[argument], "TIMED_OUT")
    assert observer.stats()["current-waiting"] == str(len(forever))


# The id grammar (docs/protocol.md §2.3 P-ID) is shared by every command that takes a job id and nothing else.
ID_COMMANDS = ["peek", "delete", "touch", "kick-job", "stats-job", "reserve-job"]
MISSING_IDS = ["0", "2", " 2", "    2", "0002", "18446744073709551615"]
BAD_IDS = [
    "",
    "+2",
    "-2",
    "0x2",
    "2 ",
    "2 3",
    "2\t",
    "\t2",
    "2a",
    "a2",
    "!@#",
    "18446744073709551616",
    "184467440737095516160000000000000000000000000000",
]


@pytest.mark.parametrize("command", ID_COMMANDS)
def test_job_id_grammar_is_strict_unsigned_64_bit_decimal(conn: RawConn, command: str) -> None:
    conn.put(b"one")
    for job_id in MISSING_IDS:
        assert conn.cmd(f"{command} {job_id}") == b"NOT_FOUND\r\n", job_id
    for job_id in BAD_IDS:
        assert conn.cmd(f"{command} {job_id}") == b"BAD_FORMAT\r\n", job_id


def test_job_id_with_leading_spaces_and_zeros_reaches_the_job(conn: RawConn) -> None:
    conn.put(b"a", delay=1000)
    assert conn.cmd("peek   0001") == b"FOUND 1 1\r\na\r\n"
    assert conn.cmd("stats-job 01").startswith(b"OK ")
    assert conn.cmd("kick-job  001") == b"KICKED\r\n"
    assert conn.cmd("reserve-job 0000000000000000000000000001") == b"RESERVED 1 1\r\na\r\n"
    assert conn.cmd("touch  01") == b"TOUCHED\r\n"
    assert conn.cmd("release 01 00 00") == b"RELEASED\r\n"
    assert conn.cmd("delete 00001") == b"DELETED\r\n"


@pytest.mark.parametrize("field", range(3))
def test_put_number_fields_take_full_unsigned_32_bit_range(conn: RawConn, field: int) -> None:
    fields = ["0", "0", "0", "0"]
    fields[field] = "4294967295"
    assert conn.cmd("put " + " ".join(fields), b"") == b"INSERTED 1\r\n"
    fields[field] = "04294967295"
    assert conn.cmd("put " + " ".join(fields), b"") == b"INSERTED 2\r\n"
    fields[field] = "4294967296"
    assert conn.cmd("put " + " ".join(fields)) == b"BAD_FORMAT\r\n"


def test_release_and_bury_numbers_are_strict_32_bit(conn: RawConn) -> None:
    conn.put(b"a")
    assert conn.cmd("reserve") == b"RESERVED 1 1\r\na\r\n"
    for line in [
        "release 1 4294967296 0",
        "release 1 0 4294967296",
        "release 1 0 -1",
        "release 1 +0 0",
        "release 1 0\t0",
        "bury 1 4294967296",
        "bury 1 -1",
        "bury 1 0 ",
        "bury 1",
    ]:
        assert conn.cmd(line) == b"BAD_FORMAT\r\n", line
    assert conn.cmd("release  1  4294967295  0") == b"RELEASED\r\n"
    assert conn.cmd("reserve") == b"RESERVED 1 1\r\na\r\n"
    assert conn.cmd("bury  1  4294967295") == b"BURIED\r\n"
    assert conn.stats_job(1)["pri"] == "4294967295"


VALID_NAMES = ["A-Za-z0-9+/;.$_()", ".", "..", "$", "(x)", "a-", "x_y", "0", "+", ";;", "/", NAME_200]
INVALID_NAMES = [
    "-foo",
    "-",
    "a b",
    "a\tb",
    "a*b",
    'a"b',
    "a\\b",
    "a,b",
    "a:b",
    "a@b",
    "a#",
    "a~",
    "a!",
    "a%",
    "a&",
    "a=",
    "a?",
    "a[b]",
    "a{b}",
    "a|b",
    "a<b>",
    "a'b",
    "a`",
    "\u00e9",
    NAME_200 + "Z",
]


@pytest.mark.parametrize("name", VALID_NAMES, ids=lambda n: n[:20])
def test_valid_tube_names_are_accepted_by_every_tube_command(conn: RawConn, name: str) -> None:
    assert conn.cmd(f"use {name}") == f"USING {name}\r\n".encode()
    assert conn.cmd(f"watch {name}") == b"WATCHING 2\r\n"
    assert conn.cmd(f"stats-tube {name}").startswith(b"OK ")
    assert conn.cmd(f"pause-tube {name} 0") == b"PAUSED\r\n"
    assert conn.cmd(f"ignore {name}") == b"WATCHING 1\r\n"


@pytest.mark.parametrize("name", INVALID_NAMES, ids=lambda n: n[:20])
def test_invalid_tube_names_are_bad_format_for_every_tube_command(conn: RawConn, name: str) -> None:
    for command in ["use", "watch", "ignore", "stats-tube"]:
        assert conn.cmd(f"{command} {name}") == b"BAD_FORMAT\r\n", command
    assert conn.cmd("list-tubes") == list_reply(["default"])


def test_tube_names_are_case_sensitive(conn: RawConn) -> None:
    assert conn.cmd("use Foo") == b"USING Foo\r\n"
    assert conn.cmd("watch foo") == b"WATCHING 2\r\n"
    assert conn.cmd("watch FOO") == b"WATCHING 3\r\n"
    assert conn.cmd("list-tubes") == list_reply(["default", "Foo", "foo", "FOO"])
    assert conn.cmd("stats-tube fOO") == b"NOT_FOUND\r\n"


def test_command_words_are_matched_by_prefix_in_table_order(conn: RawConn) -> None:
    # "stats-tube"/"stats-job" without their space fall through to "stats", which wants an exact length;
    # "reserve-job"/"reserve-with-timeout" likewise fall through to "reserve".
    for line in [
        "stats-tubex",
        "stats-job1",
        "reserve-jobs 1",
        "reserve-with-timeoutx",
        "list-tubes-watched ",
        "stats_job 1",
    ]:
        assert conn.cmd(line) == b"BAD_FORMAT\r\n", line
    for line in ["peeks 1", "peek-foo", "bury", "touch", "release", "kick-job", "list"]:
        assert conn.cmd(line) == b"UNKNOWN_COMMAND\r\n", line
