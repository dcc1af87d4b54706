"""The sans-IO core alone: bytes in, values or exceptions out; no sockets (except the tube-name
property, which asks both servers which names they accept)."""

from __future__ import annotations

from collections.abc import Iterable

import greenstalk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import beanclient
from beanclient import _protocol as p
from beanclient._session import Session
from beanclient._stats import JobStats, ServerStats, typed_stats
from beanclient._validate import TUBE_NAME_CHARS, check_tube
from tests.support import Backend

# -- requests ------------------------------------------------------------------------------------


def test_request_bytes() -> None:
    assert p.put_request(b"hi", 1, 2, 3, 10) == b"put 1 2 3 2\r\nhi\r\n"
    assert p.put_request(b"", 0, 0, 0, 0) == b"put 0 0 0 0\r\n\r\n"
    assert p.reserve_request(None) == b"reserve\r\n"
    assert p.reserve_request(5) == b"reserve-with-timeout 5\r\n"
    assert p.id_request(b"delete", 7) == b"delete 7\r\n"
    assert p.id_request(b"touch", beanclient.Job(8, "x")) == b"touch 8\r\n"
    assert p.release_request(9, 1, 2) == b"release 9 1 2\r\n"
    assert p.bury_request(9, 1) == b"bury 9 1\r\n"
    assert p.tube_request(b"use", "a(b)") == b"use a(b)\r\n"
    assert p.pause_tube_request("t", 60) == b"pause-tube t 60\r\n"
    assert p.kick_request(10) == b"kick 10\r\n"


def test_put_batch_encodes_and_checks_every_body_first() -> None:
    assert p.put_batch(["a", b"bc"], "utf-8", 1, 0, 60, 10) == [
        b"put 1 0 60 1\r\na\r\n",
        b"put 1 0 60 2\r\nbc\r\n",
    ]
    with pytest.raises(beanclient.BodyTooBigError):
        p.put_batch(["ok", "far too long"], "utf-8", 1, 0, 60, 5)
    with pytest.raises(TypeError):
        p.put_batch(["text"], None, 1, 0, 60, 5)


def test_batch_slices_bound_each_write() -> None:
    requests = [b"delete %d\r\n" % i for i in range(p.BATCH_SLICE * 2 + 1)]
    slices = p.batch_slices(requests)
    assert len(slices) == 3
    assert b"".join(slices) == b"".join(requests)
    assert slices[2] == requests[-1]


def test_numbers_are_checked_against_u32() -> None:
    for bad in (-1, 2**32, float("nan")):
        with pytest.raises(beanclient.OutOfRangeError):
            p.put_request(b"", bad, 0, 0, 10)  # type: ignore[arg-type]
        with pytest.raises(beanclient.OutOfRangeError):
            p.release_request(1, 0, bad)  # type: ignore[arg-type]
    assert p.put_request(b"", 2**32 - 1, 2**32 - 1, 2**32 - 1, 10).startswith(b"put 4294967295 ")


# -- replies -------------------------------------------------------------------------------------


def test_success_replies() -> None:
    assert p.int_reply(b"INSERTED 12\r\n", b"INSERTED ") == 12
    assert p.int_reply(b"WATCHING 3\r\n", b"WATCHING ") == 3
    assert p.using_reply(b"USING a-b\r\n") == "a-b"
    assert p.job_header(b"RESERVED 4 10\r\n", b"RESERVED") == (4, 10)
    assert p.reserved_header(b"RESERVED 4 10\r\n") == (4, 10)
    assert p.found_header(b"FOUND 4 10\r\n") == (4, 10)
    assert p.ok_header(b"OK 955\r\n") == 955
    p.expect(b"DELETED\r\n", b"DELETED\r\n")


def test_batch_replies_are_split_once_and_parsed_per_line() -> None:
    lines = p.split_replies(b"INSERTED 1\r\nDRAINING\r\nINSERTED 30\r\n", 3)
    one, draining, thirty = p.put_results(lines)
    assert (one, thirty) == (1, 30) and isinstance(draining, beanclient.DrainingError)
    deleted, missing = p.delete_results(p.split_replies(b"DELETED\r\nNOT_FOUND\r\n", 2))
    assert deleted is None and isinstance(missing, beanclient.NotFoundError)
    assert p.split_replies(b"", 0) == []
    for data, count in [(b"DELETED\r\n", 2), (b"DELETED\r\nDEL", 1), (b"A\r\nB\r\n", 1)]:
        with pytest.raises(ConnectionError, match="malformed reply"):
            p.split_replies(data, count)


def test_complete_replies_keeps_whole_lines_only() -> None:
    assert p.complete_replies(bytearray(b"INSERTED 1\r\nINSERTED 2\r\nINSE")) == (
        b"INSERTED 1\r\nINSERTED 2\r\n",
        2,
    )
    assert p.complete_replies(b"INSE") == (b"", 0)
    assert p.complete_replies(b"") == (b"", 0)


@pytest.mark.parametrize(
    "line",
    [b"NOT_FOUND\r\n", b"BURIED 3\r\n", b"FOO 1\r\n", b"\r\n", b"INSERTED 1\r\n", b"RESERVED 1\r\n"],
)
def test_unexpected_replies_raise(line: bytes) -> None:
    for parse in (
        lambda: p.expect(line, b"DELETED\r\n"),
        lambda: p.job_header(line, b"FOUND"),
        lambda: p.ok_header(line),
        lambda: p.using_reply(line),
    ):
        with pytest.raises(beanclient.Error):
            parse()


def test_reserve_job_header_names_old_servers() -> None:
    with pytest.raises(beanclient.ServerTooOldError):
        p.reserve_job_header(b"UNKNOWN_COMMAND\r\n")
    assert p.reserve_job_header(b"RESERVED 1 0\r\n") == (1, 0)


words = st.sampled_from([*beanclient.ERROR_RESPONSES, b"OK", b"USING", b"FOO", b"X_Y"])
values = st.lists(st.binary(min_size=1, max_size=5).map(lambda b: bytes(48 + x % 43 for x in b)), max_size=3)


@given(words, values, st.sampled_from([b"OK", b"USING", b"DELETED"]))
def test_parse_response_matches_greenstalk(word: bytes, args: list[bytes], expected: bytes) -> None:
    line = b" ".join([word, *args]) + b"\r\n"
    try:
        theirs: object = greenstalk._parse_response(line, expected)
    except Exception as exc:  # the outcome is compared, whatever it is
        theirs = (type(exc).__name__, exc.args)
    try:
        mine: object = beanclient._parse_response(line, expected)
    except Exception as exc:
        mine = (type(exc).__name__, exc.args)
    assert mine == theirs


# -- YAML ------------------------------------------------------------------------------------------

STATS_113 = (
    b'---\nversion: "1.13"\nhostname: "vm"\nos: "#1 SMP"\ndraining: false\nrusage-utime: 0.01\npid: 7\n'
)


def test_yaml_like_greenstalk_including_quotes_and_hashes() -> None:
    body = b"---\nname: default\nos: #1 SMP PREEMPT_DYNAMIC @0\nid: 0123abcd\npause: 0\n"
    for data in (body, STATS_113, b"---\n", b'---\nquoted: "7"\nempty: ""\nq: "\n'):
        assert p.yaml_dict(data) == greenstalk._parse_stats(data)
    for data in (b"---\n- default\n- a\n", b"---\n"):
        assert p.yaml_list(data) == greenstalk._parse_list(data)


keys = st.text(alphabet="abcdef-", min_size=1, max_size=12)
texts = st.one_of(st.integers(-(10**12), 10**12).map(str), st.text(alphabet='ab019 #.:-_"', max_size=12))


@settings(max_examples=500)
@given(st.dictionaries(keys, texts, max_size=8))
def test_yaml_dict_matches_greenstalk_for_any_flat_mapping(mapping: dict[str, str]) -> None:
    data = ("---\n" + "".join(f"{k}: {v}\n" for k, v in mapping.items())).encode()
    assert p.yaml_dict(data) == greenstalk._parse_stats(data)


def test_malformed_yaml_is_an_unknown_response() -> None:
    for data in (b"no header\n", b"---\nno separator\n"):
        with pytest.raises(beanclient.UnknownResponseError):
            p.yaml_dict(data)
    with pytest.raises(beanclient.UnknownResponseError):
        p.yaml_list(b"---\nnot a list row\n")


def test_typed_stats_convert_types_and_tolerate_old_and_new_fields() -> None:
    stats = typed_stats(ServerStats, STATS_113 + b"future-field: 1\n")
    assert (stats.version, stats.hostname, stats.os, stats.pid) == ("1.13", "vm", "#1 SMP", 7)
    assert stats.draining is False and stats.rusage_utime == 0.01
    assert stats.current_jobs_ready == 0  # not sent: the default
    job = typed_stats(JobStats, b"---\nid: 3\ntube: 007\nstate: ready\ntime-left: -1\n")
    assert (job.id, job.tube, job.state, job.time_left) == (3, "007", "ready", -1)
    with pytest.raises(beanclient.UnknownResponseError):
        typed_stats(ServerStats, b"---\ndraining: maybe\n")


# -- tube names ------------------------------------------------------------------------------------


def test_tube_name_rules() -> None:
    assert check_tube("A-Za-z0-9+/;.$_()") == b"A-Za-z0-9+/;.$_()"
    assert check_tube("x" * 200) == b"x" * 200
    for bad in ("", "-x", "x" * 201, "a b", "a\tb", "ü", "a:b", 'a"b'):
        with pytest.raises(beanclient.InvalidTubeNameError):
            check_tube(bad)
    with pytest.raises(TypeError):
        check_tube(b"bytes")  # type: ignore[arg-type]


names = st.text(alphabet=st.sampled_from(TUBE_NAME_CHARS + " #:*é\t\"'\\"), max_size=210)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names)
def test_check_tube_agrees_with_the_server(server: Backend, name: str) -> None:
    conn = server.connect()
    try:
        reply = conn.cmd(b"use " + name.encode())
        try:
            check_tube(name)
            accepted = True
        except beanclient.InvalidTubeNameError:
            accepted = False
        assert accepted == reply.startswith(b"USING "), (name, reply)
    finally:
        conn.close()


# -- session ---------------------------------------------------------------------------------------


def setup(use: str, watch: str | Iterable[str]) -> list[bytes]:
    return [request for request, _ in Session(use, watch, False, None).setup_requests(first=True)]


def test_first_setup_follows_greenstalks_constructor() -> None:
    assert setup("default", "default") == []
    assert setup("a", "default") == [b"use a\r\n"]
    assert setup("default", "w") == [b"watch w\r\n", b"ignore default\r\n"]
    assert setup("default", ["w", "default"]) == [b"watch w\r\n", b"watch default\r\n"]
    assert setup("default", ["default"]) == [b"watch default\r\n"]
    assert setup("default", []) == [
        b"ignore default\r\n"
    ]  # the server answers NOT_IGNORED, as for greenstalk
    assert setup("default", iter(["x", "y"])) == [b"watch x\r\n", b"watch y\r\n", b"ignore default\r\n"]


def test_restore_replays_the_tubes_as_they_are_now() -> None:
    session = Session("default", ["a", "b"], True, None)
    session.used("u")
    session.watched_tube("c")
    session.ignored_tube("a")
    restore = [request for request, _ in session.setup_requests(first=False)]
    assert restore == [b"use u\r\n", b"watch b\r\n", b"watch c\r\n", b"ignore default\r\n"]
    session = Session("default", ["a"], True, None)
    session.watched_tube("default")
    session.ignored_tube("a")
    assert session.setup_requests(first=False) == []


def test_lost_takes_the_held_jobs() -> None:
    session = Session("default", "default", True, None)
    assert session.held is not None
    session.held.update({5, 2})
    error = session.lost("dropped", maybe_executed=True)
    assert (error.lost_job_ids, error.maybe_executed) == ([2, 5], True)
    assert session.held == set()
    assert session.lost("again", maybe_executed=False).lost_job_ids == []


def test_session_learns_max_job_size() -> None:
    session = Session("default", "default", False, None)
    assert session.max_job_size == 2**32 - 1
    session.learn({"max-job-size": 10})
    assert session.max_job_size == 10
