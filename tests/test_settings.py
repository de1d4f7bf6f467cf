"""The promises and rules in one settings object (gridgeo.settings)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gridgeo
from gridgeo.errors import InputError
from gridgeo.settings import DEFAULT_SETTINGS, MODES, ServiceSettings

PACKAGE_DIR = Path(gridgeo.__file__).parent


def test_defaults_are_the_county_promises() -> None:
    s = DEFAULT_SETTINGS
    assert s.repair_limit_s == 30 * 60  # 30 minutes
    assert s.payment_limit_s == 10 * 60  # 10 minutes
    assert s.payment_mode == "two_wheeler"
    assert s.walk_speed_kph == 4.5
    assert s.bands_s == (600.0, 1200.0, 1800.0)
    assert s.limit_s("repair") == 1800.0
    assert s.limit_s("payment") == 600.0
    assert s.mode("repair") == "drive"
    assert s.mode("payment") == "two_wheeler"
    assert MODES == ("drive", "two_wheeler", "walk")


def test_every_module_reads_the_settings() -> None:
    # the public defaults of the modules are the settings' values, not copies of them
    s = ServiceSettings()
    assert s.repair_limit_s == gridgeo.DEFAULT_REPAIR_LIMIT_S
    assert s.payment_limit_s == gridgeo.DEFAULT_PAYMENT_LIMIT_S
    assert s.payment_mode == gridgeo.DEFAULT_PAYMENT_MODE
    assert s.bands_s == gridgeo.DEFAULT_BANDS_S
    assert s.max_snap_m == gridgeo.DEFAULT_MAX_SNAP_M
    assert s.min_component_nodes == gridgeo.DEFAULT_MIN_COMPONENT_NODES
    assert s.walk_speed_kph == gridgeo.WALK_SPEED_KPH
    assert s.repair_limit_s == gridgeo.DEFAULT_DISPATCH_LIMIT_S


# literals that belong to the settings: no other module of gridgeo assigns them to a name
_OWNED = {"EPSG:4326", 1800.0, 600.0, 4.5, "two_wheeler"}


def _literal_assignments(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:  # module level
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            value = node.value.value
            if not isinstance(value, bool) and value in _OWNED:
                found.append(f"{path.name}:{node.lineno} = {value!r}")
    return found


def test_no_module_repeats_a_setting() -> None:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path.name in ("settings.py",) or path.name.startswith("_sample"):
            continue
        found += _literal_assignments(path)
    assert not found, "settings repeated as module constants:\n" + "\n".join(found)


def test_the_literal_check_finds_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text('CRS = "EPSG:4326"\nLIMIT = 1800.0\nOTHER = 3\n', encoding="utf-8")
    assert len(_literal_assignments(path)) == 2


def test_replace_checks_and_keeps_the_original() -> None:
    mountain = DEFAULT_SETTINGS.replace(repair_limit_s=45 * 60)
    assert mountain.repair_limit_s == 2700.0
    assert DEFAULT_SETTINGS.repair_limit_s == 1800.0
    with pytest.raises(InputError, match="unknown setting"):
        DEFAULT_SETTINGS.replace(repair_limit_min=45)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"repair_limit_s": 0}, "repair_limit_s"),
        ({"payment_limit_s": -5}, "payment_limit_s"),
        ({"payment_limit_s": float("nan")}, "payment_limit_s"),
        ({"walk_speed_kph": True}, "walk_speed_kph"),
        ({"payment_mode": "bus"}, "payment_mode.*drive"),
        ({"min_component_nodes": 0}, "min_component_nodes"),
        ({"bands_s": (1200.0, 600.0)}, "bands_s.*increasing"),
        ({"bands_s": ()}, "bands_s"),
        ({"bands_s": 600}, "bands_s"),
        ({"crs": "EPSG:3857"}, "crs"),
    ],
)
def test_bad_settings_are_refused(changes: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ServiceSettings(**changes)


def test_service_names_are_checked() -> None:
    with pytest.raises(InputError, match=r"service.*repair"):
        DEFAULT_SETTINGS.limit_s("bus")  # type: ignore[arg-type]
