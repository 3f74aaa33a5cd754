"""Clues: every stored piece of crossing evidence and the detection patterns that hint at a crossing,
brought into one form (chainage, offset, bank) so sites can be clustered along the river.

Land-cover evidence comes from the evidence table; detections add what only
vehicles show: equipment in the water, vehicles on bars, parking clusters,
vehicles crossing a channel, queues waiting at a landing. Each clue keeps the
store row it came from.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from borderwatch.corridor.model import Corridor

#: Clue kinds that stand on one bank (their side is the country of their offset).
BANK_KINDS = frozenset({"track_to_water", "cleared_bank", "cleared_area", "parking", "fence_opening", "landing_queue"})
#: Clue kinds in the river itself (a bridge spans it: it counts for both banks).
RIVER_KINDS = frozenset({"bridge", "cleared_bar", "vehicles_on_bar", "vehicle_in_water", "vehicle_on_ice", "heavy_at_water",
                         "ford_trace", "ice_road", "bar_track"})
#: River clues on the line of a crossing: they carry a landing to the bank their far end reaches.
CROSSING_LINES = frozenset({"ford_trace", "ice_road", "bar_track"})
#: Evidence that describes the ground around crossings but does not mark one (a fence along the bank).
CONTEXT_KINDS = frozenset({"fence_line"})
VEHICLES = ("small_vehicle", "large_vehicle")


@dataclass
class Clue:
    kind: str
    score: float
    date: str  # ISO date
    km: float
    offset_m: float
    country: str
    x: float  # anchor in the corridor CRS
    y: float
    geometry: shapely.Geometry  # corridor CRS
    source: str  # "evidence" or "detections"
    refs: list[int] = field(default_factory=list)  # fids in the source table
    details: dict = field(default_factory=dict)


def evidence_clues(corridor: Corridor, rows: list[dict]) -> list[Clue]:
    """Stored evidence rows (lon/lat) as clues in the corridor CRS (context such as fence lines left out)."""
    out = []
    for r in rows:
        if r["kind"] in CONTEXT_KINDS:
            continue
        geom = corridor.from_lonlat(r["geometry"])
        lon, lat = (r.get("details") or {}).get("anchor_lonlat") or (geom.centroid.x, geom.centroid.y)
        x, y = corridor.xy_from_lonlat(lon, lat)
        x, y = float(np.atleast_1d(x)[0]), float(np.atleast_1d(y)[0])
        km, off = corridor.locate_xy(x, y)
        details = dict(r.get("details") or {})
        if details.get("ends_lonlat"):  # a ford trace or a route over a bar: the banks its two ends reach
            ex, ey = corridor.xy_from_lonlat(*np.asarray(details["ends_lonlat"], dtype=float).T)
            details["end_countries"] = [corridor.country_for_offset(float(o)) for o in corridor.locate_xy(ex, ey)[1]]
        out.append(Clue(r["kind"], float(r["score"] or 0.0), str(r["date"]), float(km[0]), float(off[0]),
                        corridor.country_for_offset(float(off[0])), x, y, geom, "evidence", [r["fid"]], details))
    return out


def detection_points(corridor: Corridor, rows: list[dict]) -> list[dict]:
    """Detections with their centre in the corridor CRS, chainage and offset added (rows are not changed)."""
    if not rows:
        return []
    geoms = [corridor.from_lonlat(r["geometry"]) for r in rows]
    xs = np.array([g.centroid.x for g in geoms])
    ys = np.array([g.centroid.y for g in geoms])
    km, off = corridor.locate_xy(xs, ys)
    return [{**r, "x": float(x), "y": float(y), "km": float(k), "offset_m": float(o), "polygon_xy": g}
            for r, g, x, y, k, o in zip(rows, geoms, xs, ys, km, off)]


def _links(points: np.ndarray, link_m: float) -> list[list[int]]:
    """Single-linkage groups of points closer than link_m (connected components of the near graph)."""
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if not len(points):
        return []
    pairs = cKDTree(points).query_pairs(link_m, output_type="ndarray")
    from scipy.sparse import coo_matrix

    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(int(lab), []).append(i)
    return list(groups.values())


#: a queue of at least this many vehicles nose to tail on one bank (sites.queues)...
LANDING_QUEUE_MIN = 3
#: ...whose nearest vehicle stands this close to the water...
LANDING_QUEUE_WATER_M = 60.0
#: ...and whose line points across the river (at least this many degrees off the river's direction) waits at a landing
LANDING_QUEUE_ACROSS_DEG = 60.0


#: a queue whose vehicles' surroundings (pipeline.tasks.SURROUNDINGS_M, vehicles left out) are at least this share
#: built-up, by their median, stands among buildings: cars in a town street that runs down to the river, not trucks
#: waiting at a landing. Measured: 0.38-0.69 (median per block) around the vehicles of real street frames pasted as
#: town blocks (scripts/evaluate_towns.py). Alone it does not judge a parking cluster: a lot packed with trucks reads
#: 0.02-0.37 around its vehicles (undetected trucks and the gaps between them read as built-up; the 81 km bench
#: world), and leaving such lots out turned two true parking fields into fords (TOWN_CARS_SHARE)
STREET_BUILT_UP = 0.25

#: a parking cluster at least this share cars (small vehicles) that stands among buildings (STREET_BUILT_UP) is a
#: town's parking, not a crossing's staging: the parking of the reporters' crossings is trucks on open ground (a
#: field turned into a lot for ~60 large vehicles). Measured on real street frames pasted as 10 town blocks facing
#: in pairs (scripts/evaluate_towns.py, two dates): 181 parking clusters, the detector calling 67-100 % of each one's
#: vehicles cars (median 97 %, 2 under 75 %); 161 stand among buildings. A truck lot keeps its clue whatever its
#: surroundings read, and so do cars on open ground (a field of cars by the river may be an export)
TOWN_CARS_SHARE = 0.75


def _among_buildings(members: list[dict], share: float = STREET_BUILT_UP) -> bool:
    """Whether a group of detections stands among buildings (unknown surroundings: no)."""
    known = [d["built_up_around"] for d in members if d.get("built_up_around") is not None]
    return bool(known) and float(np.median(known)) >= share


def _town_parking(members: list[dict]) -> bool:
    """Whether a parking cluster is a town's cars: mostly cars, among buildings."""
    cars = sum(d["class"] == "small_vehicle" for d in members)
    return cars >= TOWN_CARS_SHARE * len(members) and _among_buildings(members)


def detection_clues(corridor: Corridor, dets: list[dict], *, parking_min: int = 8, link_m: float = 15.0,
                    convergence_deg: float = 0.0) -> list[Clue]:
    """Crossing hints in one date's detections (from detection_points): equipment at or in the water,
    vehicles in a channel, groups on a bar, parking clusters on land (not a town's parked cars, TOWN_CARS_SHARE),
    queues waiting at a landing (not among buildings: cars queued in a town street, STREET_BUILT_UP).
    ``convergence_deg``: true minus grid north here (detections' headings are true)."""
    out: list[Clue] = []

    def clue(kind, members, score, details=None):
        pts = shapely.MultiPoint([(d["x"], d["y"]) for d in members])
        geom = shapely.unary_union([d["polygon_xy"] for d in members]).convex_hull
        x, y = float(np.mean([d["x"] for d in members])), float(np.mean([d["y"] for d in members]))
        km, off = corridor.locate_xy(x, y)
        out.append(Clue(kind, round(float(score), 3), str(members[0]["date"]), float(km[0]), float(off[0]),
                        corridor.country_for_offset(float(off[0])), x, y, geom if geom.area > 0 else pts.buffer(5.0),
                        "detections", [d["fid"] for d in members], details or {}))

    for d in dets:
        ground = d.get("ground")
        near_water = d.get("dist_water_m") is not None and d["dist_water_m"] <= 10.0
        if d["class"] == "heavy_equipment" and (ground in ("water", "ice", "bar") or near_water):
            clue("heavy_at_water", [d], d["score"], {"ground": ground})
        elif d["class"] in VEHICLES and ground in ("water", "ice"):
            clue("vehicle_in_water" if ground == "water" else "vehicle_on_ice", [d], d["score"], {"ground": ground})
    on_bar = [d for d in dets if d.get("ground") == "bar" and d["class"] in (*VEHICLES, "heavy_equipment")]
    for group in _links(np.array([[d["x"], d["y"]] for d in on_bar]).reshape(-1, 2), 3 * link_m):
        members = [on_bar[i] for i in group]
        if len(members) >= 3:
            clue("vehicles_on_bar", members, min(1.0, len(members) / 10.0), {"vehicles": len(members)})
    on_land = [d for d in dets if d.get("ground") in ("land", "bank") and d["class"] in (*VEHICLES, "heavy_equipment")]
    for group in _links(np.array([[d["x"], d["y"]] for d in on_land]).reshape(-1, 2), link_m):
        members = [on_land[i] for i in group]
        if len(members) >= parking_min and not _town_parking(members):
            hull = shapely.MultiPoint([(d["x"], d["y"]) for d in members]).convex_hull
            large = sum(d["class"] in ("large_vehicle", "heavy_equipment") for d in members)
            clue("parking", members, min(1.0, len(members) / 30.0),
                 {"vehicles": len(members), "large": large, "area_m2": round(float(hull.area), 0)})
    for members, details in _landing_queues(corridor, [d for d in on_land if d["class"] in VEHICLES], convergence_deg):
        if not _among_buildings(members):  # cars queued in a town street down to the river are no landing
            clue("landing_queue", members, min(1.0, len(members) / 6.0), details)
    return out


def _landing_queues(corridor: Corridor, vehicles: list[dict], convergence_deg: float) -> list[tuple[list[dict], dict]]:
    """Vehicles queued nose to tail on one bank, in a line pointing across the river, the nearest close to the
    water: traffic waiting at a landing. Waiting trucks cover the track's last metres, which the land cover then
    reads as built-up, not as a track reaching the water; the queue still shows the landing. A bank road's
    traffic runs along the river and a parking row stands abreast (no pairs), so neither makes one."""
    from borderwatch.analysis.crossings.evidence import angle_between, long_axis
    from borderwatch.sites.queues import queue_labels, queue_pairs

    if len(vehicles) < LANDING_QUEUE_MIN:
        return []
    grid = [(float(d["heading_deg"]) - convergence_deg) % 360.0 for d in vehicles]
    pairs = queue_pairs([d["x"] for d in vehicles], [d["y"] for d in vehicles], grid,
                        [float(d.get("length_m") or np.nan) for d in vehicles])
    if not len(pairs):
        return []
    label, _ = queue_labels(len(vehicles), pairs)
    found = []
    for q in np.flatnonzero(np.bincount(label) >= LANDING_QUEUE_MIN):
        members = [vehicles[i] for i in np.flatnonzero(label == q)]
        if len({d["offset_m"] > 0 for d in members}) > 1:
            continue  # both banks: not one landing's queue
        near = min((d.get("dist_water_m") for d in members if d.get("dist_water_m") is not None), default=None)
        if near is None or near > LANDING_QUEUE_WATER_M:
            continue
        u = long_axis(np.array([[d["x"], d["y"]] for d in members]))  # the queue's line (x, y up)
        river = corridor.direction_deg_at(float(np.mean([d["km"] for d in members])), 100.0)
        off = angle_between(math.degrees(math.atan2(u[0], u[1])), river)
        if off < LANDING_QUEUE_ACROSS_DEG:
            continue
        found.append((members, {"vehicles": len(members), "nearest_water_m": round(float(near), 1),
                                "angle_to_river_deg": round(off, 1)}))
    return found


def parse_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
