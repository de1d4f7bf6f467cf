"""The gridgeo FastAPI service: thin routers over the gridgeo library.

Run it over a workspace GeoPackage (``gridgeo demo --out DIR`` writes one)::

    GRIDGEO_WORKSPACE=DIR/workspace.gpkg uvicorn --factory api.main:create_app

Endpoints: ``/health``; ``/grids`` (GeoJSON, ``?tier=&version=``),
``/grids/{grid_id}``, ``/grids/{grid_id}/customers``, ``/grids/versions``,
``/grids/validate``, ``POST /grids/preview``, ``POST /grids/save``;
``/customers/{customer_id}``; ``/kpis``; ``/dispatch`` (``POST`` also creates the work
order); ``/orders`` (paged, filtered; ``POST``), ``/orders/{order_id}`` (with its history;
``PATCH``); ``/figures``; ``/reports/month/{month}`` (json, xlsx, html); ``/stars``;
``/watch``.
"""
