"""A loopback HTTP file server for rehearsing the download rules offline.

Serves the files of one folder on 127.0.0.1 only, with HTTP Range (206) support, and can inject
the two faults a real download meets:
- `interrupt`: the first GET of these names announces the full length but the connection is
  closed after half of the bytes (the client must resume with Range);
- `corrupt`: the first GET of these names delivers the file with some bytes flipped (the client
  must catch it by its checksum and fetch it again);
- `trickle`: every GET of these names sends one byte every `trickle_s` seconds (a link that never
  stalls long enough for a read timeout; the client's overall deadline must cut it off).

Bounded by design: the serving loop stops after `max_requests` requests or `lifetime` seconds,
whichever comes first, and every connection has a socket timeout, so a forgotten server cannot
outlive the test or rehearsal that started it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

CHUNK = 1 << 16


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    timeout = 30  # seconds per connection (socket timeout)

    def log_message(self, fmt, *args):  # keep test output quiet; the server counts requests
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        name = unquote(urlparse(self.path).path).lstrip("/")
        served = self.server.note(name)
        path = (self.server.root / name).resolve()
        if not path.is_relative_to(self.server.root) or not path.is_file():
            self.send_error(404, "not found")
            return
        data = path.read_bytes()
        if name in self.server.corrupt and served == 1:
            data = bytearray(data)
            for i in range(0, len(data), max(1, len(data) // 7)):
                data[i] ^= 0xFF
            data = bytes(data)
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if name in self.server.trickle:
            self._trickle(body)
            return
        cut = len(body) // 2 if (name in self.server.interrupt and served == 1) else len(body)
        for i in range(0, cut, CHUNK):
            self.wfile.write(body[i : min(i + CHUNK, cut)])
        if cut < len(body):
            self.wfile.flush()
            self.close_connection = True  # the rest never comes: an interrupted transfer

    def _trickle(self, body: bytes) -> None:
        """One byte per trickle_s, until the body ends, the client hangs up or the server stops."""
        for i in range(len(body)):
            if self.server.stopping.wait(self.server.trickle_s if i else 0):
                break
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up (its deadline): the point of the exercise
                break
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, interrupt, corrupt, trickle=(), trickle_s: float = 1.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.interrupt, self.corrupt, self.trickle = set(interrupt), set(corrupt), set(trickle)
        self.trickle_s, self.stopping = trickle_s, threading.Event()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, name: str) -> int:
        with self._lock:
            self.requests[name] += 1
            return self.requests[name]


class FileServer:
    """`with FileServer(folder) as srv: srv.url("IXI/IXI-T1.tar")`; stops by itself when bounded."""

    def __init__(
        self,
        root: str | Path,
        *,
        interrupt=(),
        corrupt=(),
        trickle=(),
        trickle_s: float = 1.0,
        max_requests: int = 1000,
        lifetime: float = 1800.0,
    ) -> None:
        self._server = _Server(Path(root), interrupt, corrupt, trickle, trickle_s)
        self._server.timeout = 0.5  # handle_request() returns at least every 0.5 s
        self.max_requests, self.lifetime = max_requests, lifetime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rehearsal-http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def requests(self) -> Counter:
        """GET requests per served name so far."""
        return self._server.requests

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def _loop(self) -> None:
        deadline = time.monotonic() + self.lifetime
        handled = 0
        while not self._stop.is_set() and handled < self.max_requests and time.monotonic() < deadline:
            self._server.handle_request()  # one request, or a 0.5 s timeout
            handled = sum(self._server.requests.values())
        self._server.stopping.set()
        self._server.server_close()

    def start(self) -> "FileServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.stopping.set()  # ends a trickle in progress
        self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> "FileServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
