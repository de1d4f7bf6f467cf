"""The service holds load and has limits: layers kept per version, hosts, sizes, read
times, heavy requests, stations without crews; on TestClient and on a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from liveserver import (
    Server,
    start_server,
    stop_server,
)

import gridgeo
from api.limits import HEADER_BUFFER_BYTES, LimitsMiddleware, host_allowed, is_heavy
from api.settings import Settings

# --------------------------------------------------------------------------- #
# layers read once per version


def _count_reads(client: TestClient) -> dict[str, int]:
    """Wrap the app's store so that every ``read`` of a layer is counted."""
    store = client.app.state.store  # type: ignore[attr-defined]
    counts: dict[str, int] = {}
    original = store.read

    def read(layer: str, **kw: Any) -> Any:
        counts[layer] = counts.get(layer, 0) + 1
        return original(layer, **kw)

    store.read = read
    return counts


def _some_customer(path: Path) -> str:
    return str(gridgeo.GeoPackageStore.open(path).read("customers")["customer_id"].iloc[7])


def test_customer_dispatch_kpis_grids_read_each_layer_once(
    writable: Path, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(writable)
    counts = _count_reads(client)
    customer = _some_customer(writable)
    for _ in range(5):
        assert client.get(f"/customers/{customer}").status_code == 200
        assert client.get("/dispatch", params={"customer_id": customer}).status_code == 200
        assert client.get("/kpis").status_code == 200
        assert client.get("/grids").status_code == 200
    # 20 requests: each layer read once (kpis and the grid counts read on their own, once)
    assert counts.get("customers", 0) <= 3, counts
    assert counts.get("repair_stations", 0) == 1, counts
    assert counts.get("county", 0) == 1, counts
    assert counts.get("customer_access", 0) <= 2, counts


def test_a_save_by_another_process_is_seen_on_the_next_request(
    writable: Path, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(writable)
    counts = _count_reads(client)
    grids = gridgeo.GeoPackageStore.open(writable).read("grids")
    grid_id = str(grids["grid_id"].iloc[0])
    before = client.get(f"/grids/{grid_id}").json()["properties"]["name"]
    assert client.get(f"/grids/{grid_id}").json()["properties"]["name"] == before
    reads_before = counts.get("grids", 0)
    script = textwrap.dedent(
        f"""
        import gridgeo
        store = gridgeo.GeoPackageStore.open({str(writable)!r})
        grids = store.read("grids")
        grids.loc[grids["grid_id"].astype(str) == {grid_id!r}, "name"] = "改名网格"
        version = store.current_version("grids")
        store.save("grids", grids.drop(columns="version"), expected_version=version,
                   author="test", reason="rename from another process")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    after = client.get(f"/grids/{grid_id}").json()["properties"]["name"]
    assert after == "改名网格" != before
    assert counts.get("grids", 0) > reads_before  # read again after the save, not before


def test_cache_disabled_reads_every_time(
    writable: Path, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(writable)
    client.app.state.cache.enabled = False  # type: ignore[attr-defined]
    counts = _count_reads(client)
    customer = _some_customer(writable)
    for _ in range(3):
        assert client.get(f"/customers/{customer}").status_code == 200
    assert counts["customers"] == 3


def test_stations_without_crews_are_not_dispatched(
    writable: Path, make_client: Callable[..., TestClient]
) -> None:
    store = gridgeo.GeoPackageStore.open(writable)
    stations = store.read("repair_stations")
    stations["crews"] = 0
    store.save(
        "repair_stations",
        stations.drop(columns="version"),
        expected_version=store.current_version("repair_stations"),
        author="test",
        reason="every crew off duty",
    )
    client = make_client(writable)
    customer = _some_customer(writable)
    response = client.get("/dispatch", params={"customer_id": customer})
    if response.status_code == 200:
        body = response.json()
        assert body["station_id"] is None
        assert body["within_limit"] is False
        assert body["reason"] == "no_station_available"
    else:
        assert response.status_code in (400, 409), response.text


# --------------------------------------------------------------------------- #
# limits on the app (TestClient)


@pytest.fixture
def limited(workspace: Path, make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(workspace)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert settings.max_body_bytes == 10 * 1024 * 1024
    return client


def test_host_not_allowed_is_400(limited: TestClient) -> None:
    response = limited.get("/health", headers={"Host": "evil.example.com"})
    assert response.status_code == 400
    assert "GRIDGEO_ALLOWED_HOSTS" in response.json()["detail"]
    assert limited.get("/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert limited.get("/health", headers={"Host": "localhost"}).status_code == 200


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("grid.example.cn", ("*.example.cn",), True),
        ("example.cn", ("*.example.cn",), False),
        ("evil-example.cn", ("*.example.cn",), False),
        ("[::1]:8000", ("::1",), True),
        ("10.0.0.5:80", ("10.0.0.5",), True),
        ("10.0.0.6", ("10.0.0.5",), False),
        ("anything", ("*",), True),
        ("", ("localhost",), False),
    ],
)
def test_host_patterns(host: str, patterns: tuple[str, ...], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


def test_long_query_is_414_without_echo(limited: TestClient) -> None:
    marker = "Q" * 9000
    response = limited.get("/grids", params={"tier": marker})
    assert response.status_code == 414
    assert "GRIDGEO_MAX_QUERY_BYTES" in response.json()["detail"]
    assert "QQQQ" not in response.text


def test_declared_large_body_is_413(limited: TestClient) -> None:
    response = limited.post(
        "/grids/preview",
        content=b"{}",
        headers={"Content-Length": str(11 * 1024 * 1024), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "GRIDGEO_MAX_BODY_BYTES" in response.json()["detail"]


def test_chunked_large_body_is_413(limited: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b" " * (1024 * 1024)

    response = limited.post(
        "/grids/preview", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_heavy_routes() -> None:
    assert is_heavy("POST", "/grids/save")
    assert is_heavy("GET", "/plan/sites")
    assert not is_heavy("POST", "/auth/login")
    assert not is_heavy("GET", "/dispatch")
    assert not is_heavy("GET", "/customers/1")


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    path = tmp_path / "w.gpkg"
    path.touch()
    return Settings(workspace=path, **kw)


def _scope(method: str = "POST", path: str = "/grids/save") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
    }


def test_heavy_requests_over_the_limit_get_503_at_once(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = LimitsMiddleware(slow_app, settings=_settings(tmp_path, max_heavy=2))

    async def call(method: str = "POST", path: str = "/grids/save") -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await middleware(_scope(method, path), receive, send)
        return sent

    async def run() -> None:
        first = [asyncio.create_task(call()) for _ in range(2)]
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        third = await asyncio.wait_for(call(), timeout=1.0)  # never waits for the two
        assert time.monotonic() - t0 < 0.5
        assert third[0]["status"] == 503
        assert (b"retry-after", b"5") in third[0]["headers"]
        light = asyncio.create_task(call("GET", "/dispatch"))  # a look-up is not held back
        release.set()
        done = await asyncio.gather(*first, light)
        assert [d[0]["status"] for d in done] == [200, 200, 200]
        assert middleware.heavy_running == 0
        assert (await call())[0]["status"] == 200  # free again

    asyncio.run(run())


def test_body_that_never_comes_is_408(tmp_path: Path) -> None:
    async def reading_app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "http.disconnect"  # the middleware gave up for us
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    middleware = LimitsMiddleware(reading_app, settings=_settings(tmp_path, body_timeout_s=0.3))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(60)
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    t0 = time.monotonic()
    asyncio.run(middleware(_scope(), receive, send))
    assert 0.25 < time.monotonic() - t0 < 2.0
    assert sent[0]["status"] == 408
    assert b"GRIDGEO_BODY_TIMEOUT_S" in sent[1]["body"]
    assert len(sent) == 2  # the app's late answer is dropped


# --------------------------------------------------------------------------- #
# on a real uvicorn with the limits' options (python -m api.limits)

LIVE_TIMEOUTS = {"GRIDGEO_HEADER_TIMEOUT_S": "2", "GRIDGEO_BODY_TIMEOUT_S": "2"}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def live(
    request: pytest.FixtureRequest, workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service with its limits on each of uvicorn's HTTP protocols (both carry the
    header timeout: api.limits.HttpToolsProtocol, the default, and H11Protocol)."""
    log = tmp_path_factory.mktemp("limits") / "uvicorn.log"
    server = start_server(workspace, log, env=LIVE_TIMEOUTS, limits=True, http=request.param)
    yield server
    stop_server(server.process)


def _connect(server: Server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_all(sock: socket.socket, deadline_s: float) -> bytes:
    """What the server sends until it closes the connection (or ``deadline_s`` passes)."""
    sock.settimeout(0.2)
    data = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_live_half_open_header_gets_408_in_time(live: Server) -> None:
    with _connect(live) as sock:
        t0 = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        data = _read_all(sock, deadline_s=6)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"GRIDGEO_HEADER_TIMEOUT_S" in data
    assert 1.5 < took < 4.0  # the configured 2 s, not forever


def test_live_idle_connections_are_closed(live: Server) -> None:
    socks = [_connect(live) for _ in range(20)]
    t0 = time.monotonic()
    for sock in socks:
        assert _read_all(sock, deadline_s=8) == b""  # closed without a word
        sock.close()
    assert time.monotonic() - t0 < 8.5


def test_live_body_at_one_byte_a_second_gets_408_in_time(live: Server) -> None:
    with _connect(live) as sock:
        t0 = time.monotonic()
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        data = b""
        sock.settimeout(0.05)
        while time.monotonic() - t0 < 8 and not data:
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            data = _read_all(sock, deadline_s=1.0)
        data += _read_all(sock, deadline_s=1.0)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408"), data[:300]
    assert b"GRIDGEO_BODY_TIMEOUT_S" in data
    assert took < 4.5


def test_live_200_mb_body_is_refused_unread(live: Server) -> None:
    rss_before = _rss_kib(live.process.pid)
    size = 200 * 1024 * 1024
    sent = 0
    with _connect(live) as sock:
        sock.sendall(
            b"POST /grids/preview HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + f"Content-Length: {size}\r\n\r\n".encode()
        )
        chunk = b"x" * (1024 * 1024)
        sock.settimeout(2.0)
        try:
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        data = _read_all(sock, deadline_s=3)
    assert data.startswith(b"HTTP/1.1 413"), data[:300]
    assert sent < 50 * 1024 * 1024  # the server stopped reading long before 200 MB
    rss_after = _rss_kib(live.process.pid)
    assert rss_after - rss_before < 30 * 1024, (rss_before, rss_after)  # KiB: flat


def test_live_200_kb_query_is_414_json_without_echo(live: Server) -> None:
    query = "q=" + "A" * (200 * 1024)  # too long for httpx: sent by hand
    with _connect(live) as sock:
        t0 = time.monotonic()
        sock.sendall(f"GET /grids?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = _read_all(sock, deadline_s=5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414"), data[:300]
    assert b"content-type: application/json" in head.lower()
    assert "GRIDGEO_MAX_QUERY_BYTES" in json.loads(body)["detail"]
    assert b"AAAA" not in data
    assert time.monotonic() - t0 < 5


def test_live_headers_over_the_buffer_are_refused(live: Server) -> None:
    """Headers past the 1 MiB buffer are refused, not read on (431 by httptools, 400 by
    h11), and the connection closed; the server's memory stays flat."""
    rss_before = _rss_kib(live.process.pid)
    with _connect(live) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.settimeout(2.0)
        sent = 0
        try:
            while sent < 32 * HEADER_BUFFER_BYTES:
                sock.sendall(b"X-Filler: " + b"y" * 4000 + b"\r\n")
                sent += 4012
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        data = _read_all(sock, deadline_s=3)
    assert data.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), data[:300]
    assert sent < 16 * HEADER_BUFFER_BYTES  # the server stopped reading soon after the cap
    assert _rss_kib(live.process.pid) - rss_before < 30 * 1024  # KiB


def test_live_service_still_answers(live: Server, role_users: dict[str, Any]) -> None:
    headers = role_users["admin"].headers
    response = httpx.get(f"{live.url}/kpis", headers=headers, timeout=30)
    assert response.status_code == 200
    assert httpx.get(f"{live.url}/health", headers={"Host": "evil.test"}).status_code == 400
