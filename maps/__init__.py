"""Folium map builders over gridgeo results (offline HTML for planners and leadership)."""
