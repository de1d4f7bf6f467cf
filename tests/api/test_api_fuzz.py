"""Fuzz, load and concurrency checks of the service on a real uvicorn server.

Every request goes over TCP to ``uvicorn --factory api.main:create_app`` in a
subprocess (fixture ``serve`` in conftest.py). The fuzz is seeded, so a failure
is reproduced by running the test again; each failure message names the
request that caused it. Expected states come from the GeoPackage file itself
(sqlite), not from the service. ``pytest -s`` prints the fuzz's status codes
per endpoint.
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import httpx
import pytest
from pydantic import ValidationError

from api.schemas import GridEdit, GridSave

SEED = 20261127
REQUEST_TIMEOUT_S = 30.0  # a hang fails the test; speed itself is never asserted
BUSY_RETRIES = 6  # 503 Busy answers waited out per request (Retry-After, at most 10 s each)
SEP = "，"  # separator of the village codes of a grid

# how many fuzz requests of each kind (GETs that reach the data cost ~0.5 s, edits
# that pass validation ~1.5 s on a 2-core machine: those are rationed)
N_CHEAP_GETS = 150
N_DISPATCHES = 40
N_DATA_GETS = 10
N_WRONG_ROUTES = 16
N_RAW_BODIES = 26
N_JSON_JUNK = 14
N_BAD_EDITS = 48
N_SEMANTIC_EDITS = 10  # two of each of the five kinds
N_PLANS = 12

# load: each thread sends all heavy requests (~0.5 s: the whole customers layer, the
# road graph) but one, once, and each light one (small tables) N_LIGHT_ROUNDS times, in
# its own order; then N_RACERS edits race on one base version
N_LOAD_THREADS = 4
N_LIGHT_ROUNDS = 2
N_RACERS = 4
READ_PAUSE_S = 0.05  # between the reads that watch the racing saves

JUNK_TEXT = (
    "",
    " ",
    "0",
    "-1",
    "-0",
    "1.5",
    "2",
    "4",
    "99",
    "1e309",
    "-1e309",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    str(2**63),
    "9" * 400,
    "x" * 3000,
    "南" * 700,
    "0x1F",
    "1_0",
    "true",
    "null",
    "[]",
    "{}",
    "南丰县琴城镇人民路社区2组",
    "网格🙂⚡🔌",
    "\u202e\u200b\ufeff",
    "\x00",
    "\x01\x1b[31m\x7f",
    "\t\r\n",
    "' OR '1'='1",
    "1; DROP TABLE grids; --",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "%s%n%x",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "T1-361023",
    "T3-NOPE-99",
    "3610230000001",
)
# sent as they are, not percent-encoded again: broken or odd escapes
RAW_QUERY_JUNK = ("%zz", "%", "%ff%fe", "%00", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%E5%8D", "+%20+")
JUNK_JSON: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    1.5,
    2**63,
    10**40,
    float("nan"),
    float("inf"),
    "",
    "x" * 5000,
    "网格🙂",
    "\x00",
    [],
    {},
    [None],
    [1, 2, 3],
    {"a": {"b": {"c": [1, {"d": None}]}}},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
    {"type": "Polygon", "coordinates": [[[116.5, 27.2]]]},
    {"type": "Point", "coordinates": ["a", None]},
    [[[[[["deep"]]]]]],
)
# how /dispatch locates the fault in the fuzz, with weights
DISPATCH_HOW = {
    "point": 3,
    "swapped": 1,
    "abroad": 1,
    "far": 1,
    "junk": 2,
    "customer": 1,
    "address": 1,
}
# what lax parsing would read as version 1 (the current one)
LAX_VERSIONS: tuple[Any, ...] = (True, "1", 1.0)
DATUMS = ("wgs84", "gcj02", "bd09", "WGS84", "mars", "", "epsg:4326", "cgcs2000")


@dataclass(frozen=True)
class Ids:
    """Ids of the workspace, read from the GeoPackage with sqlite / geopandas."""

    grids: dict[int, list[str]]  # tier -> grid ids
    villages_of: dict[str, list[str]]  # tier-3 grid id -> its village codes
    customers: list[str]
    odd_customers: list[str]  # one of each not-ok reason: not geocoded, off-road, ...
    apart: list[tuple[str, str]]  # tier-3 grids that neither touch nor overlap
    bbox: tuple[float, float, float, float]  # of the county, lon/lat


@dataclass(frozen=True)
class Call:
    """One fuzz request and what is known about the answer beforehand."""

    method: str
    url: str  # path and query, already encoded
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: frozenset[int] | None = None  # the status codes allowed, where known

    def describe(self) -> str:
        body = "" if self.content is None else f" body={self.content[:160]!r}"
        return f"{self.method} {self.url[:200]}{body}"


@pytest.fixture(scope="module")
def ids(workspace: Path) -> Ids:
    return read_ids(workspace)


def read_ids(workspace: Path) -> Ids:
    """The ids the fuzz draws from, read from the file (not through the service)."""
    with sqlite3.connect(workspace) as con:
        rows = con.execute("SELECT grid_id, tier, villages FROM grids ORDER BY grid_id").fetchall()
        customers = [
            r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY customer_id")
        ]
        odd = con.execute(
            "SELECT min(customer_id) FROM customers WHERE grid_reason != 'ok' GROUP BY grid_reason "
            "UNION SELECT min(customer_id) FROM customer_access WHERE repair_reason != 'ok' "
            "GROUP BY repair_reason"
        ).fetchall()
    grids: dict[int, list[str]] = {1: [], 2: [], 3: []}
    villages_of: dict[str, list[str]] = {}
    for grid_id, tier, villages in rows:
        grids[int(tier)].append(grid_id)
        if int(tier) == 3:
            villages_of[grid_id] = villages.split(SEP)
    frame = gpd.read_file(workspace, layer="grids")
    t3 = frame.loc[frame["tier"] == 3].sort_values("grid_id")
    apart = []
    for row in t3.head(4).itertuples():
        far = t3.loc[~t3.geometry.intersects(row.geometry.buffer(1e-4)), "grid_id"]
        apart.append((row.grid_id, far.iloc[-1]))
    county = gpd.read_file(workspace, layer="county")
    minx, miny, maxx, maxy = county.to_crs(4326).total_bounds
    odd_customers = sorted(r[0] for r in odd)
    return Ids(grids, villages_of, customers, odd_customers, apart, (minx, miny, maxx, maxy))


# --------------------------------------------------------------------------- #
# the generator


def _segment(rng: random.Random, text: str) -> str:
    """A path segment: mostly fully escaped, sometimes with its slashes left in or junk."""
    pick = rng.random()
    if pick < 0.1:
        return quote(text, safe="") + rng.choice(RAW_QUERY_JUNK)
    return quote(text, safe="/" if pick < 0.3 else "")


def _query(rng: random.Random, pairs: list[tuple[str, str]]) -> str:
    parts = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs]
    if rng.random() < 0.15:
        parts.append(f"{rng.choice([k for k, _ in pairs] or ['x'])}={rng.choice(RAW_QUERY_JUNK)}")
    rng.shuffle(parts)
    return ("?" + "&".join(parts)) if parts else ""


def _number_text(rng: random.Random, low: float, high: float) -> str:
    """A number in [low, high], just outside it, or junk."""
    pick = rng.random()
    if pick < 0.5:
        return repr(round(rng.uniform(low, high), 6))
    if pick < 0.7:
        return repr(rng.choice([low - 1e-6, high + 1e-6, -high, high * 1e6, 0.0, -0.0]))
    return rng.choice(JUNK_TEXT)


class Fuzzer:
    """Builds the fuzz requests from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, ids: Ids):
        self.rng = rng
        self.ids = ids
        self.t3 = ids.grids[3]
        self.semantic_turn = 0

    def text(self) -> str:
        """A path segment or parameter value: junk, near-miss ids, random Unicode."""
        rng = self.rng
        pick = rng.random()
        if pick < 0.6:
            return rng.choice(JUNK_TEXT)
        if pick < 0.75:
            return rng.choice(self.t3 + self.ids.grids[2]) + rng.choice(["", " ", "x", "\x00"])
        if pick < 0.85:
            return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
        return self.customer() + rng.choice(["", "", "0", " ", "-1"])

    def customer(self) -> str:
        """A customer id, often one whose answer is not plain ``ok``."""
        rng = self.rng
        return rng.choice(self.ids.odd_customers if rng.random() < 0.5 else self.ids.customers)

    # -- GETs ------------------------------------------------------------ #

    def cheap_get(self) -> Call:
        """Requests refused by validation or answered from small tables."""
        rng = self.rng
        kind = rng.choice(["health", "grids", "grids", "versions", "grid", "grid", "paging"])
        if kind == "health":
            return Call("GET", "/health" + _query(rng, [("x", self.text())]))
        if kind == "versions":
            return Call("GET", "/grids/versions" + _query(rng, [("version", self.text())]))
        if kind == "grids":
            pairs = []
            for name in rng.sample(["tier", "version", "tier", "bbox"], rng.randrange(1, 4)):
                value = rng.choice(["1", "2", "3", "0", "4", "-1", "1.0", "3e0", self.text()])
                pairs.append((name, value))
            return Call("GET", "/grids" + _query(rng, pairs))
        if kind == "grid":
            return Call("GET", "/grids/" + _segment(rng, self.text()))
        # paging refused before any grid is read, or an unknown grid
        pairs = [
            (name, rng.choice(["0", "-1", "1001", "10000", "1.5", "nan", self.text()]))
            for name in rng.sample(["limit", "offset"], rng.randrange(1, 3))
        ]
        grid = rng.choice([*self.t3, self.text()]) if pairs else self.text()
        return Call("GET", f"/grids/{_segment(rng, grid)}/customers" + _query(rng, pairs))

    def data_get(self) -> Call:
        """Requests that read the whole customers layer."""
        rng = self.rng
        if rng.random() < 0.6:
            return Call("GET", "/customers/" + _segment(rng, self.text()))
        grid = rng.choice(self.t3 + self.ids.grids[1])
        pairs = [
            ("limit", rng.choice(["1", "1000", "7"])),
            ("offset", rng.choice(["0", "5", str(2**63), "9" * 60])),
        ]
        return Call("GET", f"/grids/{quote(grid)}/customers" + _query(rng, pairs))

    def dispatch(self) -> Call:
        return Call("GET", "/dispatch" + _query(self.rng, self.dispatch_params()))

    def dispatch_params(self) -> list[tuple[str, str]]:
        rng = self.rng
        minx, miny, maxx, maxy = self.ids.bbox
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        how = rng.choices(list(DISPATCH_HOW), weights=list(DISPATCH_HOW.values()))[0]
        pairs: list[tuple[str, str]] = []
        if how == "point":
            pairs = [("lon", f"{lon:.6f}"), ("lat", f"{lat:.6f}")]
        elif how == "swapped":
            pairs = [("lon", f"{lat:.6f}"), ("lat", f"{lon:.6f}")]
        elif how == "abroad":
            lon, lat = rng.choice([(10.0, 10.0), (0.0, 0.0), (-116.5, -27.2), (180.0, 90.0)])
            pairs = [("lon", repr(lon)), ("lat", repr(lat))]
        elif how == "far":  # in China, far from the county: too far from any road
            lon, lat = rng.choice([(121.47, 31.23), (87.6, 43.8), (113.26, 23.13)])
            pairs = [("lon", repr(lon)), ("lat", repr(lat))]
        elif how == "junk":
            pairs = [("lon", _number_text(rng, -180, 180)), ("lat", _number_text(rng, -90, 90))]
            rng.shuffle(pairs)
            pairs = pairs[: rng.randrange(1, 3)]
        elif how == "customer":
            pairs = [("customer_id", rng.choice([self.customer(), self.text()]))]
        else:
            town = rng.choice(["三溪乡", "琴城镇", "傅坊乡", "", "火星"])
            pairs = [("address", rng.choice([f"南丰县{town}三溪村5组", self.text()]))]
        if rng.random() < 0.4:
            pairs.append(("datum", rng.choice(DATUMS)))
        if rng.random() < 0.3:
            pairs.append(("limit_min", _number_text(rng, 1, 600)))
        if rng.random() < 0.15:
            pairs.append(rng.choice(pairs))  # a duplicate parameter
        return pairs

    def wrong_route(self) -> Call:
        rng = self.rng
        method, path = rng.choice(
            [
                ("DELETE", "/grids/T1-361023"),
                ("PUT", "/grids/save"),
                ("PATCH", "/customers/3610230000001"),
                ("POST", "/grids"),
                ("POST", "/kpis"),
                ("OPTIONS", "/dispatch"),
                ("GET", "/grids/preview"),
                ("GET", "/grids/save"),
                ("GET", "/etc/passwd"),
                ("GET", "/grids/T1-361023/customers/extra"),
                ("GET", "/grids/" + quote("../../etc/passwd", safe="")),
                ("GET", "/customers"),
                ("GET", "/admin/../grids/versions/../../health"),
                ("GET", "/" + quote(self.text(), safe="")),
            ]
        )
        return Call(method, path)

    def plan(self) -> Call:
        rng = self.rng
        pairs = []
        if rng.random() < 0.8:
            pairs.append(("service", rng.choice(["repair", "payment", self.text()])))
        if rng.random() < 0.8:
            pairs.append(("k", rng.choice(["1", "3", "20", "0", "21", "-1", "2.5", self.text()])))
        if rng.random() < 0.5:
            pairs.append(("method", rng.choice(["exact", "greedy", self.text()])))
        if rng.random() < 0.4:
            pairs.append(("limit_min", _number_text(rng, 0, 700)))
        return Call("GET", "/plan/sites" + _query(rng, pairs))

    def kpis(self) -> Call:
        return Call("GET", "/kpis" + _query(self.rng, [("tier", self.text())]))

    def validate(self) -> Call:
        return Call("GET", "/grids/validate" + _query(self.rng, [("version", self.text())]))

    # -- POST bodies ------------------------------------------------------ #

    def _post(self, content: bytes, *, save: bool | None = None, json_type: bool = True) -> Call:
        if save is None:
            save = self.rng.random() < 0.5
        url = "/grids/save" if save else "/grids/preview"
        return Call("POST", url, content, dict(_JSON) if json_type else {})

    def raw_body(self) -> Call:
        rng = self.rng
        content = rng.choice(
            [
                b"",
                b"{not json",
                b"{'op': 'split'}",
                b'{"op": "split", "grid_id": "T3-SUB01-01"',
                b"\xff\xfe\x00{}",
                b"\x00" * 64,
                bytes(rng.randrange(256) for _ in range(200)),
                b'{"op": "split", "grid_id": "\xc3\x28"}',
                b"[" * 5000 + b"]" * 5000,
                b'{"op": ' * 3000 + b"1" + b"}" * 3000,
                b'{"k": 1' + b"0" * 5000 + b"}",
                b"op=split&grid_id=T3-SUB01-01",
                "网格拆分".encode("gb18030"),
            ]
        )
        json_type = rng.random() < 0.75
        call = self._post(content, json_type=json_type)
        if not json_type and rng.random() < 0.5:
            return Call(call.method, call.url, call.content, {"content-type": "text/plain"})
        return call

    def json_junk(self) -> Call:
        value = self.rng.choice([*JUNK_JSON, [self.template(save=True)], "op=split"])
        return self._post(_dump(value))

    def template(self, *, save: bool) -> dict[str, Any]:
        """A well-formed edit of existing grids (a stale ``expected_version`` when saved)."""
        rng = self.rng
        op = rng.choice(["move", "split", "merge"])
        grid = rng.choice(self.t3)
        body: dict[str, Any] = {"op": op}
        if op == "move":
            body |= {"village_codes": self.ids.villages_of[grid][:1], "to_grid_id": grid}
        elif op == "split":
            body |= {"grid_id": grid, "k": 2}
        else:
            body |= {"grid_ids": list(rng.choice(self.ids.apart))}
        if save:
            body |= {"author": "fuzz", "reason": "fuzz", "expected_version": self.stale()}
        return body

    def stale(self) -> Any:
        """An ``expected_version`` that is never the current version (1)."""
        return self.rng.choice([2, 3, 99, 2**63, 10**30])

    def bad_edit(self) -> Call:
        """A body that breaks the schema (checked here with the schema itself)."""
        rng = self.rng
        save = rng.random() < 0.5
        model = GridSave if save else GridEdit
        for _ in range(100):
            body = self.template(save=save)
            for _ in range(rng.randrange(1, 4)):
                how = rng.random()
                key = rng.choice([*body, "op", "k", "expected_version", "geometry", "colour"])
                if how < 0.3:
                    body.pop(key, None)
                elif how < 0.5 and key in ("village_codes", "grid_ids"):
                    body[key] = [rng.choice(JUNK_JSON) for _ in range(rng.choice([1, 3, 20000]))]
                else:
                    body[key] = rng.choice([*JUNK_JSON, self.text(), "zap", 0, 1, 2])
            try:
                model.model_validate(body)
            except ValidationError:
                return self._post(_dump(body), save=save, json_type=True)
        msg = "no invalid body in 100 tries"
        raise AssertionError(msg)

    def semantic_edit(self) -> Call:
        """A body the schema accepts whose edit is invalid, or valid but stale when saved."""
        rng = self.rng
        ids = self.ids
        a, b = rng.choice(ids.apart)
        village = rng.choice(ids.villages_of[a])
        t2, t1 = rng.choice(ids.grids[2]), ids.grids[1][0]
        invalid: list[tuple[dict[str, Any], frozenset[int]]] = [
            ({"op": "split", "grid_id": "T3-NOPE-99"}, frozenset({404})),
            ({"op": "split", "grid_id": rng.choice([t1, t2])}, frozenset({400})),
            ({"op": "split", "grid_id": a, "k": len(ids.villages_of[a]) + 1}, frozenset({400})),
            ({"op": "split", "grid_id": a, "k": 10**30}, frozenset({400})),
            ({"op": "merge", "grid_ids": [a, a]}, frozenset({400})),
            ({"op": "merge", "grid_ids": [a, "T3-NOPE-99"]}, frozenset({404})),
            ({"op": "merge", "grid_ids": [t2, a]}, frozenset({400})),
            ({"op": "move", "village_codes": ["0" * 12], "to_grid_id": b}, frozenset({404})),
            ({"op": "move", "village_codes": [village], "to_grid_id": "T3-NOPE"}, frozenset({404})),
            ({"op": "move", "village_codes": [village], "to_grid_id": t2}, frozenset({400})),
        ]
        # previews of these succeed; saved with a stale version they are refused: 409, or
        # 422 first where the edit joins or moves across grids apart (topology problems)
        valid: list[tuple[dict[str, Any], frozenset[int]]] = [
            ({"op": "split", "grid_id": f"  {a}  "}, frozenset({409})),
            ({"op": "merge", "grid_ids": [a, b]}, frozenset({422})),
            ({"op": "move", "village_codes": [village] * 20000, "to_grid_id": b}, frozenset({422})),
            ({"op": "move", "village_codes": [village], "to_grid_id": a}, frozenset({409})),
        ]
        # the kinds take turns, so that every one of them is sent whatever the seed
        turn = self.semantic_turn % 5
        self.semantic_turn += 1
        if turn == 0:
            body, expect = rng.choice(invalid)
            return Call("POST", "/grids/preview", _dump(body), _JSON, expect)
        if turn == 1:  # certainly invalid, so even the current version saves nothing
            body, expect = rng.choice(invalid)
            body = body | {"author": "fuzz", "reason": "fuzz", "expected_version": 1}
            return Call("POST", "/grids/save", _dump(body), _JSON, expect)
        if turn == 2:
            body, _ = rng.choice(valid)
            return Call("POST", "/grids/preview", _dump(body), _JSON, frozenset({200}))
        if turn == 3:  # a valid edit, stale
            body, expect = rng.choice([v for v in valid if v[1] == frozenset({409})])
            version = self.stale()
        else:  # an edit refused by its topology, or a version that is no JSON integer
            body, expect = rng.choice(valid)
            version = rng.choice([self.stale(), *LAX_VERSIONS])
            if type(version) is not int:
                expect = frozenset({422})
        body = body | {"author": "模糊测试", "reason": "fuzz", "expected_version": version}
        return Call("POST", "/grids/save", _dump(body), _JSON, expect)

    def calls(self) -> list[Call]:
        plan: list[tuple[Callable[[], Call], int]] = [
            (self.cheap_get, N_CHEAP_GETS),
            (self.dispatch, N_DISPATCHES),
            (self.data_get, N_DATA_GETS),
            (self.wrong_route, N_WRONG_ROUTES),
            (self.kpis, 1),
            (self.plan, N_PLANS),
            (self.validate, 2),
            (self.raw_body, N_RAW_BODIES),
            (self.json_junk, N_JSON_JUNK),
            (self.bad_edit, N_BAD_EDITS),
            (self.semantic_edit, N_SEMANTIC_EDITS),
        ]
        calls = [make() for make, n in plan for _ in range(n)]
        self.rng.shuffle(calls)
        return calls


_JSON = {"content-type": "application/json"}


def _dump(value: Any) -> bytes:
    # allow_nan: NaN and Infinity are junk a careless client does send
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- #
# checks


def _problem(call: Call, response: httpx.Response, leaks: tuple[str, ...]) -> str | None:
    """What is wrong with the answer to ``call``, or None."""
    status = response.status_code
    if status >= 500:
        return f"status {status}"
    if call.expect is not None and status not in call.expect:
        return f"status {status}, expected one of {sorted(call.expect)}"
    if call.method == "POST" and call.url == "/grids/save" and status < 300:
        return "a fuzz save was accepted"
    try:
        body = response.json()
    except ValueError:
        return f"status {status} with a body that is no JSON"
    if status >= 400:
        if not (isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]):
            return f"status {status} without a non-empty string `detail`"
        leaked = [leak for leak in leaks if leak in response.text]
        if leaked:
            return f"status {status} leaks {leaked!r}"
    return None


def _could_save(call: Call) -> bool:
    """Whether ``call`` is a save of the current version (1) not known to be refused."""
    if (call.method, call.url) != ("POST", "/grids/save") or call.content is None:
        return False
    try:  # as the service reads it: json.loads (NaN allowed), then the schema
        edit = GridSave.model_validate(json.loads(call.content))
    except (ValueError, RecursionError):  # ValidationError is a ValueError
        return False
    return edit.expected_version == 1 and (call.expect is None or 200 in call.expect)


def _route(call: Call) -> str:
    """The endpoint a request was aimed at, for the summary."""
    parts = call.url.split("?")[0].split("/")
    if parts[1] not in ("health", "grids", "customers", "kpis", "dispatch"):
        return f"{call.method} (other paths)"
    if parts[1] == "grids" and len(parts) > 2:
        known = ("versions", "validate", "preview", "save")
        parts[2] = parts[2] if parts[2] in known else "{grid_id}"
    if parts[1] == "customers" and len(parts) > 2:
        parts[2] = "{customer_id}"
    return f"{call.method} {'/'.join(parts[:4])}"


def _snapshot(server: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The versions, the current grids and the state of the file (``headers``: a login)."""
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        versions = http.get("/grids/versions")
        grids = http.get("/grids")
    assert versions.status_code == 200 and grids.status_code == 200
    with sqlite3.connect(server.workspace) as con:
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        stored = con.execute("SELECT * FROM gridgeo_versions ORDER BY layer, version").fetchall()
        rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _TABLES}
    return {
        "versions": versions.json(),
        "grids_sha256": hashlib.sha256(grids.content).hexdigest(),
        "integrity_check": integrity,
        "gridgeo_versions": stored,
        "rows": rows,
    }


_TABLES = ("grids", "grids_history", "customers", "customer_access", "villages")


def test_fuzz_answers_every_request_cleanly_and_loses_nothing(
    serve, admin_headers, writable, ids, leaks
):
    server = serve(writable)
    headers = admin_headers  # every route but /health needs a login
    before = _snapshot(server, headers)
    assert before["integrity_check"] == [("ok",)]
    calls = Fuzzer(random.Random(SEED), ids).calls()
    assert len(calls) >= 300
    for call in calls:  # by design no fuzz save can succeed: invalid, or stale
        assert not _could_save(call), call.describe()
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    by_route: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    spent_s: collections.Counter[str] = collections.Counter()
    busy = 0
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        for call in calls:
            start = time.perf_counter()
            try:
                response = http.request(
                    call.method, call.url, content=call.content, headers=call.headers
                )
                # the heavy-request limit (503 "Busy" with Retry-After) answers while a heavy
                # computation that outlived its request still runs, on a loaded machine; the
                # client waits as told and asks again: the request must get its own answer
                for _ in range(BUSY_RETRIES):
                    if response.status_code != 503 or "retry-after" not in response.headers:
                        break
                    busy += 1
                    time.sleep(min(float(response.headers["retry-after"]), 10.0))
                    response = http.request(
                        call.method, call.url, content=call.content, headers=call.headers
                    )
            except httpx.HTTPError as err:  # a hang (timeout) or a dropped connection
                failures.append(f"{call.describe()}: {type(err).__name__} {err}")
                continue
            elapsed_s = time.perf_counter() - start
            slowest = max(slowest, (elapsed_s, call.describe()))
            route = _route(call)
            by_route[route][response.status_code] += 1
            spent_s[route] += elapsed_s
            statuses[response.status_code] += 1
            problem = _problem(call, response, leaks)
            if problem:
                failures.append(f"{call.describe()}: {problem}: {response.text[:300]}")
    histogram = dict(sorted(statuses.items()))
    print(
        f"\n{len(calls)} fuzz requests, status codes {histogram}, slowest {slowest}, "
        f"busy answers waited out {busy}"
    )
    for route, codes in sorted(by_route.items()):
        print(f"  {route}: {dict(sorted(codes.items()))} in {spent_s[route]:.1f} s")
    assert not failures, f"{len(failures)} bad answer(s):\n" + "\n".join(failures[:20])
    assert server.process.poll() is None, "the server died during the fuzz"
    assert "unexpected error" not in server.log_text()
    # the fuzz reached the service's own answers, not only the router's
    assert {200, 400, 404, 409, 422} <= set(statuses)
    after = _snapshot(server, headers)
    assert after == before


# --------------------------------------------------------------------------- #
# load


def test_concurrent_reads_answer_like_single_ones(serve, admin_headers, writable, ids):
    server = serve(writable)
    headers = admin_headers  # every route but /health needs a login
    rng = random.Random(SEED)
    customers = rng.sample(ids.customers, 3)
    heavy = [
        f"/customers/{customers[0]}",
        "/kpis",
        f"/dispatch?customer_id={customers[1]}",
        f"/dispatch?customer_id={customers[2]}&limit_min=10",
    ]
    light = [
        "/grids",
        "/grids?tier=3",
        "/grids/versions",
        f"/grids/{quote(ids.grids[2][0])}",
        f"/grids/{quote(ids.grids[3][-1])}",
    ]
    requests = heavy + light
    plans = []
    for i in range(N_LOAD_THREADS):
        order = [h for h in heavy if h != heavy[i % len(heavy)]] + light * N_LIGHT_ROUNDS
        rng.shuffle(order)
        plans.append(order)
    barrier = threading.Barrier(N_LOAD_THREADS, timeout=REQUEST_TIMEOUT_S)
    results: list[list[tuple[str, int, bytes]]] = [[] for _ in plans]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with httpx.Client(
                base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers
            ) as http:
                barrier.wait()
                for url in plans[i]:
                    response = http.get(url)
                    results[i].append((url, response.status_code, response.content))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    # cold server: the first dispatches build the road engine while others run
    threads = [threading.Thread(target=run, args=(i,)) for i in range(N_LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        alone = {url: http.get(url) for url in requests}
    assert all(r.status_code == 200 for r in alone.values())
    done = [item for result in results for item in result]
    assert len(done) == N_LOAD_THREADS * (len(heavy) - 1 + len(light) * N_LIGHT_ROUNDS)
    assert {url for url, _, _ in done} == set(requests)
    for url, status, content in done:
        assert status == 200, (url, content[:300])
        assert content == alone[url].content, f"{url} answered differently under load"


def test_concurrent_saves_on_one_version_keep_exactly_one(
    serve, admin_headers, writable, workspace, leaks
):
    server = serve(writable)
    headers = admin_headers  # every route but /health needs a login
    with sqlite3.connect(workspace) as con:
        splittable = [
            r[0]
            for r in con.execute(
                "SELECT grid_id FROM grids WHERE tier = 3 AND n_villages >= 2 "
                "ORDER BY customers DESC, grid_id"
            )
        ]
    targets = splittable[:N_RACERS]
    assert len(targets) == N_RACERS
    before = _snapshot(server, headers)
    assert [v["version"] for v in before["versions"]] == [1]
    barrier = threading.Barrier(N_RACERS + 1, timeout=REQUEST_TIMEOUT_S)
    answers: dict[int, httpx.Response] = {}
    seen_grids: list[str] = []
    errors: list[BaseException] = []
    saving = threading.Event()
    saving.set()

    def save(i: int) -> None:
        body = {
            "op": "split",
            "grid_id": targets[i],
            "k": 2,
            "author": f"并发规划员 {i}",
            "reason": f"concurrent split {i}",
            "expected_version": 1,
        }
        try:
            with httpx.Client(
                base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers
            ) as http:
                barrier.wait()
                answers[i] = http.post("/grids/save", json=body)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    def read() -> None:
        # a reader during the saves sees version 1 or version 2, never a mix
        try:
            with httpx.Client(
                base_url=server.url, timeout=REQUEST_TIMEOUT_S, headers=headers
            ) as http:
                barrier.wait()
                while saving.is_set():
                    response = http.get("/grids")
                    assert response.status_code == 200
                    seen_grids.append(hashlib.sha256(response.content).hexdigest())
                    time.sleep(READ_PAUSE_S)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    savers = [threading.Thread(target=save, args=(i,)) for i in range(N_RACERS)]
    reader = threading.Thread(target=read)
    for thread in [*savers, reader]:
        thread.start()
    for thread in savers:
        thread.join()
    saving.clear()
    reader.join()
    assert not errors, errors

    codes = sorted(r.status_code for r in answers.values())
    assert codes == [200] + [409] * (N_RACERS - 1), [r.text[:300] for r in answers.values()]
    (winner,) = [i for i, r in answers.items() if r.status_code == 200]
    assert answers[winner].json()["version"] == 2
    for i, response in answers.items():
        if i != winner:
            body = response.json()
            assert body["error"] == "ConflictError"
            assert "version 2" in body["detail"] and "expected_version" in body["detail"]
            for leak in leaks:
                assert leak not in response.text

    after = _snapshot(server, headers)
    assert after["integrity_check"] == [("ok",)]
    assert after["versions"][:1] == before["versions"]
    assert [v["version"] for v in after["versions"]] == [1, 2]
    assert after["versions"][1]["author"] == f"并发规划员 {winner}"
    assert after["rows"]["grids"] == before["rows"]["grids"] + 1  # a split adds one grid
    with sqlite3.connect(writable) as con:
        sql = "SELECT grid_id FROM grids WHERE version = 2 AND tier = 3 ORDER BY grid_id"
        new = [r[0] for r in con.execute(sql)]
    # the winner's grid and its new half; the other edits left no trace
    assert targets[winner] in new and len(new) == 2
    substation = targets[winner].split("-")[1]
    assert all(g.startswith(f"T3-{substation}-") for g in new)
    # what the reader saw during the race is version 1 or version 2, whole
    assert seen_grids
    whole = {before["grids_sha256"], after["grids_sha256"]}
    assert set(seen_grids) <= whole, "a reader saw grids of neither version"


@pytest.mark.parametrize("version", LAX_VERSIONS)
def test_save_refuses_a_version_that_is_no_json_integer(writer, writable, clean_error, version):
    # found by the fuzz: `true` was read as version 1 and the edit was saved
    body = {"op": "split", "grid_id": "T3-SUB01-01", "author": "a", "reason": "r"}
    response = writer.post("/grids/save", json=body | {"expected_version": version})
    out = clean_error(response, 422, "expected_version")
    assert out["errors"][0]["field"] == "body.expected_version"
    with sqlite3.connect(writable) as con:
        versions = con.execute("SELECT version FROM gridgeo_versions WHERE layer = 'grids'")
        assert [r[0] for r in versions] == [1]
