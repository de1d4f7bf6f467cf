"""Schemathesis hooks and checks of the contract fuzz (loaded by ``schemathesis run`` through
``SCHEMATHESIS_HOOKS=contractfuzz_hooks``; see :mod:`contractfuzz`).

Besides schemathesis' own checks, every answer is checked here for

- ``no_internal_leak``: an error body (status >= 400) names no file path, traceback, SQL
  or storage engine (text the request itself carried is not counted: an echo of the
  fuzzer's own input is no leak);
- ``rejected_write_changes_nothing``: a write (POST, PUT, PATCH, DELETE) answered 4xx left
  every table of the workspace as it was: every page of the GeoPackage is summed before and
  after the request and the pages that changed are named by table (sqlite's ``dbstat``),
  save the audit log, which records every write by design, and the failed-login counters
  (:func:`contractfuzz.snapshot`, :func:`contractfuzz.changed_tables`).

Each request is also written as one JSON line (method, route, status, seconds, leaks,
changed tables) to ``$GRIDGEO_FUZZ_LOG``, from which :mod:`contractfuzz` counts the run.
The fuzz runs with one schemathesis worker, so "before" and "after" of a write are never
mixed with another request's.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import schemathesis
from contractfuzz import UNSAFE_METHODS, changed_tables, leaks_in, snapshot

_WORKSPACE = Path(os.environ["GRIDGEO_FUZZ_WORKSPACE"])
_LOG = Path(os.environ["GRIDGEO_FUZZ_LOG"])
_LOCK = threading.Lock()
_state = threading.local()


def _request_text(case: Any) -> str:
    parts = [
        str(case.path),
        json.dumps(case.path_parameters or {}, ensure_ascii=False, default=str),
    ]
    parts.append(json.dumps(case.query or {}, ensure_ascii=False, default=str))
    body = getattr(case, "body", None)
    if isinstance(body, bytes):
        parts.append(body.decode("utf-8", "replace"))
    elif body is not None:
        parts.append(json.dumps(body, ensure_ascii=False, default=str))
        parts.append(str(body))
    return "\n".join(parts)


def _found(case: Any) -> dict[str, Any] | None:
    """What :func:`after_call` found for ``case`` (the last request of this thread)."""
    last = getattr(_state, "found", None)
    return last[1] if last is not None and last[0] == id(case) else None


def _header(response: Any, name: str) -> str:
    value = response.headers.get(name, "")
    return value[0] if isinstance(value, list) and value else str(value or "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _state.before = snapshot(_WORKSPACE) if case.method.upper() in UNSAFE_METHODS else None
    _state.started = time.perf_counter()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    seconds = time.perf_counter() - getattr(_state, "started", time.perf_counter())
    method = case.method.upper()
    status = int(response.status_code)
    changed: list[str] = []
    before = getattr(_state, "before", None)
    if method in UNSAFE_METHODS and 400 <= status < 500 and before is not None:
        changed = changed_tables(_WORKSPACE, before, snapshot(_WORKSPACE))
    leaks = leaks_in(response.text, _request_text(case)) if status >= 400 else []
    _state.found = (id(case), {"changed": changed, "leaks": leaks})
    record = {
        "method": method,
        "route": case.path,
        "status": status,
        "seconds": round(seconds, 4),
        "content_type": _header(response, "content-type"),
        "leaks": leaks,
        "changed": changed,
    }
    with _LOCK, _LOG.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")


@schemathesis.check
def no_internal_leak(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error answer names no path, traceback, SQL or storage engine."""
    found = _found(case)
    if found and found["leaks"]:
        msg = f"error body leaks internals: {found['leaks']}"
        raise AssertionError(msg)
    return None


@schemathesis.check
def rejected_write_changes_nothing(ctx: Any, response: Any, case: Any) -> bool | None:
    """A write answered 4xx changed no table of the workspace (the audit log aside)."""
    found = _found(case)
    if found and found["changed"]:
        msg = f"a rejected write ({response.status_code}) changed tables {found['changed']}"
        raise AssertionError(msg)
    return None
