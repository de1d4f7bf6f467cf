"""One router per resource: health, grids, customers, kpis."""
