"""A TCP proxy that can cut the network between workstations and the server.

A real socket proxy (asyncio, in a thread of the test process): clients connect
to ``proxy.url``, every byte is copied to and from the server's port. ``cut``
takes the network away the two ways a test centre loses it:

- ``"reset"``: every open connection is dropped (the switch lost power) and new
  ones are refused; both ends notice at once;
- ``"blackhole"``: open connections stay but no byte passes either way (a cable
  pulled further upstream) and new connections are refused; each end notices
  only through its own timeouts (Socket.IO pings). Bytes already in flight are
  held, not lost, as TCP would hold them; when ``restore`` comes they flow if
  both ends still hold the connection.

``restore`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import threading

from tests.live import free_port


class TcpProxy:
    def __init__(self, target_port: int, port: int | None = None):
        self.target_port = target_port
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = None  # None: up; "reset" / "blackhole": down
        self.loop = asyncio.new_event_loop()
        self._server = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.n_connections = self.n_dropped = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="tcp-proxy")

    def _run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> TcpProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    async def _listen(self):
        if self._flowing is None:
            self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _handle(self, client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self.n_connections += 1
        self._writers.update((client_w, server_w))
        await asyncio.gather(
            self._pump(client_r, server_w), self._pump(server_r, client_w), return_exceptions=True
        )
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pump(self, reader, writer):
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()  # blackhole: hold the bytes until restored
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()  # one side gone: the other goes too

    async def _cut(self, mode):
        self._server.close()  # new connections: refused
        self._flowing.clear()
        if mode == "reset":
            self.n_dropped += len(self._writers)
            for writer in list(self._writers):
                writer.transport.abort()
            self._flowing.set()  # nothing left to hold

    async def _restore(self):
        await self._listen()

    def cut(self, mode: str = "reset") -> None:
        assert mode in ("reset", "blackhole") and self.mode is None
        self.mode = mode
        self._run(self._cut(mode))

    def restore(self) -> None:
        self._run(self._restore())
        self.mode = None

    def close(self) -> None:
        async def _close():
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        self._run(_close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
