"""Bundled corridors and the corridor spec users type: ``NAME``, ``FILE``, optionally ``[A:B]``.

``A`` and ``B`` are km from the origin (``yalu-upper[0:10]``) or place names
(``yalu[Hyesan:Kimhyongjik-up]``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from borderwatch.corridor.load import corridor_from_lonlat_line, read_line_lonlat
from borderwatch.corridor.model import DEFAULT_BANK_WIDTH_M, Corridor, _match_place, parse_season
from borderwatch.errors import CorridorError

OSM_ATTRIBUTION = "Border line © OpenStreetMap contributors, ODbL 1.0 (via @osm_borders/maritime_10m 1.1.0)"
GEONAMES_ATTRIBUTION = "Places: GeoNames (geonames.org), CC-BY 4.0; Who's On First"

#: Places shipped with the Yalu corridors (name as shown, GeoNames place name prefix in places.geojson).
YALU_PLACES = ["Hyesan", "Changbai", "Kimjongsuk-up", "Poch'on-up", "Kimhyongjik-up", "Samjiyon-up", "Chunggang-up"]

#: Countries: looking downstream on the Yalu, North Korea (KP) is on the left (south/east) bank.
YALU_LEFT, YALU_RIGHT = "KP", "CN"

#: When the upper Yalu can be frozen: it freezes over in December and breaks up in late March or early April; the
#: season is taken wide, so that early shore ice and late ice are read as ice.
YALU_FREEZE_SEASON = ((11, 15), (4, 15))

BUNDLED = {
    "yalu": "The whole Yalu (Amnok) along the OSM China-North Korea boundary, from the source near Paektu to the estuary.",
    "yalu-upper": "The upper Yalu from Hyesan (opposite Changbai) to the Kim Jong Suk County seat, ~81 km.",
}


def _data(name: str):
    return resources.files("borderwatch.corridor") / "data" / name


@lru_cache(maxsize=1)
def yalu_places() -> list[tuple[str, float, float, str, str]]:
    """(name, lon, lat, source, licence) for the shipped GeoNames places on the Yalu."""
    feats = json.loads(_data("places.geojson").read_text())["features"]
    out = []
    for want in YALU_PLACES:
        for f in feats:
            if f["properties"]["name"].lower().startswith(want.lower()):
                lon, lat = f["geometry"]["coordinates"][:2]
                out.append((want, lon, lat, f["properties"].get("id", ""), f["properties"].get("license", "")))
                break
    return out


def _place_lonlat(name: str) -> tuple[str, float, float]:
    for n, lon, lat, _, _ in yalu_places():
        if n.lower() == name.lower():
            return n, lon, lat
    raise CorridorError(name, "place not shipped")


@lru_cache(maxsize=4)
def _bundled(name: str) -> Corridor:
    line, _ = read_line_lonlat(str(_data("yalu_osm_boundary.geojson")))
    common = dict(
        left_country=YALU_LEFT,
        right_country=YALU_RIGHT,
        source="OpenStreetMap China-North Korea boundary along the Yalu (proxy for the river course)",
        attribution=f"{OSM_ATTRIBUTION}; {GEONAMES_ATTRIBUTION}",
        places=yalu_places(),
        freeze_season=YALU_FREEZE_SEASON,
    )
    if name == "yalu":
        # the file runs source -> estuary; orient from its start
        start = line.coords[0]
        return corridor_from_lonlat_line(line, name="yalu", origin=("Yalu source (Paektu)", start[0], start[1]), **common)
    if name == "yalu-upper":
        return corridor_from_lonlat_line(
            line, name="yalu-upper", origin=_place_lonlat("Hyesan"), end=_place_lonlat("Kimjongsuk-up"), **common
        )
    raise KeyError(name)


_SPEC = re.compile(r"^(?P<base>.+?)(?:\[(?P<a>[^:\]]*):(?P<b>[^\]]*)\])?$")


def load_corridor(
    spec: str,
    *,
    left_country: str | None = None,
    right_country: str | None = None,
    origin: str | None = None,
    width_m: float | None = None,
) -> Corridor:
    """A corridor from a bundled name or a vector file, optionally cut to ``[A:B]``.

    For a file, the countries and origin come from the arguments or from the
    first line feature's properties (``left_country``, ``right_country``,
    ``origin`` as a place name or ``lon,lat``).
    """
    m = _SPEC.match(spec.strip())
    if not m:
        raise CorridorError(spec, "empty corridor name")
    base, a, b = m.group("base"), m.group("a"), m.group("b")
    if base in BUNDLED:
        corridor = _bundled(base)
    elif Path(base).suffix.lower() in (".geojson", ".json", ".kml", ".gpkg", ".shp", ".fgb") or Path(base).exists():
        corridor = _from_file(base, left_country, right_country, origin)
    else:
        raise CorridorError(base, f"unknown corridor (bundled: {', '.join(BUNDLED)}; or give a GeoJSON/KML/GeoPackage file)")
    if a is not None:
        start = _km_or_place(corridor, a, 0.0)
        end = _km_or_place(corridor, b, corridor.length_km)
        if end < start:
            start, end = end, start
        corridor = corridor.stretch(max(start, 0.0), end, name=f"{base}[{a}:{b}]")
    if width_m is not None:
        corridor = corridor.with_widths(width_m, width_m)
    return corridor


def _km_or_place(corridor: Corridor, token: str, default: float) -> float:
    token = token.strip()
    if not token:
        return default
    try:
        return float(token)
    except ValueError:
        return _match_place(corridor.places, token, corridor.name).chainage_km


def _from_file(path: str, left: str | None, right: str | None, origin: str | None) -> Corridor:
    line, props = read_line_lonlat(path)
    left = left or props.get("left_country")
    right = right or props.get("right_country")
    if not left or not right:
        raise CorridorError(path, "say which country is on each bank (--left-country/--right-country or the line's left_country/right_country properties)")
    origin = origin or props.get("origin")
    origin_pt = None
    if origin:
        try:
            lon, lat = (float(v) for v in str(origin).split(","))
            origin_pt = (f"{lon:.5f},{lat:.5f}", lon, lat)
        except ValueError:
            n, lon, lat, _, _ = next((p for p in yalu_places() if p[0].lower() == str(origin).lower()), (None,) * 5)
            if n is None:
                raise CorridorError(path, f"origin {origin!r} is neither 'lon,lat' nor a known place") from None
            origin_pt = (n, lon, lat)
    return corridor_from_lonlat_line(
        line,
        name=str(props.get("name") or Path(path).stem),
        left_country=str(left),
        right_country=str(right),
        origin=origin_pt,
        source=str(path),
        attribution=str(props.get("attribution", "")),
        left_width_m=float(props.get("left_width_m", DEFAULT_BANK_WIDTH_M)),
        right_width_m=float(props.get("right_width_m", DEFAULT_BANK_WIDTH_M)),
        places=yalu_places(),
        freeze_season=parse_season(props["freeze_season"], str(path)) if props.get("freeze_season") else None,
    )
