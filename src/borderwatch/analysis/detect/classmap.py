"""Map the class names of labelled data sets onto borderwatch's three vehicle classes.

Target classes: ``small_vehicle`` (cars, vans, pickups, minibuses), ``large_vehicle``
(trucks, buses, trailers, road dump trucks, cement mixers) and ``heavy_equipment``
(excavators, loaders, bulldozers, cranes, graders). Each label may carry a finer
``subclass`` (e.g. ``dump_truck``).

Size decides the split, as in DOTA (``small-vehicle`` / ``large-vehicle`` are told
apart by footprint, vans count as small) and xView (whose "Passenger Vehicle"
group holds Small Car, Pickup Truck, Utility Truck; buses are bus-sized and go to
``large_vehicle`` here). KIT AIS's ``minibus`` is a van-sized bus (about 5-7 m,
the size of a van), so it maps to ``small_vehicle`` (subclass ``minibus``): from
above at 0.1-0.5 m a minibus cannot be told from a van, and DOTA counts vans as
small vehicles.

xView's "Dump Truck" sits in its Engineering Vehicle group, but road dump trucks
(the ones that haul sand and gravel) are trucks, so it maps to ``large_vehicle``;
off-road "Haul Truck" stays ``heavy_equipment``. xView's "Passenger Car" is a
*railway* carriage and is ignored, like all other non-road-vehicle classes.

A class-map YAML is a mapping ``{source_name: target}`` where target is a class
name, ``{class: ..., subclass: ...}``, or ``null`` / ``ignore`` (drop such
labels on purpose). Two optional keys: ``ignore_unknown: true`` (drop names
the map does not list instead of failing) and ``extends_default: true`` (start
from the built-in map). Names compare case-insensitively with runs of
punctuation/space treated alike ("Small-Vehicle" == "small vehicle").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from borderwatch.errors import InputError

__all__ = [
    "CLASSES",
    "ClassMap",
    "Target",
    "UnknownClassError",
    "XVIEW_CLASSES",
    "normalize_name",
]

CLASSES: tuple[str, ...] = ("small_vehicle", "large_vehicle", "heavy_equipment")

#: The official xView type_id -> class name table (60 classes). 75 and 82 occur in
#: the released labels without a name (known errata); they are listed so they can
#: be ignored explicitly.
XVIEW_CLASSES: dict[int, str] = {
    11: "Fixed-wing Aircraft", 12: "Small Aircraft", 13: "Cargo Plane", 15: "Helicopter",
    17: "Passenger Vehicle", 18: "Small Car", 19: "Bus", 20: "Pickup Truck", 21: "Utility Truck",
    23: "Truck", 24: "Cargo Truck", 25: "Truck w/Box", 26: "Truck Tractor", 27: "Trailer",
    28: "Truck w/Flatbed", 29: "Truck w/Liquid", 32: "Crane Truck", 33: "Railway Vehicle",
    34: "Passenger Car", 35: "Cargo Car", 36: "Flat Car", 37: "Tank car", 38: "Locomotive",
    40: "Maritime Vessel", 41: "Motorboat", 42: "Sailboat", 44: "Tugboat", 45: "Barge",
    47: "Fishing Vessel", 49: "Ferry", 50: "Yacht", 51: "Container Ship", 52: "Oil Tanker",
    53: "Engineering Vehicle", 54: "Tower crane", 55: "Container Crane", 56: "Reach Stacker",
    57: "Straddle Carrier", 59: "Mobile Crane", 60: "Dump Truck", 61: "Haul Truck",
    62: "Scraper/Tractor", 63: "Front loader/Bulldozer", 64: "Excavator", 65: "Cement Mixer",
    66: "Ground Grader", 71: "Hut/Tent", 72: "Shed", 73: "Building", 74: "Aircraft Hangar",
    75: "xView 75", 76: "Damaged Building", 77: "Facility", 79: "Construction Site", 82: "xView 82",
    83: "Vehicle Lot", 84: "Helipad", 86: "Storage Tank", 89: "Shipping container lot",
    91: "Shipping Container", 93: "Pylon", 94: "Tower",
}

_SMALL, _LARGE, _HEAVY = CLASSES

# source name -> (class, subclass); None = ignore on purpose.
_DEFAULT: dict[str, tuple[str, str | None] | None] = {
    # generic names (DOTA, iSAID, VEDAI, generic "vehicle")
    "vehicle": (_SMALL, None),
    "small vehicle": (_SMALL, None),
    "large vehicle": (_LARGE, None),
    "heavy equipment": (_HEAVY, None),
    # small vehicles
    "car": (_SMALL, "car"),
    "small car": (_SMALL, "car"),
    "passenger vehicle": (_SMALL, None),
    "suv": (_SMALL, "car"),
    "van": (_SMALL, "van"),
    "pickup": (_SMALL, "pickup"),
    "pickup truck": (_SMALL, "pickup"),
    "utility truck": (_SMALL, "utility_truck"),
    "minibus": (_SMALL, "minibus"),
    # large vehicles
    "truck": (_LARGE, "truck"),
    "lorry": (_LARGE, "truck"),
    "bus": (_LARGE, "bus"),
    "cargo truck": (_LARGE, "cargo_truck"),
    "truck w box": (_LARGE, "box_truck"),
    "box truck": (_LARGE, "box_truck"),
    "truck tractor": (_LARGE, "truck_tractor"),
    "trailer": (_LARGE, "trailer"),
    "truck w flatbed": (_LARGE, "flatbed_truck"),
    "flatbed truck": (_LARGE, "flatbed_truck"),
    "truck w liquid": (_LARGE, "tanker"),
    "tanker": (_LARGE, "tanker"),
    "dump truck": (_LARGE, "dump_truck"),
    "cement mixer": (_LARGE, "cement_mixer"),
    # heavy equipment
    "engineering vehicle": (_HEAVY, None),
    "construction vehicle": (_HEAVY, None),
    "excavator": (_HEAVY, "excavator"),
    "loader": (_HEAVY, "loader"),
    "front loader": (_HEAVY, "loader"),
    "wheel loader": (_HEAVY, "loader"),
    "bulldozer": (_HEAVY, "bulldozer"),
    "front loader bulldozer": (_HEAVY, "loader"),
    "crane": (_HEAVY, "crane"),
    "mobile crane": (_HEAVY, "crane"),
    "crane truck": (_HEAVY, "crane"),
    "grader": (_HEAVY, "grader"),
    "ground grader": (_HEAVY, "grader"),
    "scraper tractor": (_HEAVY, "scraper"),
    "scraper": (_HEAVY, "scraper"),
    "haul truck": (_HEAVY, "haul_truck"),
    "reach stacker": (_HEAVY, "reach_stacker"),
    "straddle carrier": (_HEAVY, "straddle_carrier"),
    "road roller": (_HEAVY, "roller"),
    "roller": (_HEAVY, "roller"),
    # KIT AIS non-vehicle-class label
    "cyclist": None,
}
_IGNORED_DOTA = (
    "plane", "ship", "storage tank", "baseball diamond", "tennis court", "basketball court",
    "ground track field", "harbor", "bridge", "helicopter", "roundabout", "soccer ball field",
    "swimming pool", "container crane", "airport", "helipad",
)


def normalize_name(name: str) -> str:
    """Case-folded name with runs of non-alphanumerics as one space ("Truck w/Box" -> "truck w box")."""
    return re.sub(r"[^0-9a-z]+", " ", str(name).casefold()).strip()


class UnknownClassError(ValueError):
    """A source class name the class map does not list (message lists allowed names)."""


@dataclass(frozen=True)
class Target:
    """Where a source class goes."""

    cls: str
    subclass: str | None = None


class ClassMap:
    """Source class name -> :class:`Target` (or None when the name is ignored on purpose)."""

    def __init__(
        self,
        mapping: Mapping[str, Target | tuple[str, str | None] | str | None],
        *,
        ignore_unknown: bool = False,
        source: str | Path | None = None,
    ) -> None:
        self.ignore_unknown = ignore_unknown
        self.source = str(source) if source is not None else None
        self._map: dict[str, Target | None] = {}
        for name, tgt in mapping.items():
            self._map[normalize_name(name)] = self._target(name, tgt)

    def _target(self, name: str, tgt: Any) -> Target | None:
        if tgt is None or (isinstance(tgt, str) and normalize_name(tgt) == "ignore"):
            return None
        if isinstance(tgt, Target):
            cls, sub = tgt.cls, tgt.subclass
        elif isinstance(tgt, str):
            cls, sub = tgt, None
        elif isinstance(tgt, tuple) and len(tgt) == 2:
            cls, sub = tgt
        elif isinstance(tgt, Mapping) and "class" in tgt and set(tgt) <= {"class", "subclass"}:
            cls, sub = tgt["class"], tgt.get("subclass")
        else:
            raise InputError(self.source, f"class map entry {name!r}: expected a class name, "
                                          f"{{class: ..., subclass: ...}} or null, got {tgt!r}")
        cls = normalize_name(cls).replace(" ", "_")
        if cls not in CLASSES:
            raise InputError(self.source, f"class map entry {name!r}: unknown target class {cls!r} "
                                          f"(allowed: {', '.join(CLASSES)})")
        sub = normalize_name(sub).replace(" ", "_") if sub not in (None, "") else None
        return Target(cls, sub)

    # -- lookups ------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """All source names the map lists (mapped or ignored), normalised, sorted."""
        return sorted(self._map)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._map

    def lookup(self, name: str) -> Target | None:
        """Target for ``name``; None when ignored. Raises :class:`UnknownClassError` for unlisted names."""
        key = normalize_name(name)
        if key in self._map:
            return self._map[key]
        if self.ignore_unknown:
            return None
        raise UnknownClassError(
            f"unknown class name {name!r} (allowed: {', '.join(self.names)}; "
            "or set ignore_unknown: true in the class map)"
        )

    def check(self, names: Iterable[str]) -> None:
        """Fail early if any of ``names`` is unknown (e.g. a YOLO names list)."""
        for n in names:
            self.lookup(n)

    # -- constructors ---------------------------------------------------------
    @classmethod
    def default(cls, *, ignore_unknown: bool = False) -> ClassMap:
        """The built-in map (DOTA, xView, KIT AIS, VEDAI-style and plain names)."""
        mapping: dict[str, Any] = dict(_DEFAULT)
        for n in _IGNORED_DOTA:
            mapping[n] = None
        for name in XVIEW_CLASSES.values():
            mapping.setdefault(normalize_name(name), None)
        return cls(mapping, ignore_unknown=ignore_unknown, source="built-in class map")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | Path | None = None) -> ClassMap:
        if not isinstance(data, Mapping):
            raise InputError(source, "class map must be a mapping {source_name: target}")
        data = dict(data)
        ignore_unknown = data.pop("ignore_unknown", False)
        extends = data.pop("extends_default", False)
        if not isinstance(ignore_unknown, bool) or not isinstance(extends, bool):
            raise InputError(source, "ignore_unknown and extends_default must be true or false")
        mapping: dict[str, Any] = {}
        if extends:
            mapping.update(cls.default()._map)
        for k, v in data.items():
            mapping[normalize_name(k)] = v
        return cls(mapping, ignore_unknown=ignore_unknown, source=source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClassMap:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise InputError(path, f"cannot read class map: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise InputError(path, f"not valid YAML: {str(e).splitlines()[0]}") from None
        return cls.from_dict(data if data is not None else {}, source=path)


def resolve_class_map(class_map: ClassMap | str | Path | Mapping[str, Any] | None) -> ClassMap:
    """Accept a ClassMap, a YAML path, a plain dict, or None (the built-in map)."""
    if class_map is None:
        return ClassMap.default()
    if isinstance(class_map, ClassMap):
        return class_map
    if isinstance(class_map, (str, Path)):
        return ClassMap.from_yaml(class_map)
    return ClassMap.from_dict(class_map)
