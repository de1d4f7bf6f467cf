"""Exceptions raised by gridgeo.

Every error a user can cause derives from :class:`GridGeoError`. The narrow
classes also subclass the builtin that fits (``ValueError``, ``LookupError``),
so callers that only know the builtins still catch them. Messages name the
file, column, row or parameter at fault and say how to fix it; the API maps
each class to an HTTP status in one table (``api/errors.py``) and the CLI
prints the message and exits non-zero.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CRSError",
    "ConflictError",
    "CoordinateError",
    "CorruptFileError",
    "DuplicateIdError",
    "EmptyDataError",
    "GraphError",
    "GridGeoError",
    "GridTopologyError",
    "InputError",
    "InvalidGeometryError",
    "MissingColumnError",
    "NotFoundError",
]


class GridGeoError(Exception):
    """Root of every error gridgeo raises on purpose."""


class InputError(GridGeoError, ValueError):
    """Input data or a parameter is not usable as given."""


class CRSError(InputError):
    """Missing, unknown or unsuitable coordinate reference system or datum."""


class MissingColumnError(InputError, KeyError):
    """A required column is not in the file or table."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class EmptyDataError(InputError):
    """A file, layer or table holds no rows."""


class CorruptFileError(InputError):
    """A file cannot be read: wrong format, truncated or damaged."""


class InvalidGeometryError(InputError):
    """Geometries are invalid, empty, missing or of the wrong type."""


class DuplicateIdError(InputError):
    """An id column holds the same value more than once."""


class GridTopologyError(InvalidGeometryError):
    """A build or an edit would break a topology rule of the service grids.

    Attributes
    ----------
    problems
        The problems found by :func:`gridgeo.grids.validate_grids`, each a dict
        with ``problem``, ``grid_id``, ``other_id``, ``area_m2``, ``location``.
    """

    def __init__(self, msg: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(msg)
        self.problems = problems


class CoordinateError(InputError):
    """Coordinates are unusable: swapped lon/lat, outside China or the area."""


class GraphError(InputError):
    """A road graph cannot be built or is not usable."""


class NotFoundError(GridGeoError, LookupError):
    """A named thing (grid, station, version, layer, file) does not exist."""


class ConflictError(GridGeoError):
    """An edit was based on a stale version of the stored data."""
