"""Read a border line from GeoJSON, KML or GeoPackage and orient it from an origin."""

from __future__ import annotations

from pathlib import Path

import pyogrio
from pyproj import Transformer
import shapely
from shapely.geometry import LineString, Point
from shapely.ops import linemerge, substring

from borderwatch.corridor.model import DEFAULT_BANK_WIDTH_M, Corridor, utm_crs_for
from borderwatch.errors import CorridorError, library_message

MAX_JOIN_GAP_M = 2000.0


def read_line_lonlat(path: str | Path) -> tuple[LineString, dict]:
    """The merged (Multi)LineString features of a vector file, as one lon/lat line.

    Returns the line and the first feature's properties (where a file may carry
    ``left_country``, ``right_country``, ``origin`` and ``name``).
    """
    path = Path(path)
    if not path.exists():
        raise CorridorError(path, "file not found")
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise CorridorError(path, f"not a readable vector file ({library_message(exc)})") from None
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    lines = [g for g in gdf.geometry if g is not None and g.geom_type in ("LineString", "MultiLineString")]
    if not lines:
        raise CorridorError(path, "contains no LineString or MultiLineString feature")
    props = {}
    for _, row in gdf.iterrows():
        if row.geometry is not None and row.geometry.geom_type in ("LineString", "MultiLineString"):
            props = {k: v for k, v in row.items() if k != "geometry" and v is not None}
            break
    return shapely.union_all(lines) if len(lines) > 1 else lines[0], props


def merge_line(geom, where: str) -> LineString:
    """One LineString from a (Multi)LineString in metres, joining parts end to end.

    Parts that do not touch are joined greedily by their nearest ends when the
    gap is under MAX_JOIN_GAP_M; a larger gap is an error (two different rivers).
    """
    merged = linemerge(geom) if geom.geom_type == "MultiLineString" else geom
    if merged.geom_type == "LineString":
        return merged
    parts = sorted(merged.geoms, key=lambda g: -g.length)
    chain = list(parts[0].coords)
    rest = [list(p.coords) for p in parts[1:]]
    while rest:
        best = None
        for i, c in enumerate(rest):
            for at_end in (True, False):
                end = chain[-1] if at_end else chain[0]
                for rev in (False, True):
                    cc = c[::-1] if rev else c
                    joint = cc[0] if at_end else cc[-1]
                    d = Point(end).distance(Point(joint))
                    if best is None or d < best[0]:
                        best = (d, i, at_end, cc)
        d, i, at_end, cc = best
        if d > MAX_JOIN_GAP_M:
            raise CorridorError(where, f"line has parts {d / 1000:.1f} km apart; cannot join them into one river")
        chain = chain + cc if at_end else cc + chain
        rest.pop(i)
    return LineString(chain)


def corridor_from_lonlat_line(
    line_ll,
    *,
    name: str,
    left_country: str,
    right_country: str,
    origin: tuple[str, float, float] | None,
    end: tuple[str, float, float] | None = None,
    left_width_m: float = DEFAULT_BANK_WIDTH_M,
    right_width_m: float = DEFAULT_BANK_WIDTH_M,
    source: str = "",
    attribution: str = "",
    places: list[tuple[str, float, float, str, str]] | None = None,
    freeze_season: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> Corridor:
    """Build a Corridor from a lon/lat line, oriented from ``origin`` (name, lon, lat).

    The line is cut at the point nearest the origin (and at ``end`` when given),
    and runs away from it. With no origin, the line starts where the file starts.
    """
    rep = line_ll.centroid if origin is None else Point(origin[1], origin[2])
    crs = utm_crs_for(rep.x, rep.y)
    fwd = Transformer.from_crs(4326, crs, always_xy=True).transform
    line_m = merge_line(shapely.transform(line_ll, fwd, interleaved=False), name)
    full = line_m
    offset_km = 0.0
    if origin is not None:
        o = Point(*fwd(origin[1], origin[2]))
        d0 = line_m.project(o)
        if end is not None:
            e = Point(*fwd(end[1], end[2]))
            d1 = line_m.project(e)
        else:
            # run toward the farther end of the line
            d1 = line_m.length if (line_m.length - d0) >= d0 else 0.0
        if abs(d1 - d0) < 1.0:
            raise CorridorError(name, "origin and end fall on the same point of the line")
        if d1 < d0:
            full = LineString(list(line_m.coords)[::-1])
            d0, d1 = full.length - d0, full.length - d1
        line_m = substring(full, d0, d1)
        offset_km = d0 / 1000.0
    return Corridor(
        name=name,
        line=line_m,
        crs=crs,
        left_country=left_country,
        right_country=right_country,
        origin_name=origin[0] if origin else "line start",
        left_width_m=left_width_m,
        right_width_m=right_width_m,
        source=source,
        attribution=attribution,
        parent_line=full if origin is not None else None,
        chainage_offset_km=offset_km,
        place_points=list(places or []),
        freeze_season=freeze_season,
    )
