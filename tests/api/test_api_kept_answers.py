"""Kept answers (api.cache.answer_kept): a 200 of ``GET /dispatch``, ``/customers/{id}`` or
``/kpis`` is sent again as it was until a save makes a new version, after the login and role
checks, and never to a user whose view differs (another grid, personal data hidden)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.routers.customers
import api.routers.dispatch
import api.routers.kpis
import gridgeo


@pytest.fixture(scope="module")
def kept_workspace(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's workspace for this module (one app: its engine built once)."""
    path = tmp_path_factory.mktemp("kept") / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    return path


@pytest.fixture(scope="module")
def kept_client(kept_workspace: Path, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(kept_workspace)


def _count_route_runs(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """Count how often the route of ``module`` runs (it answers through ``kept_json``)."""
    runs = [0]
    original = module.kept_json

    async def counting(*args: Any, **kw: Any) -> Any:
        runs[0] += 1
        return await original(*args, **kw)

    monkeypatch.setattr(module, "kept_json", counting)
    return runs


def _customer_outside(path: Path, grids: tuple[str, ...], *, last: bool = False) -> str:
    """The first (or last) customer by number outside ``grids``."""
    customers = gridgeo.GeoPackageStore.open(path).read("customers")
    tiers = customers[["grid_t1", "grid_t2", "grid_t3"]].astype(str)
    outside = customers.loc[~tiers.isin(list(grids)).any(axis=1)]
    return str(outside.sort_values("customer_id")["customer_id"].iloc[-1 if last else 0])


def test_a_kept_answer_is_sent_again_without_running_the_route(
    kept_workspace: Path, kept_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = kept_client
    runs = _count_route_runs(monkeypatch, api.routers.dispatch)
    customer = _customer_outside(kept_workspace, ())  # any customer
    first = client.get("/dispatch", params={"customer_id": customer, "contacts": "true"})
    assert first.status_code == 200
    for _ in range(4):
        again = client.get("/dispatch", params={"customer_id": customer, "contacts": "true"})
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["content-type"] == first.headers["content-type"]
    assert runs[0] == 1
    # another question is not the kept one
    other = client.get("/dispatch", params={"customer_id": customer})
    assert other.status_code == 200 and "contact" not in other.json()
    assert runs[0] == 2


def test_a_grid_role_never_gets_an_answer_kept_for_another_view(
    kept_workspace: Path, kept_client: TestClient, role_users: dict[str, Any]
) -> None:
    client = kept_client
    manager = role_users["grid_manager"]
    customer = _customer_outside(kept_workspace, manager.grids)
    # the dispatcher may see every customer: 200, kept
    dispatcher = role_users["dispatcher"].headers
    assert client.get(f"/customers/{customer}", headers=dispatcher).status_code == 200
    assert client.get(f"/customers/{customer}", headers=dispatcher).status_code == 200
    # the grid manager asks the same path: not theirs, 404 as if not there
    answer = client.get(f"/customers/{customer}", headers=manager.headers)
    assert answer.status_code == 404, answer.text
    # a leader may not ask at all, kept or not; without a token: 401
    leader = role_users["leader"].headers
    assert client.get(f"/customers/{customer}", headers=leader).status_code == 403
    bare = TestClient(client.app)
    assert bare.get(f"/customers/{customer}").status_code == 401


def test_errors_are_not_kept(
    kept_workspace: Path, kept_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = kept_client
    runs = _count_route_runs(monkeypatch, api.routers.dispatch)
    for _ in range(2):
        assert client.get("/dispatch", params={"customer_id": "0000000000000"}).status_code == 404
    assert runs[0] == 2


def test_the_leaders_kpis_are_the_same_answer(
    kept_client: TestClient, role_users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/kpis holds no personal data: the admin's and the leader's answers are equal; each
    view is computed once."""
    client = kept_client
    runs = _count_route_runs(monkeypatch, api.routers.kpis)
    admin = client.get("/kpis")
    leader = client.get("/kpis", headers=role_users["leader"].headers)
    assert admin.status_code == leader.status_code == 200
    assert admin.json() == leader.json()
    client.get("/kpis")
    client.get("/kpis", headers=role_users["leader"].headers)
    assert runs[0] == 2


# last: it saves a new version of the module's workspace
def test_a_save_drops_the_kept_answers(
    kept_workspace: Path, kept_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = kept_client
    runs = _count_route_runs(monkeypatch, api.routers.customers)
    customer = _customer_outside(kept_workspace, (), last=True)  # not asked before
    assert client.get(f"/customers/{customer}").json()["customer"]["name"] != "改名客户"
    client.get(f"/customers/{customer}")
    assert runs[0] == 1
    store = gridgeo.GeoPackageStore.open(kept_workspace)
    customers = store.read("customers")
    customers.loc[customers["customer_id"].astype(str) == customer, "name"] = "改名客户"
    store.save(
        "customers",
        customers.drop(columns="version"),
        expected_version=store.current_version("customers"),
        author="test",
        reason="rename a customer",
    )
    assert client.get(f"/customers/{customer}").json()["customer"]["name"] == "改名客户"
    assert runs[0] == 2
