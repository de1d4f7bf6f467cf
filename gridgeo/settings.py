"""The service promises and the rules of reach, in one place.

Every module, the CLI, the API and the maps read these instead of repeating literals:

========================  ===========  ====================================================
setting                   default      meaning
========================  ===========  ====================================================
``repair_limit_s``        1,800 s      a repair crew reaches any fault within 30 minutes
``payment_limit_s``       600 s        every customer reaches a payment point in 10 minutes
``payment_mode``          two_wheeler  how customers travel to pay (see :mod:`gridgeo.reach`)
``walk_speed_kph``        4.5 km/h     off-road legs and the walk mode
``max_snap_m``            500 m        farther from every road: ``too_far_from_road``
``min_component_nodes``   20           smaller road pieces are "isolated pieces"
``bands_s``               10/20/30 min the isochrone bands of the county map
``crs``                   EPSG:4326    what is stored, read and served (lon, lat)
========================  ===========  ====================================================

:data:`DEFAULT_SETTINGS` holds the defaults; a county with other promises (say 45 minutes in
its mountain townships' supply grids) makes its own with :meth:`ServiceSettings.replace`, which
checks every value. The travel modes, services and siting methods are typed as ``Literal``s
(:data:`Mode`, :data:`Service`, :data:`SitingMethod`) with their valid values in
:data:`MODES`, :data:`SERVICES` and :data:`SITING_METHODS`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from gridgeo.errors import InputError

__all__ = [
    "CRS",
    "DEFAULT_SETTINGS",
    "MODES",
    "SERVICES",
    "SITING_METHODS",
    "Mode",
    "Service",
    "ServiceSettings",
    "SitingMethod",
    "check_choice",
]

Mode = Literal["drive", "two_wheeler", "walk"]
Service = Literal["repair", "payment"]
SitingMethod = Literal["exact", "greedy"]

MODES: tuple[Mode, ...] = get_args(Mode)
SERVICES: tuple[Service, ...] = get_args(Service)
SITING_METHODS: tuple[SitingMethod, ...] = get_args(SitingMethod)

CRS = "EPSG:4326"


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> Any:
    """``value`` if it is one of ``choices``, else an :class:`InputError` listing them."""
    if not isinstance(value, str) or value not in choices:
        msg = f"`{name}` must be one of {choices!r}, got {value!r}"
        raise InputError(msg)
    return value


def _positive(value: Any, name: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        msg = f"`{name}` must be a positive number, got {value!r}"
        raise InputError(msg)
    return float(value)


@dataclass(frozen=True)
class ServiceSettings:
    """
    The promises of grid-based supply service and the rules the reach computations follow.

    Parameters
    ----------
    repair_limit_s
        The repair promise: a crew on site within this many seconds (1,800 = 30 minutes).
    payment_limit_s
        The payment promise: a payment point within this many seconds (600 = 10 minutes).
    payment_mode
        Travel mode of the payment trip, one of :data:`MODES`.
    walk_speed_kph
        Speed of off-road legs (and of the walk mode's default speeds).
    max_snap_m
        Largest distance from a point to a road at which it is still joined to the road.
    min_component_nodes
        Road pieces with fewer nodes (other than the largest) are small isolated pieces.
    bands_s
        Upper bounds of the isochrone bands, seconds, increasing.
    crs
        The CRS of everything stored, read and served.

    Raises
    ------
    InputError
        If a value is out of range (the message names the setting).
    """

    repair_limit_s: float = 1800.0
    payment_limit_s: float = 600.0
    payment_mode: Mode = "two_wheeler"
    walk_speed_kph: float = 4.5
    max_snap_m: float = 500.0
    min_component_nodes: int = 20
    bands_s: tuple[float, ...] = (600.0, 1200.0, 1800.0)
    crs: str = CRS

    def __post_init__(self) -> None:
        for name in ("repair_limit_s", "payment_limit_s", "walk_speed_kph", "max_snap_m"):
            object.__setattr__(self, name, _positive(getattr(self, name), name))
        check_choice(self.payment_mode, MODES, "payment_mode")
        n = self.min_component_nodes
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            msg = f"`min_component_nodes` must be a positive int, got {n!r}"
            raise InputError(msg)
        try:
            bands = tuple(_positive(b, "bands_s") for b in self.bands_s)
        except TypeError as exc:
            msg = f"`bands_s` must be a sequence of positive seconds, got {self.bands_s!r}"
            raise InputError(msg) from exc
        if not bands or list(bands) != sorted(set(bands)):
            msg = f"`bands_s` must be increasing positive seconds, got {self.bands_s!r}"
            raise InputError(msg)
        object.__setattr__(self, "bands_s", bands)
        if self.crs != CRS:
            msg = f"`crs` must be {CRS!r} (everything is stored in lon/lat), got {self.crs!r}"
            raise InputError(msg)

    def replace(self, **changes: Any) -> ServiceSettings:
        """A copy with ``changes`` applied and checked (unknown names are refused)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            msg = f"unknown setting(s) {unknown!r}; the settings are {sorted(known)!r}"
            raise InputError(msg)
        return dataclasses.replace(self, **changes)

    def limit_s(self, service: Service) -> float:
        """The promise of ``service`` (``"repair"`` or ``"payment"``), seconds."""
        check_choice(service, SERVICES, "service")
        return self.repair_limit_s if service == "repair" else self.payment_limit_s

    def mode(self, service: Service) -> Mode:
        """The travel mode of ``service``: repair crews drive, customers pay by
        :attr:`payment_mode`."""
        check_choice(service, SERVICES, "service")
        return "drive" if service == "repair" else self.payment_mode


DEFAULT_SETTINGS = ServiceSettings()
