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
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
from affine import Affine
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from borderwatch.analysis.landcover.codes import BUILT_UP, DISTURBED, ICE, ROAD, SANDBAR, WATER

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
    "ice_road": "a straight band of darker, packed or dirtied snow across a frozen channel (a route over the ice)",
    # analysis.crossings.fence, from the image at full resolution
    "fence_opening": "a gap in a fence along the bank with fence on both sides (a gate a track runs through)",
    "fence_line": "a thin dark line along the bank, alone, within reach of the river (a border fence)",
}

#: Coarsest analysis GSD (m) crossing evidence is read at. Evidence rests on the land head's cleared ground, bars and
#: decks, fitted on imagery of 0.3-1 m whose features sit on a ~2 m grid (landcover.features.FEATURE_SCALE_M); at
#: 2 m the grid is the same, beyond it coarser than anything fitted, while tracks and decks are 5-10 m wide. On real
#: 5 m NAIP lake country (no river crossings at all) the register made 5 sites out of bare fields beside lakes.
EVIDENCE_MAX_GSD_M = 2.0


def resolves_crossings(gsd_m: float) -> bool:
    """Whether imagery analysed at gsd_m resolves the crossing evidence (tracks, landings, decks, camps, traces)."""
    from borderwatch.imagery.footprint import GSD_SLACK

    return gsd_m <= EVIDENCE_MAX_GSD_M * GSD_SLACK


#: Where a point lies relative to the river, for detections (vehicles on bars, equipment in the water, vehicles on
#: a frozen river). New grounds go at the end: stored zones are indices into this.
GROUNDS = ("water", "bar", "bridge", "bank", "land", "ice")


@dataclass(frozen=True)
class EvidenceParams:
    """Thresholds in metres and square metres, so they mean the same at any GSD."""

    min_river_m2: float = 2000.0  # water+bar regions smaller than this are ponds or puddles
    # the corridor's line (the border, drawn along the channel) passes within this of the river: wet ground whose
    # nearest cell lies farther from it is a pond, a flooded field or a town's dark streets and paving, not the river
    line_reach_m: float = 100.0
    # the line runs down the channel: where it passes over wet ground in this grid (within line_on_m), the regions it
    # passes over are the river, with those holding a stretch of water of at least channel_min_m2 in one piece (a side
    # channel past a vegetated island). A town on the bank within reach of the line is neither: its dark streets break
    # into pieces of 500-6,100 m2 (scripts/evaluate_towns.py). Where the line passes over no wet ground (a chord across
    # a bend), every region within reach stands. A region a deck across the flow cuts off from the river is the river
    # too (_cut_off_by_decks); joining pieces across any short gap joined towns at the bank back in
    # (docs/site-register.md, "Towns on the bank").
    line_on_m: float = 10.0
    channel_min_m2: float = 8000.0
    touch_m: float = 5.0  # a patch this close to the river touches it
    min_bank_m2: float = 120.0  # smallest landing patch kept
    track_reach_m: float = 25.0  # a track reaches at least this far inland
    track_elongation: float = 2.5  # length / width of a track
    bar_rim_share: float = 0.7  # rim share on the river for a patch to lie inside it
    min_bar_m2: float = 300.0
    bar_track_min_m: float = 40.0  # a cleared strip inside the river this long and thin is a route, not a camp
    bar_track_elongation: float = 5.0
    bar_track_angle_deg: float = 45.0  # to the river's direction: a route crosses the bar
    bridge_min_length_m: float = 25.0  # over the river (the road on it may run on over land)
    bridge_max_width_m: float = 14.0
    # a lane for a truck (2.5 m wide) takes about 3.5 m: a narrower strip across the water is a footbridge, or a ford's
    # track read as road (development world 21: a ford's track measured 2.6-3.3 m, every deck 4.6 m or more)
    bridge_min_width_m: float = 3.5
    bridge_angle_deg: float = 45.0  # to the river's direction: a deck crosses the channel (a strip along it is a bar's sliver)
    deck_gap_m: float = 16.0  # deck pieces in line across a gap this long (a truck and trailer on it) are one deck
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
        """The river (water, ice and bars, ponds left out) on the coarse grid."""
        return np.isin(self.zones, [GROUNDS.index(g) + 1 for g in ("water", "bar", "ice")])

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


def fine_cells(mask: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """A mask on coarse_classes' grid put back on the full pixel grid of ``shape`` (each cell covers factor x factor
    pixels; a last partial row or column takes its neighbour's value)."""
    if factor > 1:
        mask = np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)
    h, w = shape
    mask = mask[:h, :w]
    if mask.shape != (h, w):
        mask = np.pad(mask, ((0, h - mask.shape[0]), (0, w - mask.shape[1])), mode="edge")
    return mask


#: the river's bearing (degrees) at a map point (x, y), None where not known
BearingAt = Callable[[float, float], "float | None"]


def find_evidence(
    classes: np.ndarray,
    transform: Affine,
    cell_m: float,
    *,
    owns=None,
    along_deg: float | None = None,
    bearing_at: BearingAt | None = None,
    line: shapely.Geometry | None = None,
    params: EvidenceParams | None = None,
) -> tuple[list[Evidence], RiverZones]:
    """Evidence in a land-cover grid (codes of analysis.landcover) with its affine transform.

    ``along_deg`` is the river's grid bearing here (decks and bar tracks must cross it; without it
    any long thin deck or strip on a bar counts). ``bearing_at(x, y)`` gives the bearing at a point
    where it is known: decks and bar tracks are judged against the river where they stand, since a tile on a bend
    holds several directions (on the 81 km synthetic corridor two bridges lay 66 and 81 degrees off
    their tile's bearing). owns(x, y) -> bool decides which evidence this tile reports (its anchor lies in
    the tile proper, not the margin), so a patch seen by two tiles is kept once. ``line`` is the corridor's
    line near the tile (same CRS): where given, only wet regions reaching within ``line_reach_m`` of it are the
    river, and where it passes over wet ground, only the regions it passes over, those holding a channel's water
    (EvidenceParams) and those a deck across the flow cuts off from them (_cut_off_by_decks). Real city streets at 0.5-0.8 m read partly as water and
    sandbar (scripts/landcover_negatives.py); without the line a town on the bank grows a "river" of its own, with
    cars parked "on a sandbar" (scripts/evaluate_towns.py).
    """
    p = params or EvidenceParams()
    cell_area = cell_m * cell_m
    valid = classes > 0
    ice = classes == ICE
    if ice.any():
        # a frozen channel is still the channel: decks span it, camps and tracks stand beside or on it
        classes = np.where(ice, np.uint8(WATER), classes)
    near_line = on_line = None
    if line is not None and not line.is_empty:
        from rasterio.features import geometry_mask

        def cells_within(m: float) -> np.ndarray:
            return ~geometry_mask([line.buffer(m)], out_shape=classes.shape, transform=transform, all_touched=True)

        near_line, on_line = cells_within(p.line_reach_m), cells_within(p.line_on_m)

    def river_at(x: float, y: float) -> float | None:
        """The river's bearing where a strip stands: the line's there where known, else the tile's."""
        here = bearing_at(x, y) if bearing_at is not None else None
        return along_deg if here is None else here

    lab, is_river, in_reach = _river_regions(classes, p.min_river_m2 / cell_area, near_line, on_line, p.channel_min_m2 / cell_area)
    if (in_reach & ~is_river).any():
        is_river = is_river | _cut_off_by_decks(classes, lab, is_river, in_reach & ~is_river, transform, cell_m, river_at, p)
    river = is_river[lab]
    dist_river = cv2.distanceTransform((~river).astype(np.uint8), cv2.DIST_L2, 3) * cell_m if river.any() else None
    zones = np.zeros(classes.shape, np.uint8)
    zones[valid] = GROUNDS.index("land") + 1
    out: list[Evidence] = []
    if dist_river is None:
        return out, RiverZones(zones, transform)
    zones[valid & (dist_river <= p.bank_m)] = GROUNDS.index("bank") + 1
    zones[river & (classes != WATER)] = GROUNDS.index("bar") + 1
    zones[river & (classes == WATER)] = GROUNDS.index("water") + 1
    zones[river & ice] = GROUNDS.index("ice") + 1
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

    def outline(pts: np.ndarray) -> shapely.Geometry:
        hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
        xs, ys = transform * (hull[:, 0], hull[:, 1])
        return shapely.Polygon(np.column_stack([xs, ys])) if len(hull) >= 3 else shapely.Point(xs[0], ys[0]).buffer(cell_m)

    def geometry(sl, comp) -> tuple[shapely.Geometry, np.ndarray, tuple[float, float, float], tuple]:
        pts, rect, length, width = _strip_shape(sl, comp, cell_m)
        return outline(pts), pts, (length, width, length / max(width, 1e-6)), rect

    def rim_share(sl, comp) -> tuple[float, int]:
        ring = cv2.dilate(comp.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~comp & rim_ok[sl]
        n = int(ring.sum())
        return (float(river[sl][ring].sum()) / n if n else 0.0), n

    def keep(ev: Evidence) -> None:
        if owns is None or owns(ev.x, ev.y):
            out.append(ev)

    # decks (thin built-up or road strips) spanning the river
    for deck in _deck_strips(classes, river, dist_river, transform, cell_m, river_at, p):
        spans = _water_both_sides(classes, river, deck.rect, 6.0 / cell_m)
        over = spans * deck.length
        if over >= p.bridge_min_length_m:
            cx, cy = transform * tuple(deck.pts.mean(axis=0))
            score = min(1.0, 0.5 + 0.5 * min(1.0, over / 80.0))
            keep(Evidence("bridge", round(score, 3), outline(deck.pts), cx, cy, {
                "length_m": round(deck.length, 1), "width_m": round(deck.width, 1), "over_river_m": round(over, 1),
                "water_both_sides": round(spans, 2), "angle_to_river_deg": round(deck.angle, 1)}))
    # bar camps and routes over bars (cleared ground held inside the river)
    for _, sl, comp, area in component_stats((classes == DISTURBED) & ~river):
        if area * cell_area < p.bridge_min_length_m * cell_m:
            continue
        geom, pts, (length, width, elong), rect = geometry(sl, comp)
        cx, cy = transform * tuple(pts.mean(axis=0))
        share, _ = rim_share(sl, comp)
        if area * cell_area >= p.min_bar_m2 and share >= p.bar_rim_share and length >= p.bar_track_min_m and elong >= p.bar_track_elongation:
            u = long_axis(pts)
            angle = _angle_to_river(u, river_at(cx, cy))
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


def _joined_decks(mask: np.ndarray, dist_river: np.ndarray, cell_m: float, p: EvidenceParams):
    """Components of a built-up/road mask as (index, slice, component, area), with thin pieces at the
    river's edge joined when they lie in line across a gap of at most deck_gap_m (a truck on a deck,
    a plank section the classifier reads as water). Joined pieces come back as one component (the
    groups are SciPy's connected components of the graph of joined pairs)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    pieces = {}  # label -> (centre, unit axis, half length, pixel centres); thin pieces touching the river only
    for i in range(1, n):
        x0, y0, w, h, area = stats[i]
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        comp = lab[sl] == i
        if area < 3 or float(dist_river[sl][comp].min()) > 2.0 * cell_m:
            continue
        rr, cc = np.nonzero(comp)
        pts = np.column_stack([cc + x0 + 0.5, rr + y0 + 0.5])
        u = long_axis(pts)
        length = 2.0 * (float(np.abs((pts - pts.mean(axis=0)) @ u).max()) + 0.5)
        width = area / length
        if width * cell_m > p.bridge_max_width_m or length < 2.0 * width:
            continue  # too wide, or not longer than wide: a roof or a yard, not a piece of deck
        pieces[i] = (pts.mean(axis=0), u, length / 2.0, pts)

    gap = p.deck_gap_m / cell_m
    in_line = math.cos(math.radians(12.0))
    keys = sorted(pieces)
    links: list[tuple[int, int]] = []  # pairs of pieces (positions in keys) that are one deck
    for k, a in enumerate(keys):
        ca, ua, ha, pa = pieces[a]
        for m, b in enumerate(keys[k + 1:], start=k + 1):
            cb, ub, hb, pb = pieces[b]
            d = cb - ca
            dist = float(np.hypot(*d))
            if dist < 1e-6 or dist > ha + hb + gap + 1.0:
                continue
            line = d / dist
            # in line where they face each other: each piece's last deck_gap_m towards the other, so vehicles
            # waiting beside a deck's far end (read as built-up too) do not turn the piece's axis
            ea, eb = _facing_end(pa, line, gap), _facing_end(pb, -line, gap)
            ua_end, ub_end = long_axis(ea), long_axis(eb)
            between = eb.mean(axis=0) - ea.mean(axis=0)
            between = between / max(float(np.hypot(*between)), 1e-6)
            if min(abs(float(ua_end @ ub_end)), abs(float(ua_end @ between)), abs(float(ub_end @ between))) < in_line:
                continue  # not in line: two roads meeting at a landing stay apart
            # the gap between their ends along the line joining them (pixel centres: one pixel more)
            if float(((pb - ca) @ line).min() - ((pa - ca) @ line).max()) > gap + 1.0:
                continue
            links.append((k, m))
    groups: dict[int, list[int]] = {}
    if links:
        rows, cols = np.array(links).T
        graph = coo_matrix((np.ones(len(links)), (rows, cols)), shape=(len(keys), len(keys)))
        _, group_of = connected_components(graph, directed=False)
        for k, i in enumerate(keys):
            groups.setdefault(int(group_of[k]), []).append(i)
    joined = {i for g in groups.values() if len(g) > 1 for i in g}
    for i in range(1, n):
        if i in joined:
            continue
        x0, y0, w, h, area = stats[i]
        sl = (slice(max(y0 - 1, 0), y0 + h + 1), slice(max(x0 - 1, 0), x0 + w + 1))
        yield i, sl, lab[sl] == i, int(area)
    for g in (g for g in groups.values() if len(g) > 1):
        x0 = min(stats[i][0] for i in g)
        y0 = min(stats[i][1] for i in g)
        x1 = max(stats[i][0] + stats[i][2] for i in g)
        y1 = max(stats[i][1] + stats[i][3] for i in g)
        sl = (slice(max(y0 - 1, 0), y1 + 1), slice(max(x0 - 1, 0), x1 + 1))
        yield g[0], sl, np.isin(lab[sl], g), int(sum(stats[i][4] for i in g))


def _facing_end(pts: np.ndarray, towards: np.ndarray, reach: float) -> np.ndarray:
    """The pixel centres of a piece within `reach` cells of its end facing `towards` (a unit vector); the
    whole piece when that leaves fewer than three."""
    proj = pts @ towards
    end = pts[proj >= proj.max() - reach]
    return end if len(end) >= 3 else pts


def _strip_shape(sl, comp: np.ndarray, cell_m: float) -> tuple[np.ndarray, tuple, float, float]:
    """A component's pixel centres (grid columns, rows), its cv2.minAreaRect, its length and mean width (m): a bent
    or ragged strip stays thin."""
    rr, cc = np.nonzero(comp)
    pts = np.column_stack([cc + sl[1].start + 0.5, rr + sl[0].start + 0.5]).astype(np.float32)
    rect = cv2.minAreaRect(pts)
    (_, _), (a, b), _ = rect
    length = max(a, b) * cell_m + cell_m
    return pts, rect, length, len(pts) * cell_m * cell_m / length


@dataclass(frozen=True)
class _Deck:
    """A strip shaped like a deck across the flow: pixel centres (grid), cv2.minAreaRect, size (m), angle to the river."""

    pts: np.ndarray
    rect: tuple
    length: float
    width: float
    angle: float


def _deck_strips(classes: np.ndarray, wet: np.ndarray, dist_wet: np.ndarray, transform: Affine, cell_m: float,
                 river_at: BearingAt, p: EvidenceParams, *, need_bearing: bool = False):
    """Built-up or road strips touching ``wet`` ground (``dist_wet``: metres to it) shaped like a deck across the flow
    (_deck_angle). A truck or a darker section splits a deck: pieces in line across a short gap are one deck
    (_joined_decks). With ``need_bearing``, none where the river's direction is not known."""
    for _, sl, comp, area in _joined_decks(np.isin(classes, (BUILT_UP, ROAD)) & ~wet, dist_wet, cell_m, p):
        if area * cell_m < p.bridge_min_length_m:
            continue
        pts, rect, length, width = _strip_shape(sl, comp, cell_m)
        along = river_at(*(transform * tuple(pts.mean(axis=0))))
        angle = None if need_bearing and along is None else _deck_angle(pts, length, width, along, p)
        if angle is not None:
            yield _Deck(pts, rect, length, width, angle)


def _deck_angle(pts: np.ndarray, length: float, width: float, along_deg: float | None, p: EvidenceParams) -> float | None:
    """The angle to the river of a strip shaped like a deck across it; None for any other strip (short, too wide or
    too narrow for a vehicle's lane, or along the flow: a bar's tip or a ripple read as road)."""
    if (length < p.bridge_min_length_m or not p.bridge_min_width_m <= width <= p.bridge_max_width_m
            or length < 3.0 * width):
        return None
    angle = _angle_to_river(long_axis(pts), along_deg)
    return None if angle < p.bridge_angle_deg else angle


def _strip_samples(rect, gap_cells: float, stations: int = 33) -> tuple[np.ndarray, np.ndarray]:
    """Grid points (x, y) ``gap_cells`` beyond a strip's rectangle (cv2.minAreaRect): past its two ends (2, 2), and
    at ``stations`` along it past each long side (stations, 2, 2)."""
    (cx, cy), (a, b), ang = rect
    t = math.radians(ang)
    u = np.array([math.cos(t), math.sin(t)])
    n = np.array([-math.sin(t), math.cos(t)])
    if b > a:
        u, n, a, b = n, u, b, a
    centre = np.array([cx, cy])
    sign = np.array([-1.0, 1.0])[:, None]
    ends = centre + sign * (a / 2 + gap_cells) * u
    along = np.linspace(-0.47, 0.47, stations)[:, None, None] * a * u
    return ends, centre + along + sign * (b / 2 + gap_cells) * n


def _cells_at(grid: np.ndarray, xy: np.ndarray, outside=0) -> tuple[np.ndarray, np.ndarray]:
    """The grid's values at points (x, y) (``outside`` beyond it), and which points lie on it."""
    c, r = np.floor(xy[..., 0]).astype(int), np.floor(xy[..., 1]).astype(int)
    h, w = grid.shape
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    return np.where(inside, grid[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], outside), inside


def _rests_on_land(classes: np.ndarray, ends: np.ndarray) -> bool:
    """Whether a strip's ends (from _strip_samples) rest on land: no end afloat or on nodata. An end beyond the grid
    (a long deck the tile's view cuts) is unknown, not afloat; the other end must rest on land."""
    code, inside = _cells_at(classes, ends)
    return bool(inside.any()) and not (inside & np.isin(code, (WATER, 0))).any()


def _water_both_sides(classes: np.ndarray, river: np.ndarray, rect, gap_cells: float, stations: int = 33) -> float:
    """Share of a strip's length over the river: from its first to its last station with river (water
    or bar, ponds left out) just beyond both long sides; 0 unless it crosses open river water somewhere
    and its ends rest on land. A deck spans a channel; a misread strip along a shore has water on one side
    only and a boat has water at its ends. Over a braided river a deck also crosses bars and vegetated
    islands, and the road it carries may run on in line over land: only the stretch between wet
    stations counts."""
    ends, sides = _strip_samples(rect, gap_cells, stations)
    if not _rests_on_land(classes, ends):
        return 0.0  # afloat (or on nodata) at one end at least, or cut off at both: not a deck we can judge
    code, _ = _cells_at(classes, sides)
    wet, inside = _cells_at(river, sides, outside=False)
    wet = (wet & inside).all(axis=1)
    if not (wet & (code == WATER).all(axis=1)).any():
        return 0.0  # over bars and fields only: a track, not a bridge over a channel
    idx = np.flatnonzero(wet)
    return float(idx[-1] - idx[0] + 1) / stations


def _cut_off_by_decks(
    classes: np.ndarray,
    lab: np.ndarray,
    river: np.ndarray,
    candidates: np.ndarray,
    transform: Affine,
    cell_m: float,
    river_at: BearingAt,
    p: EvidenceParams,
    stations: int = 33,
) -> np.ndarray:
    """Per wet region (labels of _river_regions), whether a deck cuts it off from the river: a strip shaped like a
    deck across the flow, resting on land, with the river beyond one long side and the region beyond the other over
    at least bridge_min_length_m (none where the river's direction is not known). The channel past a camp's deck,
    cut again by the tile's edge, may hold too little water to count as a channel and lie away from the line (it
    runs over the camp's island). A town's dark streets at the bank face the river along the bank (or across a
    street running down to it), never across a deck."""
    both = (river | candidates)[lab]
    dist = cv2.distanceTransform((~both).astype(np.uint8), cv2.DIST_L2, 3) * cell_m
    joined = np.zeros_like(river)
    # without the river's direction a road along the bank would pass for a deck across it
    for deck in _deck_strips(classes, both, dist, transform, cell_m, river_at, p, need_bearing=True):
        ends, sides = _strip_samples(deck.rect, 6.0 / cell_m, stations)
        if not _rests_on_land(classes, ends):
            continue
        one, other = _cells_at(lab, sides)[0].T
        cut = (river[one] & candidates[other]) | (river[other] & candidates[one])
        if cut.sum() * deck.length / stations >= p.bridge_min_length_m:
            joined[np.where(river[one], other, one)[cut]] = True
    return joined


def _angle_to_river(u: np.ndarray, along_deg: float | None) -> float:
    """Degrees (0-90) between a strip's long axis ``u`` (grid) and the river's bearing; 90 where it is not known,
    so without the river's direction every strip counts as crossing it."""
    return 90.0 if along_deg is None else angle_between(bearing_of(u), along_deg)


def angle_between(a_deg: float | np.ndarray, b_deg: float | np.ndarray) -> float | np.ndarray:
    """Angle between two undirected lines, 0-90° (floats, or numpy arrays element by element)."""
    return abs(((a_deg - b_deg + 90.0) % 180.0) - 90.0)


def long_axis(pts: np.ndarray) -> np.ndarray:
    """Unit vector of a point cloud's principal axis, in the points' own coordinates ((column, row) on a grid)."""
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
    """What a line across the river ends on: nodata, water, ice, bar or land (any other cover)."""
    return {0: "nodata", WATER: "water", ICE: "ice", SANDBAR: "bar"}.get(int(code), "land")


def _river_regions(
    classes: np.ndarray,
    min_cells: float,
    near_line: np.ndarray | None = None,
    on_line: np.ndarray | None = None,
    channel_cells: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The wet regions (water and bars, 8-connected) as (labels, river, within reach): per label, whether it is the
    river, and whether it is big enough and reaches the line (the regions the river was chosen from; ponds are
    neither). Where the line is known (``near_line``: the cells within reach of it) a region must reach it. Where
    the line passes over some regions (``on_line``), those are the river, and the others only if they hold
    ``channel_cells`` of water in one piece."""
    water = classes == WATER
    wet = water | (classes == SANDBAR)
    eight = np.ones((3, 3), bool)
    lab, n = ndimage.label(wet, structure=eight)
    if not n:
        return lab, np.zeros(1, bool), np.zeros(1, bool)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    big = sizes >= min_cells
    if near_line is not None:
        big &= np.bincount(lab[near_line].ravel(), minlength=n + 1) > 0
    big[0] = False
    if on_line is None:
        return lab, big, big
    river = big & (np.bincount(lab[on_line].ravel(), minlength=n + 1) > 0)
    if not river.any():
        return lab, big, big
    if (big & ~river).any():
        pieces, m = ndimage.label(water, structure=eight)
        piece_size = np.bincount(pieces.ravel(), minlength=m + 1)
        piece_size[0] = 0
        # each piece of water lies in one wet region (water is wet, same connectivity): the region's largest piece
        stretch = np.zeros(n + 1, np.int64)
        np.maximum.at(stretch, lab[water], piece_size[pieces[water]])
        river |= big & (stretch >= channel_cells)
    return lab, river, big


def _paint_zone(zones: np.ndarray, geom: shapely.Geometry, transform: Affine, value: int) -> None:
    from rasterio.features import geometry_mask

    inside = ~geometry_mask([geom], out_shape=zones.shape, transform=transform, all_touched=True)
    zones[inside & (zones > 0)] = value
