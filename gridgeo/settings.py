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

The home visits ("6+1": one visit day a week per grid member) have their own settings object,
:class:`gridgeo.visits.VisitSettings`, whose defaults are these:

==============================  ============  ==============================================
setting                         default       meaning
==============================  ============  ==============================================
``DEFAULT_VISIT_DAY_LENGTH_S``  8 h           a visit day, leaving the base to being back
``DEFAULT_VISIT_S``             10 min        a visit of a customer with no own duration
``DEFAULT_VISIT_S_BY_CATEGORY`` 15 / 20 min   commercial / industrial customers
``DEFAULT_HV_VISIT_S``          15 min        a high-voltage customer, at least
``DEFAULT_VISIT_WEEKDAY``       2 (Wed)       the visit day of the week (Monday = 0)
``DEFAULT_VISIT_DAY_START``     08:30         leaving the base (China time), for the ETAs
``DEFAULT_VISIT_MODE``          two_wheeler   travel mode of the routes (:data:`VISIT_MODES`)
==============================  ============  ==============================================

:func:`visit_settings` makes a :class:`~gridgeo.visits.VisitSettings` from the units people
use (hours, minutes, a weekday by number or name), as the CLI and the API take them.

:data:`DEFAULT_SETTINGS` holds the defaults; a county with other promises (say 45 minutes in
its mountain townships' supply grids) makes its own with :meth:`ServiceSettings.replace`, which
checks every value. The travel modes, services and siting methods are typed as ``Literal``s
(:data:`Mode`, :data:`Service`, :data:`SitingMethod`) with their valid values in
:data:`MODES`, :data:`SERVICES` and :data:`SITING_METHODS`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from gridgeo.errors import InputError

__all__ = [
    "CRS",
    "DEFAULT_HV_VISIT_S",
    "DEFAULT_SETTINGS",
    "DEFAULT_VISIT_DAY_LENGTH_S",
    "DEFAULT_VISIT_DAY_START",
    "DEFAULT_VISIT_MODE",
    "DEFAULT_VISIT_S",
    "DEFAULT_VISIT_S_BY_CATEGORY",
    "DEFAULT_VISIT_WEEKDAY",
    "MODES",
    "SERVICES",
    "SITING_METHODS",
    "VISIT_MODES",
    "Mode",
    "Service",
    "ServiceSettings",
    "SitingMethod",
    "VisitMode",
    "check_choice",
    "visit_settings",
]

if TYPE_CHECKING:
    from gridgeo.visits import VisitSettings

Mode = Literal["drive", "two_wheeler", "walk"]
Service = Literal["repair", "payment"]
SitingMethod = Literal["exact", "greedy"]

MODES: tuple[Mode, ...] = get_args(Mode)
SERVICES: tuple[Service, ...] = get_args(Service)
SITING_METHODS: tuple[SitingMethod, ...] = get_args(SitingMethod)

CRS = "EPSG:4326"

VisitMode = Literal["drive", "two_wheeler"]
VISIT_MODES: tuple[VisitMode, ...] = get_args(VisitMode)
DEFAULT_VISIT_DAY_LENGTH_S = 8 * 3600.0
DEFAULT_VISIT_S = 600.0
DEFAULT_VISIT_S_BY_CATEGORY: Mapping[str, float] = MappingProxyType(
    {"commercial": 900.0, "industrial": 1200.0}
)
DEFAULT_HV_VISIT_S = 900.0
DEFAULT_VISIT_WEEKDAY = 2  # Wednesday
DEFAULT_VISIT_DAY_START = "08:30"
DEFAULT_VISIT_MODE: VisitMode = "two_wheeler"


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


_ZH_DAYS = "一二三四五六日"
WEEKDAY_NAMES: dict[str, int] = {
    **{name: k for k, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{f"周{ch}": k for k, ch in enumerate(_ZH_DAYS)},
    **{f"星期{ch}": k for k, ch in enumerate(_ZH_DAYS)},
}
"""Weekday names accepted by :func:`visit_settings` (Monday = 0), besides 0-6."""


def visit_settings(
    *,
    base: VisitSettings | None = None,
    day_hours: float | None = None,
    visit_min: float | None = None,
    visit_min_by_category: dict[str, float] | None = None,
    weekday: int | str | None = None,
    day_start: str | None = None,
    mode: str | None = None,
) -> VisitSettings:
    """
    Visit settings from the units people use; what is not given keeps ``base``'s value.

    Parameters
    ----------
    base
        The settings changed (default: :class:`gridgeo.visits.VisitSettings` defaults).
    day_hours
        Length of the visit day, hours (8).
    visit_min
        Minutes at a customer whose category has no own duration (10).
    visit_min_by_category
        Minutes by customer ``category`` (e.g. ``{"commercial": 15}``), merged into ``base``'s.
    weekday
        The visit day of the week: 0 (Monday) to 6 (Sunday), ``"wed"`` or ``"周三"``.
    day_start
        When the members leave their base, "HH:MM" China time.
    mode
        Travel mode of the routes, ``"two_wheeler"`` or ``"drive"``.

    Returns
    -------
    VisitSettings

    Raises
    ------
    InputError
        A value out of range; the message names the setting.
    """
    from gridgeo.visits import VisitSettings

    base = base or VisitSettings()
    changes: dict[str, Any] = {}
    if day_hours is not None:
        changes["day_length_s"] = _positive(day_hours, "day_hours") * 3600.0
    if visit_min is not None:
        changes["visit_s"] = _non_negative(visit_min, "visit_min") * 60.0
    if visit_min_by_category is not None:
        merged = dict(base.visit_s_by_category)
        for category, minutes in visit_min_by_category.items():
            merged[str(category)] = (
                _non_negative(minutes, f"visit_min_by_category[{category!r}]") * 60.0
            )
        changes["visit_s_by_category"] = merged
    if weekday is not None:
        changes["weekday"] = _weekday(weekday)
    if day_start is not None:
        changes["day_start"] = str(day_start).strip()
    if mode is not None:
        changes["mode"] = check_choice(mode, VISIT_MODES, "mode")
    return dataclasses.replace(base, **changes)


def _non_negative(value: Any, name: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0:
        msg = f"`{name}` must be a number >= 0, got {value!r}"
        raise InputError(msg)
    return float(value)


def _weekday(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            value = int(text)
        elif text[:3] in WEEKDAY_NAMES:
            return WEEKDAY_NAMES[text[:3]]
        elif value.strip() in WEEKDAY_NAMES:
            return WEEKDAY_NAMES[value.strip()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    msg = f"`weekday` must be 0 (Monday) to 6 (Sunday), 'wed' or '周三', got {value!r}"
    raise InputError(msg)
