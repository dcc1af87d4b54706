"""A reference point, not a server: the least a pure-Python epoll loop can do per request.

    python bench/floor_server.py -l 127.0.0.1 -p PORT

It answers the commands of the request/response benchmark (use, watch, ignore, put, reserve,
reserve-with-timeout, delete) with canned replies: no job is stored, nothing is checked. What it
measures is the cost of one poll + recv + send round in CPython, the floor under any pure-Python
server's request/response rate on this machine. ``run.py --floor`` runs it next to fakebean in (b).
"""

from __future__ import annotations

import select
import signal
import socket
import sys

BODY = b"hello-bench"


def serve(host: str, port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    listener.setblocking(False)
    epoll = select.epoll()
    epoll.register(listener.fileno(), select.EPOLLIN)
    conns: dict[int, tuple[socket.socket, bytearray, list[bool]]] = {}
    last_id = 0
    while True:
        for fd, _events in epoll.poll():
            if fd == listener.fileno():
                sock, _ = listener.accept()
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[sock.fileno()] = (sock, bytearray(), [False])
                epoll.register(sock.fileno(), select.EPOLLIN)
                continue
            sock, buf, in_body = conns[fd]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                epoll.unregister(fd)
                sock.close()
                del conns[fd]
                continue
            buf += data
            out = []
            while (end := buf.find(b"\r\n")) >= 0:
                line = bytes(buf[:end])
                del buf[: end + 2]
                if in_body[0]:
                    in_body[0] = False
                elif line.startswith(b"put "):
                    last_id += 1
                    in_body[0] = True
                    out.append(b"INSERTED %d\r\n" % last_id)
                elif line.startswith(b"reserve"):
                    out.append(b"RESERVED %d %d\r\n%s\r\n" % (last_id, len(BODY), BODY))
                elif line.startswith(b"delete "):
                    out.append(b"DELETED\r\n")
                elif line.startswith(b"use "):
                    out.append(b"USING %s\r\n" % line[4:])
                elif line.startswith(b"watch "):
                    out.append(b"WATCHING 2\r\n")
                elif line.startswith(b"ignore "):
                    out.append(b"WATCHING 1\r\n")
                else:
                    out.append(b"UNKNOWN_COMMAND\r\n")
            if out:
                sock.sendall(b"".join(out))  # replies are small: the socket buffer takes them


def main(argv: list[str]) -> int:
    host, port = "127.0.0.1", 11300
    args = iter(argv)
    for arg in args:
        if arg == "-l":
            host = next(args)
        elif arg == "-p":
            port = int(next(args))
        else:
            print(f"usage: {sys.argv[0]} [-l ADDR] [-p PORT]", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(host, port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
