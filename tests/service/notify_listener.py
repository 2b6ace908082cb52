#!/usr/bin/env python3
"""Stands in for systemd's notification socket (sd_notify(3)) in tests.

    notify_listener.py SOCKET OUT

Binds a unix datagram socket at SOCKET and appends every assignment it
receives (one message may hold several, one per line) to OUT as a line,
flushed at once, until it is killed. Messages longer than 4 KiB are cut.
"""
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    with open(out, "a", encoding="utf-8") as f:
        while True:
            data = sock.recv(4096)
            for line in data.decode("utf-8", "replace").splitlines():
                f.write(line + "\n")
            f.flush()


if __name__ == "__main__":
    main()
