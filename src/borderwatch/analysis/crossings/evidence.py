"""Crossing evidence read off one tile's land cover: cleared landings, tracks to the water, bridges, bar camps.

A crossing leaves marks that survive between image dates and do not need a
vehicle detector: a track that runs to the water's edge, a worn apron where
vehicles wait, a deck across a channel, cleared ground on a sandbar. Each is a
connected component of the land-cover map, described by how much of its rim
touches the river (water plus bars), how far it reaches from it and its shape.
The decisions are thresholds on those few numbers (see EvidenceParams), so a
reviewer can check every piece of evidence by eye against the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
from affine import Affine
from scipy import ndimage

from borderwatch.analysis.landcover.codes import BUILT_UP, DISTURBED, ROAD, SANDBAR, WATER

#: Evidence kinds, strongest first: what each says about a crossing.
KINDS = {
    "bridge": "a thin deck of built-up or road pixels spanning a channel",
    "cleared_bar": "cleared ground on a bar or island inside the river (a base camp)",
    "bar_track": "a long, thin cleared strip across a bar, from a bank or channel to the next (a route over the bar)",
    "track_to_water": "a cleared track that runs from inland to the water's edge",
    "cleared_bank": "a worn or cleared patch at the water's edge (a landing or apron)",
    "cleared_area": "a large cleared patch near the river (a lot or converted field)",
    # analysis.crossings.ford, from the image on the same grid
    "ford_trace": "a straight band of lighter, stirred-up water across a channel on the line of a crossing",
    # analysis.crossings.fence, from the image at full resolution
    "fence_opening": "a gap in a fence along the bank with fence on both sides (a gate a track runs through)",
    "fence_line": "a thin dark line along the bank, alone, within reach of the river (a border fence)",
}

#: Where a point lies relative to the river, for detections (vehicles on bars, equipment in the water).
GROUNDS = ("water", "bar", "bridge", "bank", "land")


@dataclass(frozen=True)
class EvidenceParams:
    """Thresholds in metres and square metres, so they mean the same at any GSD."""

    min_river_m2: float = 2000.0  # water+bar regions smaller than this are ponds or puddles
    touch_m: float = 5.0  # a patch this close to the river touches it
    min_bank_m2: float = 120.0  # smallest landing patch kept
    track_reach_m: float = 25.0  # a track reaches at least this far inland
    track_elongation: float = 2.5  # length / width of a track
    bar_rim_share: float = 0.7  # rim share on the river for a patch to lie inside it
    min_bar_m2: float = 300.0
    bar_track_min_m: float = 40.0  # a cleared strip inside the river this long and thin is a route, not a camp
    bar_track_elongation: float = 5.0
    bar_track_angle_deg: float = 45.0  # to the river's direction: a route crosses the bar
    bridge_min_length_m: float = 25.0
    bridge_max_width_m: float = 14.0
    min_area_m2: float = 2500.0  # a cleared area away from the edge
    area_max_dist_m: float = 250.0
    bank_m: float = 30.0  # "bank" ground for detections: within this of the river

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class Evidence:
    """One piece of evidence in the tile's CRS: its outline, its anchor point and why it was kept."""

    kind: str
    score: float
    geometry: shapely.Geometry
    x: float  # anchor: the landing point for bank evidence, the centre otherwise
    y: float
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RiverZones:
    """Per-cell zones (GROUNDS index + 1; 0 = nodata) on the coarse grid, for locating detections."""

    zones: np.ndarray
    transform: Affine  # of the coarse grid

    @property
    def river(self) -> np.ndarray:
        """The river (water and bars, ponds left out) on the coarse grid."""
        return np.isin(self.zones, (GROUNDS.index("water") + 1, GROUNDS.index("bar") + 1))

    def ground_at(self, x: float, y: float) -> str | None:
        col, row = ~self.transform * (x, y)
        r, c = int(math.floor(row)), int(math.floor(col))
        h, w = self.zones.shape
        if not (0 <= r < h and 0 <= c < w):
            return None
        win = self.zones[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2].ravel()
        win = win[win > 0]
        if not win.size:
            return None
        # the vehicle itself may look built-up; the commonest zone around its centre is its ground
        return GROUNDS[int(np.bincount(win).argmax()) - 1]


def coarse_classes(classes: np.ndarray, factor: int) -> np.ndarray:
    """The land-cover grid the classifier decided on (its cells are factor x factor pixels)."""
    return classes[factor // 2:: factor, factor // 2:: factor] if factor > 1 else classes


def find_evidence(
    classes: np.ndarray,
    transform: Affine,
    cell_m: float,
    *,
    owns=None,
    along_deg: float | None = None,
    params: EvidenceParams | None = None,
) -> tuple[list[Evidence], RiverZones]:
    """Evidence in a land-cover grid (codes of analysis.landcover) with its affine transform.

    ``along_deg`` is the river's grid bearing here (bar tracks must cross it; without it
    any long thin strip on a bar counts). owns(x, y) -> bool decides which evidence this tile reports (its anchor lies in
    the tile proper, not the margin), so a patch seen by two tiles is kept once.
    """
    p = params or EvidenceParams()
    cell_area = cell_m * cell_m
    valid = classes > 0
    river = _river(classes, p.min_river_m2 / cell_area)
    dist_river = cv2.distanceTransform((~river).astype(np.uint8), cv2.DIST_L2, 3) * cell_m if river.any() else None
    zones = np.zeros(classes.shape, np.uint8)
    zones[valid] = GROUNDS.index("land") + 1
    out: list[Evidence] = []
    if dist_river is None:
        return out, RiverZones(zones, transform)
    zones[valid & (dist_river <= p.bank_m)] = GROUNDS.index("bank") + 1
    zones[river & (classes != WATER)] = GROUNDS.index("bar") + 1
    zones[river & (classes == WATER)] = GROUNDS.index("water") + 1
    border = np.zeros(classes.shape, bool)
    border[[0, -1], :] = True
    border[:, [0, -1]] = True
    rim_ok = valid & ~border

    def component_stats(mask: np.ndarray):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            x0, y0, w, h, area = stats[i]
            sl = (slice(max(y0 - 1, 0), y0 + h + 1), slice(max(x0 - 1, 0), x0 + w + 1))
            comp = lab[sl] == i
            yield i, sl, comp, int(area)

    def geometry(sl, comp) -> tuple[shapely.Geometry, np.ndarray, tuple[float, float, float], tuple]:
        rr, cc = np.nonzero(comp)
        pts = np.column_stack([cc + sl[1].start + 0.5, rr + sl[0].start + 0.5]).astype(np.float32)
        rect = cv2.minAreaRect(pts)
        (_, _), (a, b), _ = rect
        length = max(a, b) * cell_m + cell_m
        width = len(pts) * cell_m * cell_m / length  # mean width: a bent or ragged strip stays thin
        hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
        xs, ys = transform * (hull[:, 0], hull[:, 1])
        geom = shapely.Polygon(np.column_stack([xs, ys])) if len(hull) >= 3 else shapely.Point(xs[0], ys[0]).buffer(cell_m)
        return geom, pts, (length, width, length / max(width, 1e-6)), rect

    def rim_share(sl, comp) -> tuple[float, int]:
        ring = cv2.dilate(comp.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~comp & rim_ok[sl]
        n = int(ring.sum())
        return (float(river[sl][ring].sum()) / n if n else 0.0), n

    def keep(ev: Evidence) -> None:
        if owns is None or owns(ev.x, ev.y):
            out.append(ev)

    # decks (thin built-up or road strips) and bar camps (cleared ground) held inside the river
    inside_masks = ((np.isin(classes, (BUILT_UP, ROAD)) & ~river), ((classes == DISTURBED) & ~river))
    for _, sl, comp, area in (c for m in inside_masks for c in component_stats(m)):
        if area * cell_area < p.bridge_min_length_m * cell_m:
            continue
        geom, pts, (length, width, elong), rect = geometry(sl, comp)
        cx, cy = transform * tuple(pts.mean(axis=0))
        if classes[sl][comp][0] != DISTURBED:
            if length < p.bridge_min_length_m or width > p.bridge_max_width_m or elong < 3.0:
                continue
            spans = _water_both_sides(classes, rect, 6.0 / cell_m)
            if spans >= 0.7:
                score = min(1.0, 0.5 + 0.5 * min(1.0, length / 80.0)) * spans
                keep(Evidence("bridge", round(score, 3), geom, cx, cy, {"length_m": round(length, 1), "width_m": round(width, 1), "water_both_sides": round(spans, 2)}))
            continue
        share, _ = rim_share(sl, comp)
        if area * cell_area >= p.min_bar_m2 and share >= p.bar_rim_share and length >= p.bar_track_min_m and elong >= p.bar_track_elongation:
            u = long_axis(pts)
            angle = angle_between(bearing_of(u), along_deg) if along_deg is not None else 90.0
            if angle >= p.bar_track_angle_deg:
                centre = pts.mean(axis=0)
                half = float(np.abs((pts - centre) @ u).max())
                ends, end_xy = [], []
                for sign in (-1.0, 1.0):
                    tip = centre + sign * half * u
                    ends.append(_beyond(classes, tip, sign * u, 8.0 / cell_m))
                    end_xy.append([round(float(v), 2) for v in transform * tuple(tip)])
                score = min(1.0, length / 100.0) * (1.0 if "land" in ends else 0.7)
                zones[sl][comp] = GROUNDS.index("bar") + 1
                keep(Evidence("bar_track", round(score, 3), geom, cx, cy, {
                    "length_m": round(length, 1), "width_m": round(width, 1), "angle_to_river_deg": round(angle, 1),
                    "ends": ends, "ends_xy": end_xy, "rim_on_river": round(share, 2)}))
                continue
        if area * cell_area >= p.min_bar_m2 and share >= p.bar_rim_share:
            score = min(1.0, area * cell_area / 3000.0) * share
            zones[sl][comp] = GROUNDS.index("bar") + 1
            keep(Evidence("cleared_bar", round(score, 3), geom, cx, cy, {"area_m2": round(area * cell_area, 0), "rim_on_river": round(share, 2)}))
    # landings, tracks and cleared areas on the banks
    cleared = (classes == DISTURBED) & ~river
    for _, sl, comp, area in component_stats(cleared):
        area_m2 = area * cell_area
        if area_m2 < p.min_bank_m2:
            continue
        d = dist_river[sl][comp]
        near = float(d.min())
        if near > p.area_max_dist_m:
            continue
        share, _ = rim_share(sl, comp)
        if share >= p.bar_rim_share:
            continue  # inside the river: handled above
        geom, pts, (length, width, elong), _ = geometry(sl, comp)
        reach = float(d.max())
        if near <= p.touch_m:
            # the landing: the patch's cell closest to the water
            k = int(np.argmin(d))
            ax, ay = transform * tuple(pts[k])
            is_track = reach >= p.track_reach_m and elong >= p.track_elongation
            kind = "track_to_water" if is_track else "cleared_bank"
            score = min(1.0, reach / 60.0) if is_track else min(1.0, area_m2 / 600.0)
            keep(Evidence(kind, round(score, 3), geom, ax, ay, {
                "area_m2": round(area_m2, 0), "reach_m": round(reach, 1), "length_m": round(length, 1),
                "width_m": round(width, 1), "rim_on_river": round(share, 2)}))
        elif area_m2 >= p.min_area_m2:
            cx, cy = transform * tuple(pts.mean(axis=0))
            score = min(1.0, area_m2 / 10000.0) * max(0.2, 1.0 - near / p.area_max_dist_m)
            keep(Evidence("cleared_area", round(score, 3), geom, cx, cy, {
                "area_m2": round(area_m2, 0), "dist_river_m": round(near, 1), "length_m": round(length, 1), "width_m": round(width, 1)}))
    for ev in out:
        if ev.kind == "bridge":
            _paint_zone(zones, ev.geometry, transform, GROUNDS.index("bridge") + 1)
    return out, RiverZones(zones, transform)


def _water_both_sides(classes: np.ndarray, rect, gap_cells: float) -> float:
    """Share of stations along a strip with river (water or bar) just beyond both long sides; 0 unless
    both ends rest on land and open water lies on both sides somewhere: a deck spans a channel, a
    misread strip along a shore has water on one side only and a boat has water at its ends."""
    (cx, cy), (a, b), ang = rect
    t = math.radians(ang)
    u = np.array([math.cos(t), math.sin(t)])
    n = np.array([-math.sin(t), math.cos(t)])
    if b > a:
        u, n, a, b = n, u, b, a
    h, w = classes.shape

    def land(x, y) -> bool:
        r, c = int(y), int(x)
        return 0 <= r < h and 0 <= c < w and classes[r, c] not in (WATER, 0)

    centre = np.array([cx, cy])
    if not all(land(*(centre + sign * (a / 2 + gap_cells) * u)) for sign in (-1, 1)):
        return 0.0  # afloat at one end at least: a boat, a wake, a raft, not a deck
    stations = np.linspace(-0.4, 0.4, 9) * a
    wet = both_water = 0
    for s in stations:
        sides = []
        for sign in (-1, 1):
            x, y = centre + s * u + sign * (b / 2 + gap_cells) * n
            r, c = int(y), int(x)
            sides.append(int(classes[r, c]) if 0 <= r < h and 0 <= c < w else 0)
        wet += all(v in (WATER, SANDBAR) for v in sides)
        both_water += all(v == WATER for v in sides)
    # over a braided channel the deck also crosses bars, but somewhere it must cross open water
    return wet / len(stations) if both_water / len(stations) >= 0.3 else 0.0


def angle_between(a_deg: float, b_deg: float) -> float:
    """Angle between two undirected lines, 0-90°."""
    return abs(((a_deg - b_deg + 90.0) % 180.0) - 90.0)


def long_axis(pts: np.ndarray) -> np.ndarray:
    """Unit vector (column, row) of a point cloud's principal axis."""
    c = pts - pts.mean(axis=0)
    _, vecs = np.linalg.eigh(c.T @ c)
    u = vecs[:, -1]
    return u / np.hypot(*u)


def bearing_of(u: np.ndarray) -> float:
    """Grid bearing (0-180°, 0 = up) of a (column, row) direction; rows run down."""
    return math.degrees(math.atan2(u[0], -u[1])) % 180.0


def _beyond(classes: np.ndarray, tip: np.ndarray, u: np.ndarray, reach_cells: float) -> str:
    """What the first cell past a strip's tip holds that is not the strip's own cleared ground."""
    h, w = classes.shape
    for s in np.arange(0.5, reach_cells + 0.5, 0.5):
        x, y = tip + s * u
        r, c = int(y), int(x)
        if not (0 <= r < h and 0 <= c < w):
            return "edge"
        code = int(classes[r, c])
        if code == DISTURBED:
            continue
        return end_name(code)
    return "cleared"


def end_name(code: int) -> str:
    """What a line across the river ends on: nodata, water, bar or land (any other cover)."""
    return {0: "nodata", WATER: "water", SANDBAR: "bar"}.get(int(code), "land")


def _river(classes: np.ndarray, min_cells: float) -> np.ndarray:
    """Water and bars, without ponds: connected regions big enough to be the river."""
    wet = (classes == WATER) | (classes == SANDBAR)
    lab, n = ndimage.label(wet, structure=np.ones((3, 3), bool))
    if not n:
        return wet
    sizes = np.bincount(lab.ravel())
    big = sizes >= min_cells
    big[0] = False
    return big[lab]


def _paint_zone(zones: np.ndarray, geom: shapely.Geometry, transform: Affine, value: int) -> None:
    from rasterio.features import geometry_mask

    inside = ~geometry_mask([geom], out_shape=zones.shape, transform=transform, all_touched=True)
    zones[inside & (zones > 0)] = value
