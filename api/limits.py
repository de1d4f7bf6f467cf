"""Limits that keep the service answering: hosts, sizes, read times, heavy work.

:class:`LimitsMiddleware` (the outermost of the app's middleware) answers, before any
other work and without echoing the request back:

- a ``Host`` not in ``GRIDGEO_ALLOWED_HOSTS``: 400;
- a query string longer than ``GRIDGEO_MAX_QUERY_BYTES``: 414;
- a body longer than ``GRIDGEO_MAX_BODY_BYTES``: 413, from ``Content-Length`` without
  reading the body, or as soon as a chunked body passes the limit;
- a body not received within ``GRIDGEO_BODY_TIMEOUT_S``: 408 and the connection closed;
- more than ``GRIDGEO_MAX_HEAVY`` heavy requests at once in this worker (writes,
  previews, siting, reports): 503 with ``Retry-After``, never a queue that hangs.

A client that never finishes its headers is below the app: uvicorn 0.54 has no header
timeout (``timeout_keep_alive`` only runs between requests), so :class:`HttpToolsProtocol`
(the default: uvicorn's C parser) and :class:`H11Protocol` add one
(``GRIDGEO_HEADER_TIMEOUT_S``: 408 and the connection closed). Serve the app with
:func:`uvicorn_options` (``python -m api.limits``, or ``uvicorn.run(...,
**uvicorn_options())``) to get it, a 1 MiB header buffer (so a long query is answered 414
rather than reset; 431 beyond it) and uvicorn's own connection limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

import h11
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol as _UvicornH11Protocol
from uvicorn.protocols.http.httptools_impl import (
    HttpToolsProtocol as _UvicornHttpToolsProtocol,
)

from api.settings import (
    DEFAULT_HEADER_TIMEOUT_S,
    Settings,
)

HEADER_BUFFER_BYTES = 1024 * 1024
MAX_URL_BYTES = 65_000  # under httptools' own URL limit of 65,535 bytes
KEEP_ALIVE_S = 5
LIMIT_CONCURRENCY = 1000
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# GET routes whose work takes seconds, not milliseconds (the rest are look-ups)
HEAVY_GET_PREFIXES = ("/plan/", "/reports/", "/figures", "/stars", "/watch", "/grids/validate")
# writes that are quick and must not wait behind heavy work (logging in, out)
LIGHT_WRITE_PREFIXES = ("/auth/",)


class _BodyTooLarge(Exception):
    pass


def _json(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps({"error": error, "detail": detail}, ensure_ascii=False).encode()
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, head, body


async def _answer(send: Send, answer: Any) -> None:
    status, head, body = answer
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether a ``Host`` header (port and all) names one of ``patterns``."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8000
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def is_heavy(method: str, path: str) -> bool:
    """Whether a request counts against ``GRIDGEO_MAX_HEAVY``."""
    if method in UNSAFE_METHODS:
        return not path.startswith(LIGHT_WRITE_PREFIXES)
    return path.startswith(HEAVY_GET_PREFIXES)


class LimitsMiddleware:
    """The limits of the module docstring, from the app's settings
    (``app.add_middleware(LimitsMiddleware, settings=settings)``, added last)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = settings.host_patterns()
        self.heavy_running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        headers = Headers(scope=scope)
        if not host_allowed(headers.get("host", ""), self.hosts):
            await _answer(
                send,
                _json(
                    400,
                    "HostNotAllowed",
                    "主机名不在允许列表 / host not allowed: open the service by one of the names "
                    "in GRIDGEO_ALLOWED_HOSTS, or add this one there.",
                ),
            )
            return
        if len(scope.get("query_string", b"")) > settings.max_query_bytes:
            await _answer(
                send,
                _json(
                    414,
                    "QueryTooLong",
                    f"查询串过长 / query string longer than {settings.max_query_bytes} bytes "
                    "(GRIDGEO_MAX_QUERY_BYTES): send fewer or shorter parameters.",
                ),
            )
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            await _answer(send, self._too_large(close=True))
            return
        heavy = is_heavy(scope["method"], scope["path"])
        if heavy and self.heavy_running >= settings.max_heavy:
            retry = str(settings.retry_after_s)
            await _answer(
                send,
                _json(
                    503,
                    "Busy",
                    f"服务繁忙 / busy: {settings.max_heavy} heavy requests are running "
                    f"(GRIDGEO_MAX_HEAVY); try again in {retry} s.",
                    {"retry-after": retry},
                ),
            )
            return
        if heavy:
            self.heavy_running += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            if heavy:
                self.heavy_running -= 1

    def _too_large(self, *, close: bool) -> Any:
        return _json(
            413,
            "BodyTooLarge",
            f"请求体过大 / request body larger than {self.settings.max_body_bytes} bytes "
            "(GRIDGEO_MAX_BODY_BYTES): send less, e.g. split an import into several files.",
            {"connection": "close"} if close else None,
        )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a receive that times out and counts the body."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.body_timeout_s
        state = {"started": False, "answered": False, "received": 0, "done": False}

        async def guarded_send(message: Message) -> None:
            if state["answered"]:  # we answered for the app already: drop its answer
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        async def refuse(answer: Any) -> Message:
            if not state["started"]:
                state["answered"] = True
                await _answer(send, answer)
            return {"type": "http.disconnect"}

        async def guarded_receive() -> Message:
            if state["done"] or state["answered"]:
                return await receive()
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(remaining, 0.0))
            except TimeoutError:
                return await refuse(
                    _json(
                        408,
                        "RequestTimeout",
                        f"请求体接收超时 / the request body did not arrive within "
                        f"{settings.body_timeout_s:g} s (GRIDGEO_BODY_TIMEOUT_S): send it "
                        "again on a faster connection.",
                        {"connection": "close"},
                    )
                )
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > settings.max_body_bytes:
                    return await refuse(self._too_large(close=True))
                if not message.get("more_body", False):
                    state["done"] = True
            return message

        await self.app(scope, guarded_receive, guarded_send)


class _HeaderTimer:
    """The header timeout both protocols share: a timer armed when a connection opens and
    after each response, cancelled when it closes; a subclass says what a timeout does
    (``_on_header_timeout``)."""

    header_timeout_s: float | None = None  # None: GRIDGEO_HEADER_TIMEOUT_S or the default
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = _header_timeout_s(self.header_timeout_s)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0  # bytes of the current request's head (httptools caps them)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self._header_timeout, self._on_header_timeout)
        self._header_bytes = 0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm_header_timer()

    def _on_header_timeout(self) -> None:
        raise NotImplementedError


class H11Protocol(_HeaderTimer, _UvicornH11Protocol):
    """uvicorn's h11 protocol with a header timeout: a connection whose request headers are
    not complete ``header_timeout_s`` after its first byte (or after the previous
    response) gets 408 and is closed."""

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.conn.their_state is not h11.IDLE:  # headers in: the body has its own timeout
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why it is cut off
            self.transport.write(_timeout_answer(self._header_timeout))
        self.transport.close()


def _header_timeout_s(configured: float | None) -> float:
    if configured is not None:
        return configured
    return float(os.environ.get("GRIDGEO_HEADER_TIMEOUT_S", DEFAULT_HEADER_TIMEOUT_S))


def _timeout_answer(timeout_s: float) -> bytes:
    """The bytes of a 408 for headers that did not arrive in time."""
    _status, head, body = _json(
        408,
        "RequestTimeout",
        f"请求头接收超时 / the request headers did not arrive within "
        f"{timeout_s:g} s (GRIDGEO_HEADER_TIMEOUT_S).",
        {"connection": "close"},
    )
    lines = [b"HTTP/1.1 408 Request Timeout"]
    lines += [k + b": " + v for k, v in head]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HttpToolsProtocol(_HeaderTimer, _UvicornHttpToolsProtocol):
    """uvicorn's httptools protocol (its C parser: the service's default, several times
    cheaper per request than h11) with the same header timeout as :class:`H11Protocol`, and
    headers capped at :data:`HEADER_BUFFER_BYTES` (431 and closed beyond). A long query
    reaches the app and gets 414 from :class:`LimitsMiddleware`; one past httptools' own
    URL limit (64 KiB), which uvicorn would answer with a plain-text 400, gets the same 414
    here and the connection is closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = False  # a request has begun and its headers are not all in
        self._url_too_long = False

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None:  # still reading a request's headers
            self._header_bytes += len(data)
            if self._header_bytes > HEADER_BUFFER_BYTES:
                self._header_timer.cancel()
                self._header_timer = None
                _status, head, body = _json(
                    431,
                    "RequestHeaderFieldsTooLarge",
                    f"请求头过大 / the request line and headers are over "
                    f"{HEADER_BUFFER_BYTES} bytes: send a shorter query.",
                    {"connection": "close"},
                )
                lines = [b"HTTP/1.1 431 Request Header Fields Too Large"]
                lines += [k + b": " + v for k, v in head]
                self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._url_too_long = True
            raise ValueError("url too long")  # stops the parser: send_400_response follows

    def send_400_response(self, msg: str) -> None:
        if not self._url_too_long:
            super().send_400_response(msg)
            return
        _status, head, body = _json(
            414,
            "QueryTooLong",
            f"查询串过长 / the request's URL is longer than {MAX_URL_BYTES} bytes "
            "(GRIDGEO_MAX_QUERY_BYTES is the limit for queries): send fewer or shorter "
            "parameters.",
            {"connection": "close"},
        )
        lines = [b"HTTP/1.1 414 URI Too Long"]
        lines += [k + b": " + v for k, v in head]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return
        if self._in_headers:  # part of a request came: say why it is cut off
            self.transport.write(_timeout_answer(self._header_timeout))
        self.transport.close()


def uvicorn_options(*, workers: int = 1, http: str = "httptools") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run("api.main:create_app", factory=True, ...)``.

    The httptools protocol with the header timeout and cap (:class:`HttpToolsProtocol`; the
    h11 one, :class:`H11Protocol`, with ``http="h11"``), a header buffer of
    :data:`HEADER_BUFFER_BYTES` (a long query reaches the app and gets 414 instead of a
    reset connection), uvloop where installed (uvicorn's ``loop="auto"``), idle keep-alive
    connections closed after :data:`KEEP_ALIVE_S` and at most :data:`LIMIT_CONCURRENCY`
    connections per worker (then 503).
    """
    return {
        "http": HttpToolsProtocol if http == "httptools" else H11Protocol,
        "h11_max_incomplete_event_size": HEADER_BUFFER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "workers": workers,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m api.limits --port 8000 [--host 127.0.0.1] [--workers 2]``: serve
    ``$GRIDGEO_WORKSPACE`` with the limits of :func:`uvicorn_options`."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m api.limits")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--http", choices=("httptools", "h11"), default="httptools")
    args = parser.parse_args(argv)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        **uvicorn_options(workers=args.workers, http=args.http),
    )


if __name__ == "__main__":
    main()
