"""The vendored browser assets (api/static/vendor) and the rule that CI cannot skip."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from liveserver import cannot_run

VENDOR = Path(__file__).resolve().parents[2] / "api" / "static" / "vendor"
MAX_TOTAL_BYTES = 5 * 1024 * 1024
PACKAGES = {
    "leaflet-1.9.4",
    "leaflet-geoman-free-2.20.2",
    "htmx.org-2.0.11",
    "swagger-ui-dist-5.36.0",
    "redoc-2.5.4",
}


def _listed_sums() -> dict[str, str]:
    """``{folder/file: sha256}`` from the code blocks under README.md's ``### folder`` heads."""
    sums: dict[str, str] = {}
    folder = None
    for line in (VENDOR / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            folder = line[4:].strip()
        elif folder and (found := re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)):
            sums[f"{folder}/{found.group(2)}"] = found.group(1)
    return sums


def test_every_vendored_file_is_listed_with_its_sha256():
    on_disk = {
        path.relative_to(VENDOR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in VENDOR.rglob("*")
        if path.is_file() and path.parent != VENDOR
    }
    assert {name.split("/")[0] for name in on_disk} == PACKAGES
    assert on_disk == _listed_sums()


def test_each_package_carries_its_licence_and_no_source_maps():
    for package in PACKAGES:
        assert (VENDOR / package / "LICENSE").stat().st_size > 100, package
    licences = {p: (VENDOR / p / "LICENSE").read_text(encoding="utf-8") for p in PACKAGES}
    assert "BSD 2-Clause License" in licences["leaflet-1.9.4"]
    assert "Apache License" in licences["swagger-ui-dist-5.36.0"]
    for package in ("leaflet-geoman-free-2.20.2", "redoc-2.5.4"):
        assert "MIT License" in licences[package]
    assert "Zero-Clause BSD" in licences["htmx.org-2.0.11"]
    files = [p for p in VENDOR.rglob("*") if p.is_file()]
    assert not [p.name for p in files if p.suffix == ".map"]
    assert sum(p.stat().st_size for p in files) < MAX_TOTAL_BYTES


def test_the_bundles_are_the_versions_named():
    def head(path: str) -> str:
        return (VENDOR / path).read_text(encoding="utf-8")[:2000]

    assert "Leaflet 1.9.4" in head("leaflet-1.9.4/leaflet.js")
    assert 'Version: "2.5.4"' in (VENDOR / "redoc-2.5.4/redoc.standalone.js.LICENSE.txt").read_text(
        encoding="utf-8"
    )
    assert 'version:"2.0.11"' in (VENDOR / "htmx.org-2.0.11/htmx.min.js").read_text(
        encoding="utf-8"
    ).replace(" ", "")


def test_a_missing_tool_skips_locally_but_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no Chromium \(apt-get install chromium\)"):
        cannot_run("no Chromium", "apt-get install chromium")
    for value in ("true", "TRUE", "1"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="under CI=true this test must run"):
            cannot_run("no Chromium", "apt-get install chromium")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        cannot_run("no Chromium", "apt-get install chromium")
