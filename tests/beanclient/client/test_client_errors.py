"""Sad paths, mostly against a scripted server that can send what a real beanstalkd never does."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

import beanclient
from beanclient import AsyncClient, Client
from tests.support.client import Close, Expect, Hang, Pause, Reply, ScriptedServer, Step, run

WORDS = sorted(beanclient.ERROR_RESPONSES)


# -- error replies -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_every_error_word_raises_its_exception(word: bytes) -> None:
    script: list[Step] = [
        Expect(b"delete 1\r\n"),
        Reply(word + b"\r\n"),
        Expect(b"list-tube-used\r\n"),
        Reply(b"USING x\r\n"),
    ]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.ERROR_RESPONSES[word]) as caught:
            c.delete(1)
        assert type(caught.value) is beanclient.ERROR_RESPONSES[word]
        assert c.using() == "x"  # an error reply leaves the connection in step


@pytest.mark.parametrize("word", WORDS)
def test_every_error_word_raises_its_exception_async(word: bytes) -> None:
    script: list[Step] = [
        Expect(b"peek 1\r\n"),
        Reply(word + b"\r\n"),
        Expect(b"list-tube-used\r\n"),
        Reply(b"USING x\r\n"),
    ]

    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            with pytest.raises(beanclient.ERROR_RESPONSES[word]):
                await c.peek(1)
            assert await c.using() == "x"

    with ScriptedServer(script) as server:
        run(main(server.address))


def test_buried_reply_to_put_carries_the_id() -> None:
    script: list[Step] = [
        Expect(b"put 1 0 60 1\r\nx\r\n"),
        Reply(b"BURIED 7\r\n"),
        Expect(b"release 7 1 0\r\n"),
        Reply(b"BURIED\r\n"),
    ]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.BuriedError) as caught:
            c.put("x", priority=1)
        assert caught.value.id == 7
        with pytest.raises(beanclient.BuriedError) as caught:
            c.release(7, priority=1)
        assert caught.value.id is None


def test_unknown_reply_word_keeps_status_and_values() -> None:
    script: list[Step] = [
        Expect(b"delete 1\r\n"),
        Reply(b"WHAT 1 2\r\n"),
        Expect(b"delete 2\r\n"),
        Reply(b"INSERTED 5\r\n"),
    ]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.UnknownResponseError) as caught:
            c.delete(1)
        assert (caught.value.status, caught.value.values) == (b"WHAT", [b"1", b"2"])
        with pytest.raises(beanclient.UnknownResponseError) as caught:
            c.delete(2)  # a success word of another command is just as unexpected
        assert (caught.value.status, caught.value.values) == (b"INSERTED", [b"5"])


def test_reserve_job_on_a_server_before_1_12_says_so() -> None:
    script: list[Step] = [Expect(b"reserve-job 3\r\n"), Reply(b"UNKNOWN_COMMAND\r\n")]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.ServerTooOldError, match="1.12") as caught:
            c.reserve_job(3)
        assert isinstance(caught.value, beanclient.UnknownCommandError)


def test_reserve_job_on_a_server_before_1_12_says_so_async() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            with pytest.raises(beanclient.ServerTooOldError):
                await c.reserve_job(3)

    with ScriptedServer([Expect(b"reserve-job 3\r\n"), Reply(b"UNKNOWN_COMMAND\r\n")]) as server:
        run(main(server.address))


def test_unknown_command_for_other_commands_stays_plain() -> None:
    with (
        ScriptedServer([Expect(b"kick 1\r\n"), Reply(b"UNKNOWN_COMMAND\r\n")]) as server,
        Client(server.address) as c,
    ):
        with pytest.raises(beanclient.UnknownCommandError) as caught:
            c.kick(1)
        assert type(caught.value) is beanclient.UnknownCommandError


# -- broken streams --------------------------------------------------------------------------------

BROKEN = [
    pytest.param([Close()], "Unexpected EOF", id="eof-before-reply"),
    pytest.param([Reply(b"RESERV"), Close()], "Unexpected EOF", id="half-line"),
    pytest.param([Reply(b"RESERVED 1 10\r\nhel"), Close()], "Unexpected EOF reading chunk", id="half-body"),
    pytest.param([Reply(b"RESERVED 1 3\r\nabcXY")], "malformed reply", id="body-without-crlf"),
]


@pytest.mark.parametrize(("steps", "message"), BROKEN)
def test_a_broken_reply_raises_connection_error_and_ends_the_connection(
    steps: list[Step], message: str
) -> None:
    with ScriptedServer([Expect(b"reserve\r\n"), *steps]) as server, Client(server.address) as c:
        with pytest.raises(ConnectionError, match=message):
            c.reserve()
        with pytest.raises(ConnectionError, match="not connected"):
            c.put("x")  # never read a stale reply as the answer to a new command


@pytest.mark.parametrize(("steps", "message"), BROKEN)
def test_a_broken_reply_raises_connection_error_async(steps: list[Step], message: str) -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            with pytest.raises(ConnectionError, match=message):
                await c.reserve()
            with pytest.raises(ConnectionError, match="not connected"):
                await c.put("x")

    with ScriptedServer([Expect(b"reserve\r\n"), *steps]) as server:
        run(main(server.address))


# -- timeouts --------------------------------------------------------------------------------------


def test_a_silent_server_raises_timeout_instead_of_hanging() -> None:
    with (
        ScriptedServer([Expect(b"list-tubes\r\n"), Hang()]) as server,
        Client(server.address, timeout=0.2) as c,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            c.tubes()
        assert 0.15 <= time.monotonic() - started < 5
        with pytest.raises(ConnectionError, match="not connected"):
            c.tubes()


def test_a_silent_server_raises_timeout_instead_of_hanging_async() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address, timeout=0.2) as c:
            with pytest.raises(TimeoutError):
                await c.tubes()
            with pytest.raises(ConnectionError, match="not connected"):
                await c.tubes()

    with ScriptedServer([Expect(b"list-tubes\r\n"), Hang()]) as server:
        run(main(server.address))


# Each reply takes longer than the 0.2 s I/O timeout but comes within the reserve's own wait.
SLOW_RESERVES: list[Step] = [
    Expect(b"reserve-with-timeout 1\r\n"),
    Pause(0.5),
    Reply(b"TIMED_OUT\r\n"),
    Expect(b"reserve\r\n"),
    Pause(0.5),
    Reply(b"RESERVED 4 2\r\nhi\r\n"),
    Expect(b"list-tubes\r\n"),
    Hang(),
]


def test_a_reply_within_the_reserve_timeout_is_not_an_io_timeout() -> None:
    with ScriptedServer(SLOW_RESERVES) as server, Client(server.address, timeout=0.2) as c:
        with pytest.raises(beanclient.TimedOutError):
            c.reserve(timeout=1)
        assert c.reserve().body == "hi"
        with pytest.raises(TimeoutError):  # the I/O timeout is back for other commands
            c.tubes()


def test_a_reply_within_the_reserve_timeout_is_not_an_io_timeout_async() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address, timeout=0.2) as c:
            with pytest.raises(beanclient.TimedOutError):
                await c.reserve(timeout=1)
            assert (await c.reserve()).body == "hi"
            with pytest.raises(TimeoutError):
                await c.tubes()

    with ScriptedServer(SLOW_RESERVES) as server:
        run(main(server.address))


def test_reserve_past_its_timeout_plus_the_io_timeout_gives_up() -> None:
    script: list[Step] = [Expect(b"reserve-with-timeout 0\r\n"), Hang()]
    with (
        ScriptedServer(script) as server,
        Client(server.address, timeout=0.2) as c,
        pytest.raises(TimeoutError),
    ):
        c.reserve(timeout=0)


@pytest.fixture
def unaccepting() -> Iterator[tuple[str, int]]:
    """An address whose listen queue is full, so connecting hangs (no reply to the SYN)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(address)
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield address
    for filler in fillers:
        filler.close()
    listener.close()


def test_connect_timeout(unaccepting: tuple[str, int]) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        Client(unaccepting, connect_timeout=0.2)
    assert time.monotonic() - started < 5


def test_connect_timeout_async(unaccepting: tuple[str, int]) -> None:
    with pytest.raises(TimeoutError):
        run(AsyncClient(unaccepting, connect_timeout=0.2).connect())


def test_connect_timeout_does_not_become_the_io_timeout() -> None:
    script: list[Step] = [Expect(b"reserve\r\n"), Pause(0.5), Reply(b"RESERVED 1 1\r\nx\r\n")]
    with ScriptedServer(script) as server, Client(server.address, connect_timeout=0.1) as c:
        assert c.reserve().body == "x"


# -- nothing sent for invalid arguments --------------------------------------------------------------


def test_invalid_arguments_send_nothing() -> None:
    script: list[Step] = [Expect(b"use ok\r\n"), Reply(b"USING ok\r\n")]
    with ScriptedServer(script) as server, Client(server.address, max_job_size=4) as c:
        for bad in (lambda: c.use("bad name"), lambda: c.put("x", priority=-1), lambda: c.put("12345")):
            with pytest.raises(beanclient.ValidationError):
                bad()
        with pytest.raises(beanclient.ValidationError):
            c.put_many(["ok", "x", "toolong"])
        with pytest.raises(beanclient.ValidationError):
            c.release(1, delay=2**32)
        with pytest.raises(beanclient.ValidationError):
            c.bury(1, priority=-5)
        c.use("ok")
    assert server.received == [b"use ok\r\n"]


# -- batches ----------------------------------------------------------------------------------------


def test_put_many_reads_every_reply_and_reports_failures() -> None:
    script: list[Step] = [
        Expect(b"put 0 0 60 1\r\na\r\nput 0 0 60 1\r\nb\r\nput 0 0 60 1\r\nc\r\n"),
        Reply(b"INSERTED 1\r\nDRAINING\r\nINSERTED 3\r\n"),
        Expect(b"list-tube-used\r\n"),
        Reply(b"USING default\r\n"),
    ]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.BatchError) as caught:
            c.put_many(["a", "b", "c"], priority=0)
        one, draining, three = caught.value.results
        assert (one, three) == (1, 3)
        assert isinstance(draining, beanclient.DrainingError)
        assert c.using() == "default"


def test_put_many_that_loses_the_connection_reports_what_it_read() -> None:
    script: list[Step] = [
        Expect(b"put 0 0 60 1\r\na\r\nput 0 0 60 1\r\nb\r\n"),
        Reply(b"INSERTED 1\r\n"),
        Close(),
    ]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.ConnectionLostError) as caught:
            c.put_many(["a", "b"], priority=0)
        assert caught.value.results == [1]
        assert caught.value.maybe_executed is True
        assert isinstance(caught.value, ConnectionError)


def test_delete_many_that_loses_the_connection_reports_what_it_read_async() -> None:
    script: list[Step] = [Expect(b"delete 1\r\ndelete 2\r\n"), Reply(b"DELETED\r\n"), Close()]

    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            with pytest.raises(beanclient.ConnectionLostError) as caught:
                await c.delete_many([1, 2])
            assert caught.value.results == [None]

    with ScriptedServer(script) as server:
        run(main(server.address))


# -- asyncio specifics -------------------------------------------------------------------------------


def test_async_client_allows_one_call_at_a_time() -> None:
    script: list[Step] = [Expect(b"reserve\r\n"), Reply(b"RESERVED 1 1\r\nx\r\n")]

    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            first = asyncio.ensure_future(c.reserve())
            await asyncio.sleep(0)  # one loop step: the reserve is sent and now awaits its reply
            with pytest.raises(RuntimeError, match="another call"):
                await c.put("x")
            assert (await first).body == "x"

    with ScriptedServer(script) as server:
        run(main(server.address))


def test_cancelling_a_call_mid_reply_closes_the_connection() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            task = asyncio.ensure_future(c.reserve())
            await asyncio.sleep(0)  # one loop step: the reserve is sent and now awaits its reply
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(ConnectionError, match="not connected"):
                await c.put("x")

    with ScriptedServer([Expect(b"reserve\r\n"), Hang()]) as server:
        run(main(server.address))


def test_async_client_must_connect_first() -> None:
    async def main() -> None:
        c = AsyncClient(("127.0.0.1", 1))
        with pytest.raises(ConnectionError, match="not connected"):
            await c.put("x")

    run(main())


SPLIT_REPLIES: list[Step] = [
    Expect(b"delete 1\r\ndelete 2\r\ndelete 3\r\n"),
    Reply(b"DELETED\r"),
    Pause(0.05),  # separate segments, so the CRLF straddles two reads (if coalesced, still correct)
    Reply(b"\nNOT_FOUND\r\nDEL"),
    Pause(0.05),
    Reply(b"ETED\r\n"),
    Expect(b"list-tube-used\r\n"),
    Reply(b"USING default\r\n"),
]


def test_batch_replies_may_arrive_in_any_pieces() -> None:
    with ScriptedServer(SPLIT_REPLIES) as server, Client(server.address) as c:
        with pytest.raises(beanclient.BatchError) as caught:
            c.delete_many([1, 2, 3])
        assert caught.value.results[0] is None and caught.value.results[2] is None
        assert isinstance(caught.value.results[1], beanclient.NotFoundError)
        assert c.using() == "default"


def test_batch_replies_may_arrive_in_any_pieces_async() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address) as c:
            with pytest.raises(beanclient.BatchError) as caught:
                await c.delete_many([1, 2, 3])
            assert [type(r).__name__ for r in caught.value.results] == [
                "NoneType",
                "NotFoundError",
                "NoneType",
            ]
            assert await c.using() == "default"

    with ScriptedServer(SPLIT_REPLIES) as server:
        run(main(server.address))


def test_extra_bytes_after_a_batch_mean_the_stream_is_out_of_step() -> None:
    script: list[Step] = [Expect(b"delete 1\r\n"), Reply(b"DELETED\r\nDELETED\r\n")]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.ConnectionLostError, match="malformed reply"):
            c.delete_many([1])
