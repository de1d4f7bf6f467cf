"""The gridgeo FastAPI service: thin routers over the gridgeo library."""
