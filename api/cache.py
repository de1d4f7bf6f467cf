"""The workspace's layers kept in memory, read once per version.

Every save, restore or new layer writes a row of the workspace's ``gridgeo_versions``
table, whose ``fid`` only grows. :class:`WorkspaceCache` keeps one read-only SQLite
connection and asks it for ``max(fid)`` before each use (a primary-key look-up: about
10 µs, measured by ``benchmarks/bench_service.py``); when the number changed -- a save
by this worker, another worker or the CLI -- every kept layer and every value derived
from them is dropped and read again on first use. ``PRAGMA data_version`` would be as
cheap but also moves on every login and audit row, which would empty the cache on
every write of the users' tables.

Frames handed out are shared between requests: callers must not change them (gridgeo
functions never mutate their inputs; routers filter with ``.loc``/``.iloc``, which copy).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import geopandas as gpd

import gridgeo

logger = logging.getLogger(__name__)

T = TypeVar("T")
MISSING: Any = object()  # what :meth:`WorkspaceCache.peek` returns for a value not kept

VERSIONS_TABLE = "gridgeo_versions"
_STAMP_SQL = f'SELECT coalesce(max(fid), 0) FROM "{VERSIONS_TABLE}"'


class WorkspaceCache:
    """Layers and derived values of one workspace, kept until a new version is saved.

    Parameters
    ----------
    store
        The workspace.
    enabled
        ``False`` reads the workspace on every call (``GRIDGEO_CACHE_LAYERS=false``):
        the per-request cost of a service without the cache, for benchmarks.
    """

    def __init__(self, store: gridgeo.GeoPackageStore, *, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._stamp: int | None = None
        self._values: dict[Hashable, Any] = {}
        self._building: dict[Hashable, threading.Lock] = {}

    def stamp(self) -> int:
        """The workspace's newest version row (``max(fid)`` of ``gridgeo_versions``)."""
        with self._lock:
            if self._con is None:
                uri = f"{self.store.path.resolve().as_uri()}?mode=ro"
                self._con = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
            return int(self._con.execute(_STAMP_SQL).fetchone()[0])

    def _current(self) -> int:
        """Check the stamp; drop everything kept when a new version was saved since."""
        stamp = self.stamp()
        with self._lock:
            if stamp != self._stamp:
                if self._stamp is not None:
                    logger.info("workspace changed (version row %s -> %s)", self._stamp, stamp)
                self._values.clear()
                self._stamp = stamp
        return stamp

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value of ``key`` for the workspace's current versions, built once by ``build``.

        Concurrent first requests for one key wait for a single build.
        """
        if not self.enabled:
            return build()
        stamp = self._current()
        with self._lock:
            if key in self._values:
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._values and self._stamp == stamp:
                    return self._values[key]
            value = build()
            with self._lock:
                if self._stamp == stamp:  # not kept if a save landed meanwhile
                    self._values[key] = value
            return value

    def remember(self, group: str, key: Hashable, build: Callable[[], T], *, max_entries: int) -> T:
        """The value of ``key`` in ``group`` for the current versions, built by ``build``;
        the group keeps its ``max_entries`` most recently used values (answers that depend
        on the request, such as a customer's dispatch)."""
        if not self.enabled:
            return build()
        kept: OrderedDict[Hashable, Any] = self.get(("remember", group), OrderedDict)
        with self._lock:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        value = build()
        with self._lock:
            kept[key] = value
            while len(kept) > max_entries:
                kept.popitem(last=False)
        return value

    def peek(self, group: str, key: Hashable) -> Any:
        """The value :meth:`remember` keeps for ``key`` in ``group`` for the current versions,
        or :data:`MISSING`; never builds anything, so it may run on the event loop (a
        ``max(fid)`` check and a dict look-up)."""
        if not self.enabled:
            return MISSING
        self._current()
        with self._lock:
            kept = self._values.get(("remember", group))
            if kept is None or key not in kept:
                return MISSING
            kept.move_to_end(key)
            return kept[key]

    def lookup(self, group: str, key: Hashable) -> tuple[int | None, Any]:
        """``(stamp, value)``: the current versions' stamp and the value kept for ``key`` in
        ``group`` (:data:`MISSING` if none); pass the stamp to :meth:`keep`."""
        if not self.enabled:
            return None, MISSING
        stamp = self._current()
        with self._lock:
            kept = self._values.get(("remember", group))
            if kept is None or key not in kept:
                return stamp, MISSING
            kept.move_to_end(key)
            return stamp, kept[key]

    def keep(
        self, group: str, key: Hashable, value: Any, stamp: int | None, *, max_entries: int
    ) -> None:
        """Keep ``value`` for ``key`` in ``group`` if the versions are still those of
        ``stamp`` (from :meth:`lookup`): an answer computed while a save landed is dropped."""
        if stamp is None:
            return
        with self._lock:
            if self._stamp != stamp:
                return
            kept = self._values.setdefault(("remember", group), OrderedDict())
            kept[key] = value
            kept.move_to_end(key)
            while len(kept) > max_entries:
                kept.popitem(last=False)

    def read(self, layer: str) -> gpd.GeoDataFrame:
        """The current version of ``layer`` (as :meth:`gridgeo.GeoPackageStore.read`)."""
        return self.get(("layer", layer), lambda: self.store.read(layer))

    def layers(self) -> dict[str, str]:
        """The workspace's versioned layers (as :meth:`gridgeo.GeoPackageStore.layers`)."""
        return self.get("layers", self.store.layers)

    def close(self) -> None:
        """Close the kept connection (it is opened again on the next use)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


# --------------------------------------------------------------------------- kept answers
# GET routes whose answer depends only on the request (path and query), the workspace's
# versioned layers, whether the role may see personal data and, for grid roles, the user's
# grids: a 200 answer is kept per workspace version and sent again as it was, before
# FastAPI's routing, validation and dependencies run (api.security.SecurityMiddleware calls
# answer_kept after the login and role checks, which every request still passes).
KEPT_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/dispatch"),
        ("GET", "/customers/{customer_id}"),
        ("GET", "/kpis"),
    }
)
KEPT_ANSWERS = 8192  # answers kept per workspace version
_ANSWERS_GROUP = "answers"


async def answer_kept(
    app: Callable[..., Any], scope: Any, receive: Any, send: Any, *, view: Hashable
) -> None:
    """Send the kept answer of this request, or let ``app`` answer and keep a 200.

    ``view`` is what else the answer depends on (whether personal data is shown, a grid
    role's grids). Only ``GET`` answers with status 200 and no ``set-cookie`` are kept.
    """
    cache: WorkspaceCache = scope["app"].state.cache
    key = (scope["path"], scope.get("query_string", b""), view)
    stamp, kept = cache.lookup(_ANSWERS_GROUP, key)
    if kept is not MISSING:
        kept_start, kept_body = kept
        await send(kept_start)
        await send({"type": "http.response.body", "body": kept_body, "more_body": False})
        return
    if scope["method"] != "GET" or stamp is None:
        await app(scope, receive, send)
        return
    parts: list[bytes] = []
    start: dict[str, Any] | None = None

    async def keeping_send(message: Any) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            if message["status"] == 200 and not any(k == b"set-cookie" for k, _ in headers):
                start = dict(message)
        elif message["type"] == "http.response.body" and start is not None:
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                cache.keep(
                    _ANSWERS_GROUP, key, (start, b"".join(parts)), stamp, max_entries=KEPT_ANSWERS
                )
        await send(message)

    await app(scope, receive, keeping_send)
