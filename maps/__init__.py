"""Folium map builders over gridgeo results (offline HTML for planners and leadership)."""

from __future__ import annotations

from maps.overview import county_overview_map, offline_html, save_offline

__all__ = ["county_overview_map", "offline_html", "save_offline"]
