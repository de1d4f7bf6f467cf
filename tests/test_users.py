"""gridgeo.users: users, roles, passwords, throttling, sessions and the audit log.

A hand-made workspace with three grids (one per tier); expected values by hand (lock
times: 60 s after the 5th failure, doubling), or read from the file with sqlite3 / pyogrio.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

import gridgeo
from gridgeo import users
from gridgeo.cli import main

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> gridgeo.GeoPackageStore:
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1-X", "T2-A", "T2-B", "T3-A-1", "T3-B-1"],
            "tier": [1, 2, 2, 3, 3],
            "parent_id": ["", "T1-X", "T1-X", "T2-A", "T2-B"],
        },
        geometry=[
            box(0, 0, 2, 1),
            box(0, 0, 1, 1),
            box(1, 0, 2, 1),
            box(0, 0, 1, 1),
            box(1, 0, 2, 1),
        ],
        crs=4326,
    )
    return gridgeo.GeoPackageStore.create(
        tmp_path / "ws.gpkg", {"grids": grids}, author="t", reason="t"
    )


def _rows(store: gridgeo.GeoPackageStore, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(store.path) as con:
        return con.execute(sql, params).fetchall()


def test_tables_are_geopackage_attribute_tables(store):
    gridgeo.ensure_user_tables(store)
    contents = dict(_rows(store, "SELECT table_name, data_type FROM gpkg_contents"))
    for table in ("gridgeo_users", "gridgeo_sessions", "gridgeo_audit"):
        assert contents[table] == "attributes"
    listed = {name for name, _ in pyogrio.list_layers(store.path)}
    assert {"gridgeo_users", "gridgeo_sessions", "gridgeo_audit"} <= listed


def test_generated_password_is_stored_as_argon2id_only(store):
    user, password = gridgeo.add_user(store, "zhang", role="dispatcher", display_name="张三")
    assert user == gridgeo.User("zhang", "张三", "dispatcher", (), False)
    assert len(password) >= gridgeo.MIN_PASSWORD_LENGTH
    [(stored,)] = _rows(store, "SELECT password_hash FROM gridgeo_users WHERE username='zhang'")
    assert stored.startswith("$argon2id$")
    assert password.encode() not in store.path.read_bytes()
    assert gridgeo.authenticate(store, "zhang", password, now=T0) == user
    # another user gets another password: none is fixed
    assert gridgeo.add_user(store, "li", role="leader")[1] != password


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "boss"}, r"unknown role `role` 'boss'.*dispatcher \(调度员\)"),
        ({"role": "leader", "password": "short"}, "fewer than 10 characters"),
        ({"role": "grid_member"}, "needs the grids.*--grids"),
        ({"role": "grid_member", "grids": ["T9"]}, "no grid with id T9"),
        ({"role": "planner", "grids": ["T2-A"]}, "not limited to grids"),
    ],
)
def test_bad_users_are_refused_with_the_fix(store, kwargs, match):
    with pytest.raises(gridgeo.InputError, match=match):
        gridgeo.add_user(store, "wang", **kwargs)
    assert gridgeo.list_users(store).empty


def test_taken_and_bad_names(store):
    gridgeo.add_user(store, "wang", role="leader")
    with pytest.raises(gridgeo.InputError, match="exists already"):
        gridgeo.add_user(store, "wang", role="planner")
    with pytest.raises(gridgeo.InputError, match="user name"):
        gridgeo.add_user(store, "a b", role="planner")
    with pytest.raises(gridgeo.NotFoundError, match="gridgeo users list"):
        gridgeo.get_user(store, "nobody")


def test_grid_roles_see_their_grids_and_the_children():
    manager = gridgeo.User("m", "m", "grid_manager", ("T2-A",))
    assert manager.allows_grid("T1-X", "T2-A", "T3-A-1")
    assert not manager.allows_grid("T1-X", "T2-B", "T3-B-1")
    assert not manager.allows_grid(None, None, None)
    member = gridgeo.User("g", "g", "grid_member", ("T3-A-1",))
    assert not member.allows_grid("T1-X", "T2-A", "T3-A-2")
    assert gridgeo.User("d", "d", "dispatcher").allows_grid("T1-X", "T2-B", "T3-B-1")
    assert not gridgeo.User("l", "l", "leader").sees_personal_data
    assert gridgeo.User("d", "d", "dispatcher").sees_personal_data


def test_failed_logins_lock_and_the_lock_doubles(store):
    gridgeo.add_user(store, "zhao", role="planner", password="right-password-1")
    for i in range(5):
        with pytest.raises(gridgeo.LoginError, match="wrong user name or password") as err:
            gridgeo.authenticate(store, "zhao", "wrong", now=T0 + dt.timedelta(seconds=i))
        assert not isinstance(err.value, gridgeo.LoginLockedError)
    # the 5th failure at T0+4 s locks for 60 s: even the right password waits
    with pytest.raises(gridgeo.LoginLockedError) as err:
        gridgeo.authenticate(store, "zhao", "right-password-1", now=T0 + dt.timedelta(seconds=5))
    assert err.value.retry_after_s == 59
    # after the lock, one more failure (the 6th) locks for 120 s
    later = T0 + dt.timedelta(seconds=65)
    with pytest.raises(gridgeo.LoginError):
        gridgeo.authenticate(store, "zhao", "wrong", now=later)
    with pytest.raises(gridgeo.LoginLockedError) as err:
        gridgeo.authenticate(store, "zhao", "wrong", now=later + dt.timedelta(seconds=1))
    assert err.value.retry_after_s == 119
    # after that lock the right password works and clears the count
    user = gridgeo.authenticate(
        store, "zhao", "right-password-1", now=later + dt.timedelta(seconds=121)
    )
    assert user.username == "zhao"
    assert _rows(store, "SELECT failed_logins, locked_until FROM gridgeo_users") == [(0, None)]


def test_an_unknown_name_is_throttled_like_a_known_one(store):
    # 429 must not tell that a name exists: a name nobody has locks the same way
    for i in range(5):
        with pytest.raises(gridgeo.LoginError, match="wrong user name or password"):
            gridgeo.authenticate(store, "ghost", "x", now=T0 + dt.timedelta(seconds=i))
    with pytest.raises(gridgeo.LoginLockedError) as err:
        gridgeo.authenticate(store, "ghost", "x", now=T0 + dt.timedelta(seconds=4))
    assert err.value.retry_after_s == 60


def test_one_address_is_throttled_across_names(store):
    for i in range(users.MAX_ADDRESS_FAILURES):  # 20 names, one failure each
        with pytest.raises(gridgeo.LoginError):
            gridgeo.authenticate(store, f"name{i}", "x", address="10.0.0.9", now=T0)
    gridgeo.add_user(store, "qian", role="leader", password="qian-password-1")
    with pytest.raises(gridgeo.LoginLockedError):
        gridgeo.authenticate(store, "qian", "qian-password-1", address="10.0.0.9", now=T0)
    # from another address the same user logs in
    assert gridgeo.authenticate(store, "qian", "qian-password-1", address="10.0.0.8", now=T0)


def test_sessions_are_hashed_expire_and_end(store):
    gridgeo.add_user(store, "sun", role="dispatcher", password="sun-password-1")
    session = gridgeo.start_session(store, "sun", lifetime_s=3600, now=T0)
    assert session.csrf and session.expires_at == "2026-12-01T09:00:00Z"
    digest = hashlib.sha256(session.token.encode()).hexdigest()
    assert _rows(store, "SELECT token_sha256, kind FROM gridgeo_sessions") == [(digest, "session")]
    assert session.token.encode() not in store.path.read_bytes()
    found = gridgeo.user_for_token(store, session.token, now=T0 + dt.timedelta(seconds=3599))
    assert found is not None and found[0].username == "sun" and found[1].csrf == session.csrf
    assert gridgeo.user_for_token(store, session.token, now=T0 + dt.timedelta(seconds=3600)) is None
    assert gridgeo.user_for_token(store, "not-a-token") is None
    token = gridgeo.start_session(store, "sun", kind="token")
    assert token.csrf == "" and gridgeo.user_for_token(store, token.token) is not None
    assert gridgeo.end_session(store, token.token)
    assert gridgeo.user_for_token(store, token.token) is None


def test_disabling_refuses_login_and_ends_sessions(store):
    gridgeo.add_user(store, "zhou", role="grid_member", grids=["T3-A-1"], password="zhou-pass-12")
    token = gridgeo.start_session(store, "zhou", kind="token").token
    gridgeo.update_user(store, "zhou", disabled=True)
    assert gridgeo.user_for_token(store, token) is None
    with pytest.raises(gridgeo.LoginError, match="wrong user name or password"):
        gridgeo.authenticate(store, "zhou", "zhou-pass-12")
    user = gridgeo.update_user(store, "zhou", disabled=False, grids=["T2-B"])
    assert user.grids == ("T2-B",)
    assert gridgeo.authenticate(store, "zhou", "zhou-pass-12").grids == ("T2-B",)
    new = gridgeo.reset_password(store, "zhou")
    with pytest.raises(gridgeo.LoginError):
        gridgeo.authenticate(store, "zhou", "zhou-pass-12")
    assert gridgeo.authenticate(store, "zhou", new).username == "zhou"


def test_audit_rows_and_layer_versions(store):
    grids = store.read("grids").drop(columns="version")
    store.save(
        "grids", grids.assign(tier=grids["tier"] * 1), expected_version=1, author="t", reason="same"
    )
    store.save(
        "grids",
        grids.iloc[:3],
        expected_version=store.current_version("grids"),
        author="t",
        reason="fewer",
    )
    expected = dict(_rows(store, "SELECT layer, max(version) FROM gridgeo_versions GROUP BY layer"))
    assert gridgeo.layer_versions(store) == expected == {"grids": expected["grids"]}
    gridgeo.ensure_user_tables(store)
    for who, route, at in (
        ("a", "/grids/save", "2026-12-01T08:00:00Z"),
        ("b", "/orders", "2026-12-02T08:00:00Z"),
        ("a", "/orders", "2026-12-03T08:00:00Z"),
    ):
        gridgeo.record_audit(
            store,
            {
                "at": at,
                "username": who,
                "role": "planner",
                "method": "POST",
                "route": route,
                "path": route,
                "target": "",
                "what": {"op": "move"},
                "versions_before": {"grids": 1},
                "versions_after": {"grids": 2},
                "status": 200,
            },
        )
    table, total = gridgeo.read_audit(store, username="a")
    assert total == 2 and list(table["route"]) == ["/orders", "/grids/save"]  # newest first
    assert table["versions_after"].iloc[1] == {"grids": 2}
    assert table["what"].iloc[1] == {"op": "move"}
    assert gridgeo.read_audit(store, route="/orders", start="2026-12-02T12:00:00Z")[1] == 1
    assert gridgeo.read_audit(store, end="2026-12-02")[1] == 1
    with pytest.raises(gridgeo.InputError, match="`start`"):
        gridgeo.read_audit(store, start="yesterday-ish")
    for value in ("nan", "NaT", "-1", "2200-01-01"):  # read by pandas, yet no usable time
        with pytest.raises(gridgeo.InputError, match="`end`"):
            gridgeo.read_audit(store, end=value)


def test_cli_users_commands(store, capsys):
    ws = str(store.path)
    assert (
        main(
            [
                "users",
                "add",
                "wu",
                "--role",
                "grid_manager",
                "--grids",
                "T2-A",
                "--display-name",
                "吴六",
                "--workspace",
                ws,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    password = out.strip().splitlines()[-1].rsplit(": ", 1)[1]
    assert gridgeo.authenticate(store, "wu", password).grids == ("T2-A",)
    assert main(["users", "list", "--workspace", ws]) == 0
    listed = capsys.readouterr().out
    assert "wu" in listed and "吴六" in listed and "网格长" in listed and "T2-A" in listed
    assert password not in listed
    assert main(["users", "token", "wu", "--days", "2", "--workspace", ws]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    found = gridgeo.user_for_token(store, token)
    assert found is not None
    assert dt.datetime.fromisoformat(found[1].expires_at) - dt.datetime.now(dt.UTC) > dt.timedelta(
        days=1.9
    )
    assert main(["users", "reset", "wu", "--workspace", ws]) == 0
    new = capsys.readouterr().out.strip().rsplit(": ", 1)[1]
    assert new != password and gridgeo.authenticate(store, "wu", new).username == "wu"
    assert gridgeo.user_for_token(store, token) is None  # a reset ends the sessions
    assert main(["users", "disable", "wu", "--workspace", ws]) == 0
    capsys.readouterr()
    with pytest.raises(gridgeo.LoginError):
        gridgeo.authenticate(store, "wu", new)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["users", "add", "x1", "--role", "king"], "unknown role"),
        (["users", "disable", "nobody"], "no user 'nobody'"),
        (["users", "token", "nobody", "--days", "0"], "--days"),
    ],
)
def test_cli_bad_input_is_one_line(store, capsys, argv, needle):
    assert main([*argv, "--workspace", str(store.path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and err[0].startswith("gridgeo: error:")
    assert "Traceback" not in err[0]


def test_the_last_admin_cannot_be_disabled_or_demoted(store):
    gridgeo.add_user(store, "root1", role="admin")
    with pytest.raises(gridgeo.InputError, match="only active admin"):
        gridgeo.update_user(store, "root1", disabled=True)
    with pytest.raises(gridgeo.InputError, match="only active admin"):
        gridgeo.update_user(store, "root1", role="leader")
    gridgeo.add_user(store, "root2", role="admin")
    assert gridgeo.update_user(store, "root1", disabled=True).disabled
