"""A Tunnel command for tests: relays stdin/stdout to 127.0.0.1:PORT (a minimal ``nc``).

Usage: python tcp_relay.py PORT
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def main() -> None:
    port = int(sys.argv[1])
    conn = socket.create_connection(("127.0.0.1", port))

    def upstream() -> None:
        while data := os.read(0, 65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := conn.recv(65536):
        view = memoryview(data)
        while view:
            view = view[os.write(1, view) :]


if __name__ == "__main__":
    main()
