"""Headless Chromium driven over the DevTools protocol on a pipe, for checking the HTML viewers.

No websocket client, no driver binary: Chromium started with `--remote-debugging-pipe` reads
JSON commands on its fd 3 and writes replies and events on fd 4, each message ended by a NUL byte.
The viewer's browser test, the viewer benchmark and the screenshot script use it to open a page
(file:// included), collect console errors and uncaught exceptions, run JavaScript, move the
mouse and take screenshots. Linux/macOS only (the pipe is passed as fds 3 and 4).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# Headless flags that work on a machine with no GPU and no network: WebGL2 runs on SwiftShader
# (Chromium's CPU implementation), which recent Chromium enables only when asked to.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
    "--mute-audio",
]
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium is missing, died, or a DevTools command failed or timed out."""


def find_chromium() -> str | None:
    """The first Chromium or Chrome on PATH, or None."""
    return next((path for path in map(shutil.which, NAMES) if path), None)


class Chromium:
    """One headless browser with one page. Use as a context manager."""

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 800, timeout: float = 60.0):
        executable = executable or find_chromium()
        if not executable:
            raise BrowserError("no chromium on PATH (Debian: apt-get install chromium)")
        self.timeout = timeout
        self.errors: list[str] = []  # console errors and uncaught exceptions of the page
        self._events: list[dict] = []
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self._target: str | None = None
        self._profile = tempfile.mkdtemp(prefix="patch2loc-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def give_pipes():  # in the child: our pipe ends become its fds 3 (commands) and 4 (replies)
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=give_pipes,
        )  # close_fds=False: fds 3 and 4 must survive exec
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.size = (width, height)

    # ------------------------------------------------------------------ protocol
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("timed out waiting for chromium")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self._proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(
        self, method: str, params: dict | None = None, *, browser: bool = False, timeout: float | None = None
    ) -> dict:
        """One DevTools command to the page (or to the browser); its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session and not browser:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._on_event(reply)

    def _on_event(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        self._events.append(event)

    # ------------------------------------------------------------------ page
    def open(self, url: str | Path, timeout: float | None = None) -> None:
        """Open `url` (a path becomes a file:// URL) in a fresh page and wait for its load event."""
        url = Path(url).resolve().as_uri() if isinstance(url, Path) else url
        if self._target:  # one page at a time
            self.send("Target.closeTarget", {"targetId": self._target}, browser=True)
        target = self._target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")
        width, height = self.size
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self._events.clear()
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + (timeout or self.timeout)
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._on_event(self._read_message(deadline))

    def evaluate(self, expression: str, timeout: float | None = None):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, timeout=timeout
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float | None = None):
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise BrowserError(f"timed out waiting for {expression!r}; page errors: {self.errors}")

    def screenshot(self) -> bytes:
        """PNG of the page as displayed."""
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def click(self, x: float, y: float) -> None:
        """A left click at page pixel (x, y)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self.send("Browser.close", browser=True, timeout=5)
            except (BrowserError, OSError):
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
