"""The store's version check and write are one transaction: two writers stepped through it.

``gridgeo.store._CHECK_HOOK`` (test-only) is called in the saving thread at the stages of a
save: ``before_lock`` (about to take the write lock), ``locked`` (holding it) and ``checked``
(the version check passed). A :class:`Stepper` installed as the hook pauses a named thread at
a stage until the test lets it go, so the interleavings are forced by events, not by sleeps:

- writer A has loaded version 1 and is about to take the lock; writer B saves version 2; A
  goes on and must be refused, and nothing of A is written (the file is byte-identical);
- writer A holds the lock with its check passed; writer B, based on the same version 1, must
  wait for the lock, get it only after A committed, and be refused.

If the version were read before the lock is taken (the check moved out of the transaction),
the late writer would pass its check and then collide with the other's version: both tests
fail then (tried by hand, see the report of issue 13).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import box

from gridgeo import store as st
from gridgeo.errors import ConflictError
from gridgeo.store import GeoPackageStore

WAIT_S = 30.0  # only a safety net against a hang: no step waits on time


def grids_v1() -> gpd.GeoDataFrame:
    """Two tier-3 grids by the county seat, by hand."""
    return gpd.GeoDataFrame(
        {
            "grid_id": ["NF-B", "NF-C"],
            "tier": [3, 3],
            "name": ["琴城一网格", "琴城二网格"],
            "manager": ["李娜", "王芳"],
        },
        geometry=[box(116.50, 27.20, 116.55, 27.30), box(116.55, 27.20, 116.60, 27.30)],
        crs="EPSG:4326",
    )


def edited(manager: str) -> gpd.GeoDataFrame:
    """Version 1 with grid NF-B given to ``manager``: each writer's edit is recognisable."""
    gdf = grids_v1()
    gdf.loc[gdf["grid_id"] == "NF-B", "manager"] = manager
    return gdf


def write(store: GeoPackageStore, how: str, manager: str) -> int:
    """Save the edit of ``manager`` based on version 1, by ``save`` or ``save_rows``."""
    gdf = edited(manager)
    if how == "save_rows":  # only the changed row, as the work orders are written
        gdf = gdf.loc[gdf["grid_id"] == "NF-B"]
    method = store.save if how == "save" else store.save_rows
    return method("grids", gdf, expected_version=1, author=f"writer {manager}", reason="edit")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_managers(path: Path) -> set[str]:
    """Every manager in the current rows and in the history of the grids layer."""
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            'SELECT manager FROM "grids" UNION SELECT manager FROM "grids_history"'
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


class Stepper:
    """The test hook: records ``(thread name, stage)`` and pauses the stages asked for."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._reached: dict[tuple[str, str], threading.Event] = {}
        self._go: dict[tuple[str, str], threading.Event] = {}
        self._on: dict[tuple[str, str], Callable[[], None]] = {}

    def pause(self, thread: str, stage: str) -> None:
        """Stop ``thread`` at ``stage`` until :meth:`release`."""
        self._go[thread, stage] = threading.Event()
        self.watch(thread, stage)

    def watch(self, thread: str, stage: str, action: Callable[[], None] | None = None) -> None:
        """Note when ``thread`` reaches ``stage`` (and run ``action`` there, in that thread)."""
        self._reached[thread, stage] = threading.Event()
        if action is not None:
            self._on[thread, stage] = action

    def wait(self, thread: str, stage: str) -> None:
        assert self._reached[thread, stage].wait(WAIT_S), f"{thread} never reached {stage}"

    def release(self, thread: str, stage: str) -> None:
        self.note("test", f"release {thread} at {stage}")
        self._go[thread, stage].set()

    def note(self, who: str, what: str) -> None:
        with self._lock:
            self.seen.append((who, what))

    def index(self, who: str, what: str) -> int:
        return self.seen.index((who, what))

    def __call__(self, stage: str) -> None:
        name = threading.current_thread().name
        self.note(name, stage)
        key = (name, stage)
        if key in self._on:
            self._on[key]()
        if key in self._reached:
            self._reached[key].set()
        if key in self._go:
            assert self._go[key].wait(WAIT_S), f"{name} was never let go at {stage}"


class Writer(threading.Thread):
    """A save in its own named thread; keeps the new version or the error."""

    def __init__(self, name: str, job: Callable[[], int]) -> None:
        super().__init__(name=name, daemon=True)
        self.job = job
        self.version: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.version = self.job()
        except BaseException as err:  # handed to the test thread
            self.error = err

    def finish(self) -> None:
        self.join(WAIT_S)
        assert not self.is_alive(), f"{self.name} did not finish"


@pytest.fixture
def ws(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore.create(
        tmp_path / "nanfeng.gpkg", {"grids": grids_v1()}, author="李工", reason="初始网格"
    )


@pytest.fixture
def stepper(monkeypatch: pytest.MonkeyPatch) -> Stepper:
    hook = Stepper()
    monkeypatch.setattr(st, "_CHECK_HOOK", hook)
    return hook


def test_the_hook_is_off_by_default_and_names_its_stages(ws, monkeypatch):
    assert st._CHECK_HOOK is None
    stages: list[str] = []
    monkeypatch.setattr(st, "_CHECK_HOOK", stages.append)
    assert write(ws, "save", "周杰") == 2
    # the lock is taken, then the version checked, inside one write transaction
    assert stages == ["before_lock", "locked", "checked"]
    stages.clear()
    ws.current_version("grids")  # a read takes no write lock: no stage
    assert stages == []


@pytest.mark.parametrize("how", ["save", "save_rows"])
def test_a_writer_whose_version_went_stale_before_the_lock_is_refused(ws, stepper, how):
    """A loaded version 1 and is about to take the lock; B saves version 2; A is refused."""
    stepper.pause("A", "before_lock")
    a = Writer("A", lambda: write(ws, how, "A的网格长"))
    a.start()
    stepper.wait("A", "before_lock")
    # B saves while A waits (B is this thread: the stepper does not stop it)
    assert write(ws, how, "B的网格长") == 2
    after_b = sha(ws.path)
    stepper.release("A", "before_lock")
    a.finish()
    assert isinstance(a.error, ConflictError), a.error
    assert "is at version 2, but this edit was based on version 1" in str(a.error)
    assert ("A", "checked") not in stepper.seen  # A took the lock but never passed the check
    assert stepper.index("A", "locked") > stepper.index("test", "release A at before_lock")
    # nothing of A is written: the file is byte for byte as B left it
    assert sha(ws.path) == after_b
    assert ws.current_version("grids") == 2
    assert list(ws.list_versions("grids")["author"]) == ["李工", "writer B的网格长"]
    current = ws.read("grids").set_index("grid_id")["manager"].to_dict()
    assert current == {"NF-B": "B的网格长", "NF-C": "王芳"}
    assert stored_managers(ws.path) == {"李娜", "王芳", "B的网格长"}


@pytest.mark.parametrize("how", ["save", "save_rows"])
def test_a_second_writer_waits_for_the_lock_and_is_then_refused(ws, stepper, how):
    """A holds the lock with its check passed; B (also based on version 1) waits for the
    lock, gets it only after A committed, and is refused."""
    seen_by_b: list[int] = []
    stepper.pause("A", "checked")
    stepper.watch("B", "before_lock")
    # at B's "locked": the version any reader sees then (A must have committed already)
    stepper.watch(
        "B",
        "locked",
        lambda: seen_by_b.append(GeoPackageStore.open(ws.path).current_version("grids")),
    )
    a = Writer("A", lambda: write(ws, how, "A的网格长"))
    b = Writer("B", lambda: write(ws, how, "B的网格长"))
    a.start()
    stepper.wait("A", "checked")
    b.start()
    stepper.wait("B", "before_lock")
    # A holds the write lock: B cannot get past it however long it tries
    b.join(0.2)
    assert b.is_alive() and ("B", "locked") not in stepper.seen
    stepper.release("A", "checked")
    a.finish()
    b.finish()
    assert a.error is None and a.version == 2
    assert isinstance(b.error, ConflictError), b.error
    assert "is at version 2, but this edit was based on version 1" in str(b.error)
    assert seen_by_b == [2]
    assert stepper.index("B", "locked") > stepper.index("test", "release A at checked")
    assert ("B", "checked") not in stepper.seen
    # A's edit is the one stored; nothing of B
    assert ws.current_version("grids") == 2
    assert list(ws.list_versions("grids")["author"]) == ["李工", "writer A的网格长"]
    current = ws.read("grids").set_index("grid_id")["manager"].to_dict()
    assert current == {"NF-B": "A的网格长", "NF-C": "王芳"}
    assert stored_managers(ws.path) == {"李娜", "王芳", "A的网格长"}


def test_a_refused_writer_can_save_on_the_new_version(ws, stepper):
    """After a refusal the store is usable: the loser reloads and saves version 3."""
    stepper.pause("A", "before_lock")
    a = Writer("A", lambda: write(ws, "save", "A的网格长"))
    a.start()
    stepper.wait("A", "before_lock")
    write(ws, "save", "B的网格长")
    stepper.release("A", "before_lock")
    a.finish()
    assert isinstance(a.error, ConflictError)
    again: Any = ws.read("grids")
    again.loc[again["grid_id"] == "NF-C", "manager"] = "A的网格长"
    assert ws.save("grids", again, expected_version=2, author="writer A", reason="redo") == 3
    current = ws.read("grids").set_index("grid_id")["manager"].to_dict()
    assert current == {"NF-B": "B的网格长", "NF-C": "A的网格长"}
