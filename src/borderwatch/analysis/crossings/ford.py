"""Ford traces: a lighter line of stirred-up silt across a channel, on the line of the tracks; and
ice roads: a darker line of packed, dirtied snow across a frozen channel.

Vehicles driving through a shallow channel churn the bed; from above the
ford shows as a straight band of lighter, muddier water running from one
bank (or bar) to the other. Natural light water (shallows along bars and
beaches, turbid plumes) runs along the river instead, so the test is a line
filter that looks only across the river: a strip of water lighter than the
water on both of its sides, oriented at least ``min_angle_deg`` to the
river's direction where it lies (the corridor line's there: a tile on a bend
holds several directions), and covering most of the channel it lies in.

On a frozen river the same line filter, turned over, finds the winter route:
wheels and feet pack the snow on the ice into a grey band from bank to bank,
darker than the white ice on both of its sides (find_ice_roads). Patches of
clear ice swept bare of snow are as dark, but bluer than the snow, where the
dirt of a road is warmer: a strip bluer than the ice around it is no road. A
road also has white ice beside it, even where the land cover reads the road
itself as bar; a bar's own shading, or two bar tips in line across a narrow
gap, has bar beside most of its length (on development winter worlds this kept
all 15 pieces on a true road and removed all 37 others).

Tried and left out: the same filter for darker wheel ruts across sand bars. On
synthetic bars it found the real tracks but also dozens of natural dark streaks
per 10 km, so a bar crossing is left to the landings on both banks.
Tried and left out: rejecting an ice road that lies mostly on the body of a
wide bar (the bar opened by 25 m). It removed bar-edge strips away from sites
but also real-looking ones beside them, and not a bar-tip strip it was aimed at.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import shapely
from affine import Affine

from borderwatch.analysis.landcover.codes import ICE, SANDBAR, WATER

from .evidence import BearingAt, Evidence, angle_between, bearing_of, end_name, long_axis


@dataclass(frozen=True)
class FordParams:
    """Lengths in metres and brightness in grey levels (0-255), so they mean the same at any GSD."""

    background_m: float = 40.0  # window for the local brightness of the water
    line_m: float = 20.0  # length of the line filter
    flank_m: float = 9.0  # how far to each side the water must be darker (a trace is ~5-15 m wide)
    min_ridge: float = 5.0  # grey levels lighter than the darker-looking flank
    min_angle_deg: float = 65.0  # to the river's direction: a ford crosses the channel within 25° of square
    min_length_m: float = 20.0
    max_width_m: float = 20.0
    min_cover: float = 0.5  # share of the channel crossing (water run along the trace) it covers
    max_cell_m: float = 4.0  # coarser grids do not resolve a 10 m trace reliably
    min_channel_m2: float = 2000.0  # less open water (or, for ice roads, less ice) in view than this: no channel here
    direction_step_m: float = 64.0  # the river's local direction (bearing_at) is looked up once per block this wide
    # ice roads: packed snow dirtied by wheels is warmer (redder) than the ice around it; clear ice swept bare of snow
    # is as dark but bluer (the water under it). (blue - red) of the strip at least this far below the ice's
    ice_min_warmer: float = 2.0
    # a road across the ice has white ice beside it, even where the land cover reads the road itself as bar; a strip
    # in a bar's own shading, or bar tips in line across a narrow gap of ice, has bar beside most of it. Share of the
    # points along the strip with ice on both sides (flank_m beyond its edges, square to it), at least
    ice_min_flanked: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def find_ford_traces(
    rgb: np.ndarray,
    classes: np.ndarray,
    transform: Affine,
    cell_m: float,
    river: np.ndarray,
    *,
    along_deg: float | None = None,
    bearing_at: BearingAt | None = None,
    owns=None,
    params: FordParams | None = None,
) -> list[Evidence]:
    """Ford traces in a tile. ``rgb`` is the image (bands, H, W) at any multiple of the land-cover grid
    ``classes`` (its transform and cell size given); ``river`` marks the river's water and bars on that
    grid. ``along_deg`` is the river's grid bearing here (estimated from ``river`` when None);
    ``bearing_at(x, y)`` gives the bearing at a point where known (a tile on a bend holds several), and a
    trace must cross the river where it lies, not the tile's mean direction."""
    return _strips_across(rgb, (classes == WATER) & river, classes, transform, cell_m, river, along_deg, bearing_at,
                          owns, params or FordParams(), darker=False)


def find_ice_roads(
    rgb: np.ndarray,
    classes: np.ndarray,
    transform: Affine,
    cell_m: float,
    river: np.ndarray,
    *,
    along_deg: float | None = None,
    bearing_at: BearingAt | None = None,
    owns=None,
    params: FordParams | None = None,
) -> list[Evidence]:
    """Ice roads in a tile: find_ford_traces on the river's ice, looking for darker instead of lighter
    strips (the same arguments and thresholds; ``lighter_by`` is then ``darker_by``).

    The strip is looked for over the ice and the bars of a frozen river: packed, dirtied snow has the grey-brown
    of a gravel bar, and the land cover reads a road across the ice as bar as often as ice."""
    p = params or FordParams()
    if np.count_nonzero((classes == ICE) & river) * cell_m * cell_m < p.min_channel_m2:
        return []  # no frozen channel in view
    return _strips_across(rgb, np.isin(classes, (ICE, SANDBAR)) & river, classes, transform, cell_m, river, along_deg,
                          bearing_at, owns, p, darker=True)


def _strips_across(rgb, surface, classes, transform, cell_m: float, river, along_deg, bearing_at, owns,
                   p: FordParams, *, darker: bool) -> list[Evidence]:
    """Ford traces (lighter strips of water) or ice roads (darker strips of ice) across the river, owned by the tile."""
    if cell_m > p.max_cell_m:
        return []
    if surface.sum() * cell_m * cell_m < p.min_channel_m2:
        return []  # no channel (open or frozen) in view
    if along_deg is None:
        along_deg = _principal_bearing(river)
        if along_deg is None:
            return []
    h, w = classes.shape
    along = _RiverDirection.over(surface, along_deg, bearing_at, transform, cell_m, p.direction_step_m)

    def on_grid(band: np.ndarray) -> np.ndarray:
        return band if band.shape == (h, w) else cv2.resize(band, (w, h), interpolation=cv2.INTER_AREA)

    grey = on_grid(rgb[:3].astype(np.float32).mean(axis=0))
    if darker:
        blue_red = on_grid(rgb[2].astype(np.float32) - rgb[0].astype(np.float32))
        found = _lighter_strips(255.0 - grey, surface, classes, transform, cell_m, along, p, kind="ice_road",
                                contrast_name="darker_by", tint=blue_red, flanked_by=ICE)
    else:
        found = _lighter_strips(grey, surface, classes, transform, cell_m, along, p, kind="ford_trace",
                                contrast_name="lighter_by")
    return [ev for ev in found if owns is None or owns(ev.x, ev.y)]


def _lighter_strips(grey, surface, classes, transform, cell_m: float, along: _RiverDirection, p: FordParams, *,
                    kind: str, contrast_name: str, tint: np.ndarray | None = None,
                    flanked_by: int | None = None) -> list[Evidence]:
    """Straight strips of ``surface`` (water, or ice with ``grey`` turned over) brighter than the surface on both
    sides, across the river (``along``: its direction over the grid) and over most of the surface's width on their line.
    With ``tint`` (blue minus red per cell), a strip must also be warmer than the surface around it by
    ``p.ice_min_warmer``; with ``flanked_by`` (a land-cover class), along ``p.ice_min_flanked`` of its length that
    class must lie on both sides, ``p.flank_m`` beyond its edges."""
    wf = surface.astype(np.float32)
    k = max(3, int(round(p.background_m / cell_m)) | 1)

    def local_contrast(band: np.ndarray) -> np.ndarray:
        bg = cv2.blur(band * wf, (k, k)) / np.maximum(cv2.blur(wf, (k, k)), 1e-3)
        return np.where(surface, band - bg, 0.0).astype(np.float32)

    contrast = local_contrast(grey)
    bluer = local_contrast(tint) if tint is not None else None
    ridge = _across_ridge(contrast, wf, cell_m, along, p)
    mask = (ridge >= p.min_ridge) & surface
    out: list[Evidence] = []
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    for i in range(1, n):
        x0, y0, bw, bh, area = stats[i]
        if area * cell_m * cell_m < p.min_length_m * 2.0:
            continue
        rr, cc = np.nonzero(lab[y0: y0 + bh, x0: x0 + bw] == i)
        pts = np.column_stack([cc + x0 + 0.5, rr + y0 + 0.5]).astype(np.float32)
        (cx, cy), (a, b), _ = cv2.minAreaRect(pts)
        length = (max(a, b) + 1.0) * cell_m
        width = float(area * cell_m * cell_m / length)
        if length < p.min_length_m or width > p.max_width_m or length < 2.0 * width:
            continue
        u = long_axis(pts)
        line_bearing = bearing_of(u)
        mid = int(np.argmin((pts[:, 0] - cx) ** 2 + (pts[:, 1] - cy) ** 2))  # the strip's cell nearest its centre
        river_here = along.at(rr[mid] + y0, cc[mid] + x0)
        if angle_between(line_bearing, river_here) < p.min_angle_deg:
            continue
        run, ends = _surface_run(surface, classes, np.array([cx, cy]), u, max(a, b) / 2.0)
        cover = (max(a, b) + 1.0) / max(run, 1.0)
        if cover < p.min_cover:
            continue
        comp = lab[y0: y0 + bh, x0: x0 + bw] == i
        extra = {}
        if flanked_by is not None:
            flanked = _flanked_share(classes, np.array([cx, cy]), u, max(a, b) / 2.0,
                                     (width / 2.0 + p.flank_m) / cell_m, flanked_by)
            if flanked < p.ice_min_flanked:
                continue  # bar beside most of it: a bar's shading or bar tips in line, not a road across the ice
            extra["ice_flanked"] = round(flanked, 2)
        if bluer is not None:
            warmer = -float(bluer[y0: y0 + bh, x0: x0 + bw][comp].mean())
            if warmer < p.ice_min_warmer:
                continue  # bare, clear ice (bluer than the snow), not a dirtied road
            extra["warmer_by"] = round(warmer, 1)
        strength = float(ridge[y0: y0 + bh, x0: x0 + bw][comp].mean())
        half = max(a, b) / 2.0
        end_xy = [transform * tuple(np.array([cx, cy]) + sign * u * half) for sign in (-1.0, 1.0)]
        mx, my = transform * (cx, cy)
        out.append(Evidence(kind, round(min(1.0, strength / 15.0) * min(1.0, cover), 3),
                            shapely.LineString(end_xy).buffer(max(width, cell_m) / 2.0, cap_style="flat"), mx, my, {
            "length_m": round(length, 1), "width_m": round(width, 1), contrast_name: round(strength, 1),
            "crossing_m": round(run * cell_m, 1), "cover": round(min(cover, 1.0), 2),
            "angle_to_river_deg": round(angle_between(line_bearing, river_here), 1), "ends": ends,
            "ends_xy": [[round(float(x), 2), round(float(y), 2)] for x, y in end_xy], **extra}))
    return out


def _flanked_share(classes: np.ndarray, centre: np.ndarray, u: np.ndarray, half: float, off: float, cls: int) -> float:
    """Share of points along a strip's axis (``centre`` +- ``half`` cells along ``u``, x and y) with class ``cls``
    at both points ``off`` cells to each side, square to the axis."""
    h, w = classes.shape
    t = np.arange(-half, half + 0.5, 1.0)
    n = np.array([-u[1], u[0]])
    both = np.ones(len(t), bool)
    for sign in (-1.0, 1.0):
        xy = centre + t[:, None] * u + sign * off * n
        c, r = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1]).astype(int)
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        both &= inside & (classes[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)] == cls)
    return float(both.mean())


def _line_kernel(bearing_deg: float, n: int) -> np.ndarray:
    k = np.zeros((n, n), np.float32)
    c = n // 2
    t = math.radians(bearing_deg)
    for s in np.linspace(-c, c, 4 * n):
        k[int(round(c - s * math.cos(t))), int(round(c + s * math.sin(t)))] = 1.0
    return k / k.sum()


def _shift(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(a, m, (a.shape[1], a.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _across_ridge(contrast: np.ndarray, wf: np.ndarray, cell_m: float, along: _RiverDirection, p: FordParams):
    """Best line-minus-flanks response over bearings that cross the river where each cell lies (line filter,
    10° steps)."""
    n = max(3, int(round(p.line_m / cell_m)) | 1)
    off = p.flank_m / cell_m
    best = np.full(contrast.shape, -np.inf, np.float32)
    weighted = contrast * wf
    for bearing in range(0, 180, 10):
        across = along.crossed_by(bearing, p.min_angle_deg)
        if across is False:
            continue  # along the river everywhere in this tile
        k = _line_kernel(bearing, n)
        num = cv2.filter2D(weighted, -1, k, borderType=cv2.BORDER_CONSTANT)
        den = cv2.filter2D(wf, -1, k, borderType=cv2.BORDER_CONSTANT)
        ok = den > 0.6
        line = np.where(ok, num / np.maximum(den, 1e-3), 0.0).astype(np.float32)
        # a flank out of the water cannot show the line is lighter than its surroundings
        flank_src = np.where(ok, line, 1e3).astype(np.float32)
        t = math.radians(bearing)
        nx, ny = math.cos(t) * off, math.sin(t) * off  # normal to the bearing, in pixel axes
        ridge = line - np.maximum(_shift(flank_src, nx, ny), _shift(flank_src, -nx, -ny))
        if across is not True:
            ridge[~across] = -np.inf  # blocks where this bearing runs along the river
        np.maximum(best, ridge, out=best)
    return best


class _RiverDirection:
    """The river's bearing (0-180°) over a tile's grid, one value per square block of cells: a tile on a
    bend holds several directions, and a strip must cross the one where it lies."""

    def __init__(self, blocks: np.ndarray, step: int, shape: tuple[int, int]):
        self.blocks, self.step, self.shape = blocks, step, shape  # blocks: NaN where nothing is looked for

    @classmethod
    def over(cls, surface: np.ndarray, along_deg: float, bearing_at: BearingAt | None, transform, cell_m: float,
             step_m: float) -> _RiverDirection:
        """``bearing_at`` looked up at the centre of each ``step_m`` block holding some ``surface``; ``along_deg``
        where it gives None, and everywhere when no ``bearing_at`` is given."""
        h, w = surface.shape
        if bearing_at is None:
            return cls(np.full((1, 1), along_deg % 180.0, np.float32), max(h, w), (h, w))
        step = max(1, int(round(step_m / cell_m)))
        nr, nc = -(-h // step), -(-w // step)
        padded = np.zeros((nr * step, nc * step), bool)
        padded[:h, :w] = surface
        blocks = np.full((nr, nc), np.nan, np.float32)
        for i, j in zip(*np.nonzero(padded.reshape(nr, step, nc, step).any(axis=(1, 3)))):
            r, c = min(i * step + step // 2, h - 1), min(j * step + step // 2, w - 1)
            here = bearing_at(*(transform * (c + 0.5, r + 0.5)))
            blocks[i, j] = (along_deg if here is None else here) % 180.0
        return cls(blocks, step, (h, w))

    def at(self, row: int, col: int) -> float:
        """The bearing at a cell (NaN in a block with no surface)."""
        return float(self.blocks[row // self.step, col // self.step])

    def crossed_by(self, bearing: float, min_angle_deg: float) -> bool | np.ndarray:
        """Where a line of ``bearing`` crosses the river at ``min_angle_deg`` or more: True or False for the whole
        grid, else a per-cell mask."""
        known = np.isfinite(self.blocks)
        ok = np.zeros(self.blocks.shape, bool)
        ok[known] = angle_between(bearing, self.blocks[known]) >= min_angle_deg
        if not ok.any():
            return False
        if ok[known].all():
            return True
        h, w = self.shape
        return np.repeat(np.repeat(ok, self.step, axis=0), self.step, axis=1)[:h, :w]


def _surface_run(surface: np.ndarray, classes: np.ndarray, centre: np.ndarray, u: np.ndarray, half: float):
    """Length (cells) of the surface crossed along the trace's line and what lies at each end."""
    h, w = surface.shape
    ends, total = [], 0.0
    for sign in (-1.0, 1.0):
        s = 0.0
        what = "edge"
        while True:
            x, y = centre + sign * s * u
            r, c = int(y), int(x)
            if not (0 <= r < h and 0 <= c < w):
                break
            if not surface[r, c]:
                what = end_name(classes[r, c])
                break
            s += 0.5
        total += s
        ends.append(what)
    return max(total, 2.0 * half), ends


def _principal_bearing(river: np.ndarray) -> float | None:
    rr, cc = np.nonzero(river)
    if len(rr) < 50:
        return None
    return bearing_of(long_axis(np.column_stack([cc, rr]).astype(np.float64)))
