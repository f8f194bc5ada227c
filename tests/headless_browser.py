"""Open a local HTML file in headless Chromium and report what a user's browser would see.

The system's Chromium (or Chrome) is started with `--remote-debugging-port=0` on 127.0.0.1 and
driven over the DevTools protocol (websocket-client): the page is loaded, and every console
message, uncaught exception, browser log entry and network request is collected, then
JavaScript evaluated in the page answers questions about its DOM. No browser is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 60.0


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageVisit:
    console: list[dict] = field(default_factory=list)      # Runtime.consoleAPICalled
    exceptions: list[dict] = field(default_factory=list)   # Runtime.exceptionThrown
    log: list[dict] = field(default_factory=list)          # Log.entryAdded
    requests: list[str] = field(default_factory=list)      # every URL the page asked for
    evaluated: object = None

    def errors(self) -> list[str]:
        """Console errors and warnings, exceptions and error log entries, one line each."""
        found = [f"console.{c['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                      for a in c.get("args", []))
                 for c in self.console if c.get("type") in ("error", "warning", "assert")]
        found += ["exception: " + e["exceptionDetails"].get("text", "") + " " +
                  str(e["exceptionDetails"].get("exception", {}).get("description", ""))
                  for e in self.exceptions]
        found += [f"log {e['entry']['level']}: {e['entry'].get('text')} {e['entry'].get('url')}"
                  for e in self.log if e["entry"]["level"] in ("error", "warning")]
        return found


class Browser:
    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="tfrconv-browser-")
        self.process = subprocess.Popen(
            [executable, "--headless=new", "--disable-gpu", "--no-sandbox",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = self._port()

    def _port(self) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the browser exited with status {self.process.returncode}")
            if marker.exists():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError("the browser did not open its DevTools port in time")

    def page_socket(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                    timeout=10) as response:
            targets = json.load(response)
        pages = [t for t in targets if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"]

    def visit(self, path: str | os.PathLike, expression: str) -> PageVisit:
        """Load a file, collect what happened, then evaluate `expression` (its JSON value)."""
        import websocket

        visit = PageVisit()
        socket = websocket.create_connection(self.page_socket(), timeout=LOAD_TIMEOUT,
                                             suppress_origin=True)
        try:
            session = _Session(socket, visit)
            for method in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
                session.call(method)
            session.call("Page.navigate", url=Path(path).resolve().as_uri())
            session.wait_for("Page.loadEventFired")
            result = session.call("Runtime.evaluate", expression=expression,
                                  returnByValue=True)
            if "exceptionDetails" in result:
                raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
            visit.evaluated = result["result"].get("value")
        finally:
            socket.close()
        return visit

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class _Session:
    """Numbered calls over one page websocket; events are sorted into the visit as they come."""

    def __init__(self, socket, visit: PageVisit) -> None:
        self.socket = socket
        self.visit = visit
        self.next_id = 0
        self.seen: set[str] = set()

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + LOAD_TIMEOUT
        while event not in self.seen:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {event} within {LOAD_TIMEOUT} s")
            self._receive()

    def _receive(self) -> dict:
        message = json.loads(self.socket.recv())
        method = message.get("method")
        if method:
            self.seen.add(method)
            params = message.get("params", {})
            if method == "Runtime.consoleAPICalled":
                self.visit.console.append(params)
            elif method == "Runtime.exceptionThrown":
                self.visit.exceptions.append(params)
            elif method == "Log.entryAdded":
                self.visit.log.append(params)
            elif method == "Network.requestWillBeSent":
                self.visit.requests.append(params["request"]["url"])
        return message
