"""The floor of ``bench_service.py``: a bare ASGI app answering every request with fixed bytes.

Served by the same uvicorn, protocol and loop as the service (``python -m uvicorn
benchmarks.floor_app:app --http httptools``), it measures what the server stack and the
load client reach on this machine with no application work at all. ``FLOOR_BODY_BYTES`` sets
the body size (default 2,000 bytes, about a dispatch answer).
"""

from __future__ import annotations

import os
from typing import Any

_BODY = b"{" + b'"x":' + b'"' + b"a" * max(int(os.environ.get("FLOOR_BODY_BYTES", "2000")) - 8, 0)
_BODY += b'"}'
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))],
}
_END = {"type": "http.response.body", "body": _BODY, "more_body": False}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer ``_BODY`` to every HTTP request (lifespan events are acknowledged)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(_START)
    await send(_END)
