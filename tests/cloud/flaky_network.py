"""A misbehaving network in front of the real server: an HTTP proxy on 127.0.0.1 that answers
500 or 429, drops the connection before forwarding, or forwards and then drops the answer (the
server applied the request but the client never hears it) — the cases sync retries must
survive —, or answers as a captive portal does (an HTML page with 200, a redirect). It can
also hold one sync batch in flight (`hold_batch`) so a test knows when to kill a client.
Everything else is passed to the real server untouched."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from fieldtech.server.embedded import free_port


class FlakyProxy:
    def __init__(self, upstream: str, faults: list[str],
                 retry_after: str | Callable[[], str] = "0"):
        self.upstream = upstream
        self.retry_after = retry_after  # what a "429" says; a callable for an HTTP date
        self.arrived: list[float] = []  # time.monotonic() of each request
        # one per request, in order: "500" "429" "drop" "lost" "html" "json" "redirect" "ok"
        self.faults = list(faults)
        self.seen: list[str] = []
        self.paths: list[str] = []  # each request's path, in order
        self._lock = threading.Lock()
        self._hold: tuple[int, str] | None = None  # (which batch from now, how)
        self._batches = 0
        self.reached = threading.Event()  # the held batch is there (held, or answered)
        self._released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.arrived.append(time.monotonic())
                    fault = proxy.faults.pop(0) if proxy.faults else "ok"
                    proxy.seen.append(fault)
                    proxy.paths.append(self.path)
                    hold = None
                    if (self.command, self.path) == ("POST", "/v1/sync/batch") and proxy._hold:
                        proxy._batches += 1
                        if proxy._batches == proxy._hold[0]:
                            hold = proxy._hold[1]
                if hold == "unsent":  # in flight, not at the server yet: it never gets there
                    proxy.reached.set()
                    proxy._released.wait(30)
                    self._drop()
                    return
                if fault == "drop":
                    self._drop()
                    return
                if fault == "html":
                    self._answer(200, "text/html; charset=utf-8",
                                 b"<html><body><h1>Welcome to Cafe Wi-Fi</h1>Accept the terms "
                                 b"to continue.</body></html>")
                    return
                if fault == "json":  # JSON, but not the cloud's: e.g. another service
                    self._answer(200, "application/json", b'{"status": "ok", "items": 3}')
                    return
                if fault == "redirect":
                    self._answer(302, "text/html", b"", Location="http://portal.example/login")
                    return
                if fault in ("500", "429"):
                    payload = b'{"type":"about:blank","title":"trouble","status":%s}' % (
                        fault.encode())
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Content-Length", str(len(payload)))
                    if fault == "429":
                        wait = proxy.retry_after
                        self.send_header("Retry-After", wait() if callable(wait) else wait)
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                r = httpx.request(self.command, proxy.upstream + self.path, content=body,
                                  headers=headers)
                if hold == "applied":  # applied upstream, the answer held back, then dropped
                    proxy.reached.set()
                    proxy._released.wait(30)
                    self._drop()
                    return
                if fault == "lost":  # applied upstream, the answer never arrives
                    self._drop()
                    return
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)
                self.wfile.flush()
                if hold == "answered":
                    proxy.reached.set()

            def _answer(self, status: int, kind: str, payload: bytes, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may be gone (killed) already
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def hold_batch(self, nth: int, how: str) -> None:
        """Catch the nth POST /v1/sync/batch from now and set `reached` when it is in flight:
        "unsent" holds it before it reaches the server, "applied" lets the server apply it and
        holds the answer back, "answered" only marks that its answer went out. A held batch
        is dropped on `release()`."""
        self.release()
        with self._lock:
            self._hold, self._batches = (nth, how), 0
            self.reached.clear()
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
