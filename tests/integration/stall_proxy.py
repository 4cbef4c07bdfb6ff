"""A TCP proxy that a test can stall: while stalled it forwards nothing in either
direction but keeps every connection open, as a network that drops packets for a while
(no reset, no error: the bytes wait in the kernel's buffers and arrive once it flows
again). Used to cut a client off a real server without the server going away."""

from __future__ import annotations

import select
import socket
import threading

from helpers import free_port

__all__ = ["StallProxy"]


class StallProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` (host, port) until :meth:`close`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        """Stop forwarding (connections stay open)."""
        self._flowing.clear()

    def flow(self) -> None:
        """Forward again, everything held first."""
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(self.target)
            except OSError:
                return
            self._sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self._closed.is_set():
            self._flowing.wait()
            try:
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready:
                    continue
                if not self._flowing.is_set():
                    continue  # stalled while waiting: leave the bytes where they are
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return
