"""Users, roles, sessions and the audit log of a workspace (who may do what).

Three plain SQLite tables live in the workspace GeoPackage beside the
versioned layers, registered in ``gpkg_contents`` as ``attributes`` (so QGIS
and GDAL list them):

``gridgeo_users``
    ``username``, ``display_name``, ``role`` (a code of :data:`ROLES`),
    ``grids`` (comma-separated grid ids a grid role looks after; a tier-2 id
    covers its tier-3 children), ``password_hash`` (argon2id via pwdlib, never
    the password), ``disabled``, ``created_at``, ``updated_at``,
    ``failed_logins``, ``locked_until``.
``gridgeo_sessions``
    The SHA-256 of each session cookie or API token (the token itself is
    never stored), ``username``, ``kind`` (``session`` or ``token``), the
    session's ``csrf`` value, ``created_at``, ``expires_at``.
``gridgeo_audit``
    Append-only: one row per write request and per failed login: ``at``
    (UTC), ``username``, ``role``, ``method``, ``route`` (the template, e.g.
    ``/orders/{order_id}``), ``path``, ``target``, ``what`` (a JSON summary of
    the request body without passwords), ``versions_before`` and
    ``versions_after`` (JSON ``{layer: version}`` of every versioned layer),
    ``status``.

A fourth, ``gridgeo_login_failures``, counts failed logins per client
address and per unknown user name, so that throttling says nothing about
whether a user exists. After :data:`MAX_FAILED_LOGINS` failures a name (or
:data:`MAX_ADDRESS_FAILURES` an address) is locked for :data:`LOCK_BASE_S`
seconds, doubling with every further failure up to :data:`LOCK_MAX_S`.

Passwords are generated (:func:`secrets.token_urlsafe`) unless chosen, and a
chosen one has at least :data:`MIN_PASSWORD_LENGTH` characters; there is no
default password. Times are ISO 8601 UTC text (``2026-12-06T09:30:00Z``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pwdlib import PasswordHash

from gridgeo.errors import GridGeoError, InputError, NotFoundError
from gridgeo.store import GeoPackageStore

__all__ = [
    "AUDIT_TABLE",
    "GRID_ROLES",
    "MAX_FAILED_LOGINS",
    "MIN_PASSWORD_LENGTH",
    "PERSONAL_DATA_ROLES",
    "ROLES",
    "SESSIONS_TABLE",
    "USERS_TABLE",
    "LoginError",
    "LoginLockedError",
    "Session",
    "User",
    "add_user",
    "authenticate",
    "csrf_matches",
    "end_session",
    "ensure_user_tables",
    "get_user",
    "layer_versions",
    "list_users",
    "read_audit",
    "record_audit",
    "reset_password",
    "start_session",
    "update_user",
    "user_for_token",
]

Role = Literal["leader", "dispatcher", "planner", "grid_manager", "grid_member", "admin"]
ROLES: dict[str, str] = {
    "leader": "领导",
    "dispatcher": "调度员",
    "planner": "规划员",
    "grid_manager": "网格长",
    "grid_member": "网格员",
    "admin": "管理员",
}
GRID_ROLES = frozenset({"grid_manager", "grid_member"})
# roles that see customers' names, phones and addresses; leadership reads aggregates only
PERSONAL_DATA_ROLES = frozenset({"dispatcher", "planner", "grid_manager", "grid_member", "admin"})

MIN_PASSWORD_LENGTH = 10
GENERATED_PASSWORD_BYTES = 12  # token_urlsafe(12): 16 characters
MAX_FAILED_LOGINS = 5
MAX_ADDRESS_FAILURES = 20  # one office behind one address: more than one person's typos
LOCK_BASE_S = 60
LOCK_MAX_S = 24 * 3600
SESSION_LIFETIME_S = 12 * 3600
TOKEN_LIFETIME_S = 30 * 24 * 3600

USERS_TABLE = "gridgeo_users"
SESSIONS_TABLE = "gridgeo_sessions"
AUDIT_TABLE = "gridgeo_audit"
FAILURES_TABLE = "gridgeo_login_failures"
# the store's table of versions (one row per version of each layer, see gridgeo.store)
VERSIONS_TABLE = "gridgeo_versions"

_USERNAME = re.compile(r"^[\w.\-]{2,32}$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DDL = {
    USERS_TABLE: f"""CREATE TABLE IF NOT EXISTS "{USERS_TABLE}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "username" TEXT NOT NULL UNIQUE,
 "display_name" TEXT NOT NULL, "role" TEXT NOT NULL, "grids" TEXT NOT NULL,
 "password_hash" TEXT NOT NULL, "disabled" INTEGER NOT NULL DEFAULT 0,
 "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL,
 "failed_logins" INTEGER NOT NULL DEFAULT 0, "locked_until" TEXT)""",
    SESSIONS_TABLE: f"""CREATE TABLE IF NOT EXISTS "{SESSIONS_TABLE}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "token_sha256" TEXT NOT NULL UNIQUE,
 "username" TEXT NOT NULL, "kind" TEXT NOT NULL, "csrf" TEXT NOT NULL,
 "created_at" TEXT NOT NULL, "expires_at" TEXT NOT NULL)""",
    AUDIT_TABLE: f"""CREATE TABLE IF NOT EXISTS "{AUDIT_TABLE}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "at" TEXT NOT NULL,
 "username" TEXT NOT NULL, "role" TEXT NOT NULL, "method" TEXT NOT NULL,
 "route" TEXT NOT NULL, "path" TEXT NOT NULL, "target" TEXT NOT NULL, "what" TEXT NOT NULL,
 "versions_before" TEXT NOT NULL, "versions_after" TEXT NOT NULL, "status" INTEGER NOT NULL)""",
    FAILURES_TABLE: f"""CREATE TABLE IF NOT EXISTS "{FAILURES_TABLE}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "key" TEXT NOT NULL UNIQUE,
 "failures" INTEGER NOT NULL, "locked_until" TEXT)""",
}
_AUDIT_COLUMNS = (
    "at",
    "username",
    "role",
    "method",
    "route",
    "path",
    "target",
    "what",
    "versions_before",
    "versions_after",
    "status",
)
_USER_COLUMNS = (
    "username",
    "display_name",
    "role",
    "grids",
    "disabled",
    "created_at",
    "updated_at",
    "failed_logins",
    "locked_until",
)
_HASHER = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that a wrong name takes as long as a
    wrong password (made on first use: hashing takes a fifth of a second)."""
    return _HASHER.hash(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


LOGIN_REFUSED = "用户名或密码错误 / wrong user name or password"


class LoginError(GridGeoError, PermissionError):
    """Credentials are missing, wrong, expired or of a disabled user (HTTP 401)."""


class LoginLockedError(LoginError):
    """Too many failed logins: locked for ``retry_after_s`` seconds (HTTP 429)."""

    def __init__(self, msg: str, retry_after_s: int) -> None:
        super().__init__(msg)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class User:
    """A user as the service sees them (never with the password hash).

    Attributes
    ----------
    username, display_name
        The login name and the name shown (e.g. 张三).
    role
        A code of :data:`ROLES`.
    grids
        The grid ids a grid manager / member looks after (empty for other roles).
    disabled
        A disabled user cannot log in, and their sessions and tokens are refused.
    """

    username: str
    display_name: str
    role: str
    grids: tuple[str, ...] = ()
    disabled: bool = False

    @property
    def role_zh(self) -> str:
        """The role's Chinese name (领导, 调度员, ...)."""
        return ROLES.get(self.role, self.role)

    @property
    def sees_personal_data(self) -> bool:
        """Whether the role may see customers' names, phones and addresses."""
        return self.role in PERSONAL_DATA_ROLES

    def allows_grid(self, *grid_ids: Any) -> bool:
        """Whether the user may see a row in these grids.

        Pass a row's grid ids of every tier (``grid_t1, grid_t2, grid_t3``) or a
        grid and its ancestors: a grid role is allowed when any of them is one of
        :attr:`grids` (a tier-2 id covers its tier-3 children). Other roles are
        not limited to grids.
        """
        if self.role not in GRID_ROLES:
            return True
        mine = set(self.grids)
        return any(g is not None and str(g) in mine for g in grid_ids)


@dataclass(frozen=True)
class Session:
    """A started session or API token: ``token`` is shown once and stored only hashed."""

    token: str
    csrf: str
    kind: str
    username: str
    expires_at: str


# --------------------------------------------------------------------------- helpers


def _now(now: dt.datetime | None = None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def _text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(_TIME_FORMAT)


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=dt.UTC)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def ensure_user_tables(store: GeoPackageStore) -> None:
    """Create the users, sessions, audit and login-failure tables if missing.

    Each is registered in ``gpkg_contents`` as ``attributes``. Nothing is
    written when all exist.
    """
    with store.transaction(write=False) as con:
        missing = [t for t in _DDL if t not in _tables(con)]
    if not missing:
        return
    with store.transaction(write=True) as con:
        now = _text(_now())
        for table in missing:
            con.execute(_DDL[table])
            con.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
                "last_change) VALUES (?, 'attributes', ?, ?)",
                (table, table, now),
            )
        con.execute(f'CREATE INDEX IF NOT EXISTS "idx_{AUDIT_TABLE}_at" ON "{AUDIT_TABLE}" ("at")')


def _check_role(role: Any) -> str:
    if role not in ROLES:
        roles = ", ".join(f"{code} ({zh})" for code, zh in ROLES.items())
        msg = f"未知角色 / unknown role `role` {role!r}: use one of {roles}"
        raise InputError(msg)
    return str(role)


def _check_username(username: Any) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username):
        msg = (
            f"用户名无效 / user name {username!r} is not usable: 2 to 32 letters, digits, "
            "'.', '_' or '-', e.g. zhangsan"
        )
        raise InputError(msg)
    return username


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        msg = (
            f"密码太短 / the password has fewer than {MIN_PASSWORD_LENGTH} characters: choose "
            "a longer one, or leave it out to have one generated"
        )
        raise InputError(msg)
    return password


def _known_grids(store: GeoPackageStore) -> set[str]:
    if "grids" not in store.layers():
        return set()
    with store.transaction(write=False) as con:
        return {str(r[0]) for r in con.execute('SELECT "grid_id" FROM "grids"')}


def _check_grids(store: GeoPackageStore, role: str, grids: Iterable[Any] | None) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(str(g).strip() for g in (grids or ()) if str(g).strip()))
    if role in GRID_ROLES and not ids:
        msg = (
            f"角色 {role} ({ROLES[role]}) 需要网格 / role {role!r} needs the grids it looks "
            "after: give `--grids` (e.g. T3-SUB02-01,T2-SUB01)"
        )
        raise InputError(msg)
    if role not in GRID_ROLES and ids:
        msg = (
            f"角色 {role} ({ROLES[role]}) 不按网格限定 / role {role!r} is not limited to "
            "grids: leave out `--grids`, or use role grid_manager or grid_member"
        )
        raise InputError(msg)
    unknown = sorted(set(ids) - _known_grids(store)) if ids else []
    if unknown:
        msg = (
            f"没有此网格 / no grid with id {', '.join(unknown)} (`grids`): list the grids with "
            "`gridgeo grids list` or GET /grids"
        )
        raise InputError(msg)
    return ids


def _user_from_row(row: sqlite3.Row | tuple[Any, ...]) -> User:
    username, display_name, role, grids, disabled = row[:5]
    return User(
        username=username,
        display_name=display_name,
        role=role,
        grids=tuple(g for g in str(grids).split(",") if g),
        disabled=bool(disabled),
    )


_SELECT_USER = (
    f'SELECT username, display_name, role, grids, disabled FROM "{USERS_TABLE}" WHERE username = ?'
)


def _not_found(username: str) -> NotFoundError:
    msg = (
        f"没有此用户 / no user {username!r}: list the users with `gridgeo users list` "
        "or GET /admin/users"
    )
    return NotFoundError(msg)


def _revoke_all(con: sqlite3.Connection, username: str) -> None:
    con.execute(f'DELETE FROM "{SESSIONS_TABLE}" WHERE username = ?', (username,))


# --------------------------------------------------------------------------- users


def add_user(
    store: GeoPackageStore,
    username: str,
    *,
    role: str,
    grids: Iterable[str] | None = None,
    display_name: str | None = None,
    password: str | None = None,
) -> tuple[User, str]:
    """Add a user; returns the user and the password (generated unless given).

    Parameters
    ----------
    store
        The workspace.
    username
        2 to 32 letters, digits, ``.``, ``_`` or ``-``.
    role
        A code of :data:`ROLES`.
    grids
        Grid ids of any tier; required for grid roles, refused for the others.
    display_name
        The name shown (defaults to ``username``).
    password
        At least :data:`MIN_PASSWORD_LENGTH` characters; None generates one.
        Show a generated password once: only its hash is kept.

    Returns
    -------
    tuple[User, str]

    Raises
    ------
    InputError
        Bad name, role, grids or password, or the name is taken.
    """
    username = _check_username(username)
    role = _check_role(role)
    ids = _check_grids(store, role, grids)
    password = (
        secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        if password is None
        else _check_password(password)
    )
    hashed = _HASHER.hash(password)
    ensure_user_tables(store)
    now = _text(_now())
    user = User(username, (display_name or "").strip() or username, role, ids)
    with store.transaction(write=True) as con:
        if con.execute(_SELECT_USER, (username,)).fetchone() is not None:
            msg = (
                f"用户已存在 / user {username!r} exists already: change it with "
                f"`gridgeo users reset {username}` or the admin page, or choose another name"
            )
            raise InputError(msg)
        con.execute(
            f'INSERT INTO "{USERS_TABLE}" (username, display_name, role, grids, password_hash, '
            "disabled, created_at, updated_at, failed_logins, locked_until) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0, NULL)",
            (username, user.display_name, role, ",".join(ids), hashed, now, now),
        )
    return user, password


def get_user(store: GeoPackageStore, username: str) -> User:
    """The user ``username`` (NotFoundError if there is none)."""
    ensure_user_tables(store)
    with store.transaction(write=False) as con:
        row = con.execute(_SELECT_USER, (username,)).fetchone()
    if row is None:
        raise _not_found(username)
    return _user_from_row(row)


def list_users(store: GeoPackageStore) -> pd.DataFrame:
    """Every user (no password hashes), sorted by name, with the Chinese role ``role_zh``."""
    ensure_user_tables(store)
    cols = ", ".join(_USER_COLUMNS)
    with store.transaction(write=False) as con:
        rows = con.execute(f'SELECT {cols} FROM "{USERS_TABLE}" ORDER BY username').fetchall()
    table = pd.DataFrame(rows, columns=list(_USER_COLUMNS))
    table["disabled"] = table["disabled"].astype(bool)
    table.insert(3, "role_zh", table["role"].map(ROLES).fillna(""))
    return table


def update_user(
    store: GeoPackageStore,
    username: str,
    *,
    role: str | None = None,
    grids: Iterable[str] | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role, grids, shown name or disabled flag (None keeps a field).

    Disabling a user ends all their sessions and tokens; a new role keeps the
    grids only if it is a grid role (give ``grids`` with it otherwise).
    """
    current = get_user(store, username)
    new_role = _check_role(role) if role is not None else current.role
    if grids is None:
        grids = current.grids if new_role in GRID_ROLES else ()
    ids = _check_grids(store, new_role, grids)
    name = current.display_name if display_name is None else display_name.strip() or username
    off = current.disabled if disabled is None else bool(disabled)
    with store.transaction(write=True) as con:
        if current.role == "admin" and not current.disabled and (off or new_role != "admin"):
            others = con.execute(
                f'SELECT count(*) FROM "{USERS_TABLE}" WHERE role = ? AND disabled = 0 '
                "AND username != ?",
                ("admin", username),
            ).fetchone()[0]
            if not others:
                msg = (
                    f"{username!r} 是唯一的管理员 / is the only active admin: add another admin "
                    "first (`gridgeo users add NAME --role admin`), so that someone can still "
                    "manage the users"
                )
                raise InputError(msg)
        con.execute(
            f'UPDATE "{USERS_TABLE}" SET role = ?, grids = ?, display_name = ?, disabled = ?, '
            "updated_at = ? WHERE username = ?",
            (new_role, ",".join(ids), name, int(off), _text(_now()), username),
        )
        if off or new_role != current.role:
            _revoke_all(con, username)
    return User(username, name, new_role, ids, off)


def reset_password(store: GeoPackageStore, username: str, password: str | None = None) -> str:
    """Give a user a new password (generated unless given), clear their lock and end their
    sessions; returns the password, to be shown once."""
    get_user(store, username)
    password = (
        secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        if password is None
        else _check_password(password)
    )
    hashed = _HASHER.hash(password)
    with store.transaction(write=True) as con:
        con.execute(
            f'UPDATE "{USERS_TABLE}" SET password_hash = ?, failed_logins = 0, '
            "locked_until = NULL, updated_at = ? WHERE username = ?",
            (hashed, _text(_now()), username),
        )
        _revoke_all(con, username)
    return password


# --------------------------------------------------------------------------- login


def _lock_s(failures: int, limit: int) -> int:
    """Seconds of lock after ``failures`` failures: none below ``limit``, then doubling."""
    if failures < limit:
        return 0
    return int(min(LOCK_BASE_S * 2 ** min(failures - limit, 20), LOCK_MAX_S))


def _locked_for(locked_until: str | None, now: dt.datetime) -> int:
    until = _parse(locked_until)
    if until is None or until <= now:
        return 0
    return max(1, int((until - now).total_seconds() + 0.999))


def _locked_error(retry_after_s: int) -> LoginLockedError:
    msg = (
        f"登录失败次数过多，请 {retry_after_s} 秒后再试 / too many failed logins: try again in "
        f"{retry_after_s} s, or ask an administrator to reset the password"
    )
    return LoginLockedError(msg, retry_after_s)


def _failure_row(con: sqlite3.Connection, key: str) -> tuple[int, str | None]:
    row = con.execute(
        f'SELECT failures, locked_until FROM "{FAILURES_TABLE}" WHERE key = ?', (key,)
    ).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def _bump_failure(con: sqlite3.Connection, key: str, limit: int, now: dt.datetime) -> None:
    failures = _failure_row(con, key)[0] + 1
    lock = _lock_s(failures, limit)
    until = _text(now + dt.timedelta(seconds=lock)) if lock else None
    con.execute(
        f'INSERT INTO "{FAILURES_TABLE}" (key, failures, locked_until) VALUES (?, ?, ?) '
        "ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, "
        "locked_until = excluded.locked_until",
        (key, failures, until),
    )


def authenticate(
    store: GeoPackageStore,
    username: str,
    password: str,
    *,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Check a user name and password, counting failures per user and per client address.

    Parameters
    ----------
    store
        The workspace.
    username, password
        As typed.
    address
        The client's address (its failures count together across user names).
    now
        The time (default: now), for tests.

    Returns
    -------
    User

    Raises
    ------
    LoginLockedError
        Too many failures for this name or address: wait ``retry_after_s``.
    LoginError
        Wrong name or password, or a disabled user; the message is the same in
        every case, so it never tells whether the user exists.
    """
    ensure_user_tables(store)
    when = _now(now)
    name_key = f"name:{username}"
    addr_key = f"addr:{address}" if address else None
    with store.transaction(write=False) as con:
        row = con.execute(
            f"SELECT username, display_name, role, grids, disabled, password_hash, "
            f'locked_until FROM "{USERS_TABLE}" WHERE username = ?',
            (username,),
        ).fetchone()
        name_lock = row[6] if row is not None else _failure_row(con, name_key)[1]
        addr_lock = _failure_row(con, addr_key)[1] if addr_key else None
    wait = max(_locked_for(name_lock, when), _locked_for(addr_lock, when))
    if wait:
        raise _locked_error(wait)
    ok = _HASHER.verify(password or "", row[5] if row is not None else _dummy_hash())
    if row is not None and ok and not row[4]:
        with store.transaction(write=True) as con:
            con.execute(
                f'UPDATE "{USERS_TABLE}" SET failed_logins = 0, locked_until = NULL '
                "WHERE username = ? AND failed_logins > 0",
                (username,),
            )
        return _user_from_row(row)
    with store.transaction(write=True) as con:
        if row is not None:
            failures = int(
                con.execute(
                    f'SELECT failed_logins FROM "{USERS_TABLE}" WHERE username = ?', (username,)
                ).fetchone()[0]
            )
            failures += 1
            lock = _lock_s(failures, MAX_FAILED_LOGINS)
            con.execute(
                f'UPDATE "{USERS_TABLE}" SET failed_logins = ?, locked_until = ? '
                "WHERE username = ?",
                (failures, _text(when + dt.timedelta(seconds=lock)) if lock else None, username),
            )
        else:
            _bump_failure(con, name_key, MAX_FAILED_LOGINS, when)
        if addr_key:
            _bump_failure(con, addr_key, MAX_ADDRESS_FAILURES, when)
    raise LoginError(LOGIN_REFUSED)


def start_session(
    store: GeoPackageStore,
    username: str,
    *,
    kind: Literal["session", "token"] = "session",
    lifetime_s: float | None = None,
    now: dt.datetime | None = None,
) -> Session:
    """Start a browser session (with a CSRF value) or issue an API token for a user.

    ``lifetime_s`` defaults to :data:`SESSION_LIFETIME_S` for sessions and
    :data:`TOKEN_LIFETIME_S` for tokens. Only the token's SHA-256 is stored.
    """
    if kind not in ("session", "token"):
        msg = f"`kind` {kind!r} must be 'session' or 'token'"
        raise InputError(msg)
    user = get_user(store, username)
    if user.disabled:
        msg = f"用户已停用 / user {username!r} is disabled: enable it on the admin page first"
        raise InputError(msg)
    if lifetime_s is None:
        lifetime_s = SESSION_LIFETIME_S if kind == "session" else TOKEN_LIFETIME_S
    if lifetime_s <= 0:
        msg = f"the lifetime must be positive, not {lifetime_s!r} s (`--days`)"
        raise InputError(msg)
    when = _now(now)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == "session" else ""
    expires = _text(when + dt.timedelta(seconds=lifetime_s))
    with store.transaction(write=True) as con:
        con.execute(f'DELETE FROM "{SESSIONS_TABLE}" WHERE expires_at <= ?', (_text(when),))
        con.execute(
            f'INSERT INTO "{SESSIONS_TABLE}" (token_sha256, username, kind, csrf, created_at, '
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (_sha256(token), username, kind, csrf, _text(when), expires),
        )
    return Session(token=token, csrf=csrf, kind=kind, username=username, expires_at=expires)


def user_for_token(
    store: GeoPackageStore, token: str, *, now: dt.datetime | None = None
) -> tuple[User, Session] | None:
    """The user and session of a cookie or bearer token; None if unknown, expired, or the user
    is disabled. The returned :class:`Session` carries the hash, not the token."""
    if not token:
        return None
    with store.transaction(write=False) as con:
        row = con.execute(
            f"SELECT u.username, u.display_name, u.role, u.grids, u.disabled, s.kind, s.csrf, "
            f's.expires_at FROM "{SESSIONS_TABLE}" s JOIN "{USERS_TABLE}" u '
            "ON u.username = s.username WHERE s.token_sha256 = ?",
            (_sha256(token),),
        ).fetchone()
    if row is None or row[4] or row[7] <= _text(_now(now)):
        return None
    user = _user_from_row(row)
    return user, Session(
        token=_sha256(token), csrf=row[6], kind=row[5], username=user.username, expires_at=row[7]
    )


def end_session(store: GeoPackageStore, token: str) -> bool:
    """End a session or revoke a token; True if there was one."""
    with store.transaction(write=True) as con:
        cur = con.execute(
            f'DELETE FROM "{SESSIONS_TABLE}" WHERE token_sha256 = ?', (_sha256(token),)
        )
        return cur.rowcount > 0


def csrf_matches(session: Session, value: str | None) -> bool:
    """Whether ``value`` is the session's CSRF value (compared in constant time)."""
    return bool(session.csrf) and hmac.compare_digest(session.csrf, value or "")


# --------------------------------------------------------------------------- audit


def layer_versions(store: GeoPackageStore) -> dict[str, int]:
    """The current version of every versioned layer, in one cheap read."""
    with store.transaction(write=False) as con:
        rows = con.execute(
            f'SELECT layer, max(version) FROM "{VERSIONS_TABLE}" GROUP BY layer ORDER BY layer'
        ).fetchall()
    return {layer: int(version) for layer, version in rows}


def record_audit(store: GeoPackageStore, entry: Mapping[str, Any]) -> None:
    """Append one row to the audit log.

    ``entry`` has the keys of the table (``at`` defaults to now); ``what``,
    ``versions_before`` and ``versions_after`` may be dicts (stored as JSON).
    """
    row = _utf8(dict(entry))  # lone surrogates of a request body: "?" (UTF-8 cannot hold them)
    row.setdefault("at", _text(_now()))
    for key in ("what", "versions_before", "versions_after"):
        value = row.get(key, {})
        row[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    values = [row.get(c, "") if c != "status" else int(row.get(c, 0)) for c in _AUDIT_COLUMNS]
    with store.transaction(write=True) as con:
        con.execute(
            f'INSERT INTO "{AUDIT_TABLE}" ({", ".join(_AUDIT_COLUMNS)}) '
            f"VALUES ({', '.join('?' * len(_AUDIT_COLUMNS))})",
            [str(v) if not isinstance(v, int) else v for v in values],
        )


def read_audit(
    store: GeoPackageStore,
    *,
    username: str | None = None,
    route: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """Audit rows, newest first, filtered by user, route template and time; with the total.

    ``start``/``end`` are ISO dates or times in UTC (``2026-12-01`` or
    ``2026-12-01T08:00:00Z``); ``end`` is exclusive. JSON columns come back parsed.
    """
    ensure_user_tables(store)
    where, params = [], []
    for column, value in (("username", username), ("route", route)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    for op, value, name in ((">=", start, "start"), ("<", end, "end")):
        if value:
            where.append(f"at {op} ?")
            params.append(_audit_time(value, name))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cols = ", ".join(("fid", *_AUDIT_COLUMNS))
    with store.transaction(write=False) as con:
        total = con.execute(f'SELECT count(*) FROM "{AUDIT_TABLE}" {clause}', params).fetchone()
        rows = con.execute(
            f'SELECT {cols} FROM "{AUDIT_TABLE}" {clause} ORDER BY fid DESC LIMIT ? OFFSET ?',
            [*params, int(limit), int(offset)],
        ).fetchall()
    table = pd.DataFrame(rows, columns=["id", *_AUDIT_COLUMNS])
    for key in ("what", "versions_before", "versions_after"):
        # Infinity / NaN stored by an older version come back as text, never as a float
        # that no JSON answer can carry
        table[key] = [json.loads(v, parse_constant=str) if v else {} for v in table[key]]
    return table, int(total[0])


def _utf8(value: Any) -> Any:
    """``value`` (parsed JSON) with every text made encodable as UTF-8, and every number
    that JSON cannot hold (``1e999`` in a body parses as infinity) kept as its text."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    return value


def _audit_time(value: str, name: str) -> str:
    msg = (
        f"`{name}` {value!r} is not a date or time: write it like 2026-12-01 or "
        "2026-12-01T08:00:00Z"
    )
    try:
        when = pd.Timestamp(value)
        if pd.isna(when) or not 1900 <= when.year < 2200:  # "nan", "NaT", "-1" (year -1)
            raise InputError(msg)
        if when.tzinfo is None:
            when = when.tz_localize("UTC")
        return _text(when.to_pydatetime())
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(msg) from exc
