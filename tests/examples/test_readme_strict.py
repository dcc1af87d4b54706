"""README, "Inspecting and breaking the server": strict mode and expect_error."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)

import socket

import pytest


@pytest.mark.fakebean_strict  # or fakebean_factory(strict=True), or `fakebean_strict = true` in the ini
def test_strict_mode_checks_the_client(fakebean):
    fakebean.client().put("hello")  # a client protocol mistake here would fail the test
    with socket.create_connection(fakebean.address) as raw:
        with fakebean.expect_error("BAD_FORMAT"):  # declared: this one is on purpose
            raw.sendall(b"put 0 0 60\r\n")  # the size is missing
            assert raw.recv(100) == b"BAD_FORMAT\r\n"
