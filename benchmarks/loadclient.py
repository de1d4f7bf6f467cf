"""A small HTTP/1.1 load client on raw asyncio streams, for ``bench_service.py``.

A Python HTTP client library (httpx, aiohttp) spends about a millisecond of CPU per request;
on a 2-core machine where the client shares the cores with the server that is most of what
the server has, and the bench would measure the client. This client writes each request as
bytes on a kept-alive connection and reads the answer by its ``Content-Length`` (or chunked
framing): tens of microseconds per request. It checks the status line and the framing, and
nothing else (the service's answers are checked by the tests, not here).

``run_load(host, port, paths, headers=..., seconds=..., concurrency=...)`` opens
``concurrency`` connections, each sending its next request when the last is answered, for
``seconds``; it returns latencies, statuses, timeouts and connection errors.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What one load run saw."""

    wall_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    timeouts: int = 0
    errors: int = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:  # no framing: the body runs to the end of the connection
        await reader.read()
        keep = False
    return status, keep


async def run_load(
    host: str,
    port: int,
    paths: list[str],
    *,
    headers: dict[str, str] | None = None,
    seconds: float,
    concurrency: int,
    timeout_s: float = 10.0,
    max_requests: int | None = None,
) -> LoadResult:
    """``concurrency`` connections sending ``GET`` requests for ``paths`` (in turn) for
    ``seconds`` (or until ``max_requests`` were sent); a request not answered within
    ``timeout_s`` counts as a timeout and its connection is opened again."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode("ascii") for p in paths
    ]
    out = LoadResult()
    end = time.perf_counter() + seconds
    budget = [max_requests if max_requests is not None else -1]

    async def connection(i: int) -> None:
        k = i
        reader = writer = None
        while time.perf_counter() < end and budget[0] != 0:
            if writer is None:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(host, port), timeout_s
                    )
                except (OSError, TimeoutError):
                    out.errors += 1
                    await asyncio.sleep(0.05)
                    continue
            assert reader is not None
            request = requests[k % len(requests)]
            k += concurrency
            budget[0] -= 1
            t0 = time.perf_counter()
            try:
                writer.write(request)
                status, keep = await asyncio.wait_for(_read_response(reader), timeout_s)
            except TimeoutError:
                out.timeouts += 1
                writer.close()
                writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                out.errors += 1
                writer.close()
                writer = None
                continue
            out.latencies_s.append(time.perf_counter() - t0)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if not keep:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(concurrency)))
    out.wall_s = time.perf_counter() - t0
    return out
