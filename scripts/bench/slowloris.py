#!/usr/bin/env python3
"""Slowloris load for scripts/bench/hostile.sh: CONNECTIONS connections to
127.0.0.1:PORT, each sending a request head one byte a second and never
finishing it; a connection the server closes is opened again, so that
CONNECTIONS stay open. Runs for SECONDS, then closes everything and prints
one JSON line: connections opened and closed by the server.

    slowloris.py PORT CONNECTIONS SECONDS

Loopback only, bounded in count and time: it stops by itself.
"""
import json
import socket
import sys
import time

HEAD = b"GET /v1/top-sellers/c000000000000 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def opened(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    return [s, 0]


def main():
    port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    conns = [opened(port) for _ in range(count)]
    made, closed = count, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        for i, (s, sent) in enumerate(conns):
            byte = HEAD[sent : sent + 1] or b"x"
            try:
                s.send(byte)
                gone = s.recv(512) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                s.close()
                closed += 1
                try:
                    conns[i] = opened(port)
                    made += 1
                except OSError:
                    conns[i] = [socket.socket(), len(HEAD)]
            else:
                conns[i][1] = sent + 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    for s, _ in conns:
        s.close()
    print(json.dumps({"opened": made, "closed_by_server": closed}))


if __name__ == "__main__":
    main()
