"""Fence lines along the bank and the openings in them, where the imagery resolves a fence.

A border fence is a thin dark line (wire and posts) that runs parallel to the bank
some metres inland, alone: crop rows are many parallel lines, field and road
edges are steps, not lines, ruts and tracks cross the bank. Where crossings
happen the fence is open, and a track runs through the opening. So:

- thin dark features: the black top-hat of the log brightness (a relative darkening,
  the same on bright and dark ground), their crest one pixel wide, kept where the
  darkening holds for a few metres along the bank (the bank's direction comes from
  the distance to the river mask) and within reach of the river;
- pieces of line that are straight-ish, as faint as a wire (not a wall, eave or shadow),
  with no twin line 2-6 m to either side and open ground around them;
- pieces chained along the bank where they line up (a smooth bend, no step sideways);
- a break in a chain is an opening only where the line is really absent: not faded
  (a sub-pixel wire fades as it crosses the pixel grid), not hidden along a darker
  field edge, not off the image or over nodata, and with fence on both sides. The ends
  of a chain are never openings, and at a GSD where a fence is not resolved nothing is
  reported at all.

Every threshold is in metres (FenceParams) so it means the same at any GSD.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import shapely
from affine import Affine

from borderwatch.analysis.crossings.evidence import Evidence
from borderwatch.errors import InputError, positive_gsd

@dataclass(frozen=True)
class FenceParams:
    """Thresholds in metres (and log-brightness contrast), so they mean the same at any GSD."""

    max_gsd_m: float = 1.0  # coarser than this a fence is not resolved: no fence evidence at all
    line_width_m: float = 2.5  # top-hat element: dark features narrower than this are lines
    min_contrast: float = 0.06  # least darkening of a line (log brightness, ~6 %)
    max_darkening: float = 0.25  # most darkening of a wire fence's line (median along a piece)
    level_k: float = 3.0  # a line is this many times darker than the local top-hat level
    level_window_m: float = 24.0
    low_ratio: float = 0.55  # pixels this share of the threshold may be on a line...
    along_m: float = 3.0  # ...if the darkening averaged over +-along_m along the bank
    along_ratio: float = 0.8  # is at least this share of the threshold
    min_dist_m: float = 4.0  # from the river's edge (the water's edge itself is no fence)
    max_dist_m: float = 100.0
    max_angle_deg: float = 25.0  # from the bank's direction
    min_piece_m: float = 10.0  # shortest piece of line kept
    max_residual_m: float = 1.2  # a piece is straight-ish: pixels this close to its centre line
    parallel_m: tuple[float, float] = (2.0, 6.0)  # twin lines this far to either side: crop rows
    max_parallel_share: float = 0.35
    clutter_m: tuple[float, float] = (2.0, 8.0)  # where to look for busy ground beside a line
    max_clutter: float = 0.08
    link_lateral_m: float = 2.0  # pieces that line up within this (plus 3 % of the gap) chain
    link_angle_deg: float = 25.0
    link_max_m: float = 80.0  # longest interruption bridged when chaining
    min_gap_m: float = 5.0  # openings: shorter breaks are missed posts or a bush
    max_gap_m: float = 60.0
    min_gap_px: int = 9  # shorter breaks are within the noise of a faint line at coarse GSD
    min_side_m: float = 20.0  # fence on each side of an opening
    min_fence_m: float = 150.0  # and at least this much line (pieces found) in the chain it interrupts
    fill_ratio: float = 0.5  # a faded fence is still this share of the chain's darkening
    hide_ratio: float = 0.5  # a brightness step across the line this big hides a fence
    min_open_share: float = 0.3  # of a break, seen open (not line, not hidden by a step)
    min_open_m: float = 4.0  # and at least this long seen open
    blip_m: float = 1.5  # dark bits in a break shorter than this (a post, a vehicle's shadow) are no fence
    min_line_m: float = 30.0  # a chain shorter than this is not reported as a fence

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Piece:
    """One stretch of line in pixel coordinates, ordered along the bank."""

    cols: np.ndarray  # centre line (col, row) in pixel coordinates (centres at +0.5)
    rows: np.ndarray
    length_px: float
    contrast: float
    dist_m: float
    u0: float  # along-bank coordinate (px) of the first and last point
    u1: float
    clutter: float = 0.0  # share of the ground 2-8 m either side that is dark detail


def find_fences(
    rgb: np.ndarray,
    valid: np.ndarray,
    transform: Affine,
    gsd_m: float,
    river: np.ndarray,
    river_transform: Affine,
    *,
    along_deg: float | None = None,
    owns=None,
    clip=None,
    params: FenceParams | None = None,
) -> list[Evidence]:
    """Fence lines (kind "fence_line") and openings in them ("fence_opening") in one tile.

    rgb is the tile with its margin, (bands, H, W) uint8 with RGB first; valid marks pixels
    with imagery; river is the river (water and bars, ponds removed) on a coarser north-up
    grid. along_deg is the river's grid bearing here (None: from the river mask). owns(x, y)
    keeps evidence anchored in this tile; fence lines are clipped to clip (the tile proper)
    so neighbouring tiles do not store the same line twice.
    """
    p = params or FenceParams()
    _check_inputs(rgb, valid, river, transform, river_transform, gsd_m, along_deg)
    gsd = float(gsd_m)
    if gsd > p.max_gsd_m or not river.any() or not valid.any():
        return []
    pieces, ctx = _pieces(rgb, valid, transform, gsd, river, river_transform, along_deg, p)
    if not pieces:
        return []
    chains = _chain(pieces, gsd, p)
    out: list[Evidence] = []

    def keep(ev: Evidence) -> None:
        if owns is None or owns(ev.x, ev.y):
            out.append(ev)

    clip_box = shapely.box(*clip) if clip is not None else None
    # at a coarser GSD a faint fence fades in and out more: openings are less certain
    resolved = float(np.clip(1.0 - 0.5 * (gsd - 0.5) / 0.5, 0.5, 1.0))
    for chain in chains:
        total_px = sum(pc.length_px for pc in chain)
        if total_px * gsd < p.min_line_m:
            continue
        gaps = _gaps(chain, ctx, gsd, p)
        for ev in _openings(chain, gaps, ctx, transform, gsd, p):
            ev.score = round(ev.score * resolved, 3)
            keep(ev)
        geom = _chain_geometry(chain, gaps, transform)
        if geom is not None and clip_box is not None:
            geom = _lines_only(shapely.intersection(geom, clip_box))
        if geom is None or geom.is_empty or geom.length < 1.0:
            continue
        anchor = shapely.line_interpolate_point(_longest(geom), 0.5, normalized=True)
        weights = [pc.length_px for pc in chain]
        contrast = float(np.average([pc.contrast for pc in chain], weights=weights))
        dist = float(np.average([pc.dist_m for pc in chain], weights=weights))
        score = min(1.0, total_px * gsd / 200.0) * min(1.0, contrast / 0.15) * resolved
        keep(Evidence("fence_line", round(score, 3), geom, float(anchor.x), float(anchor.y), {
            "length_m": round(float(geom.length), 1), "dist_river_m": round(dist, 1),
            "contrast": round(float(1.0 - math.exp(-contrast)), 3), "chain_m": round(total_px * gsd, 1)}))
    return out


# -- inputs -------------------------------------------------------------------------


def _check_inputs(rgb, valid, river, transform, river_transform, gsd_m, along_deg) -> None:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[0] < 3 or rgb.dtype != np.uint8:
        raise InputError("rgb", f"expected (bands >= 3, H, W) uint8, got {rgb.shape} {rgb.dtype}")
    if np.shape(valid) != rgb.shape[1:]:
        raise InputError("valid", f"mask shape {np.shape(valid)} does not match the image {rgb.shape[1:]}")
    if np.ndim(river) != 2:
        raise InputError("river", f"expected a 2-D mask, got shape {np.shape(river)}")
    positive_gsd(gsd_m)
    if along_deg is not None and not math.isfinite(float(along_deg)):
        raise InputError("along_deg", f"river bearing {along_deg!r} is not a finite number")
    for name, t in (("transform", transform), ("river_transform", river_transform)):
        if abs(t.b) > 1e-9 or abs(t.d) > 1e-9 or t.a <= 0 or t.e >= 0:
            raise InputError(name, f"expected a north-up transform, got {tuple(t)[:6]}")


class _Context:
    """What the opening checks need from the pixel stage."""

    def __init__(self, grey, bh, level, hi_t, line, ok, dist_at, shape, edge):
        self.edge = edge  # pixels next to the frame where no line is looked for
        self.grey = grey  # log brightness
        self.bh = bh
        self.level = level
        self.hi_t = hi_t
        self.line = line  # crest pixels of lines along the bank
        self.ok = ok  # valid, on land, away from nodata and the image edge
        self.dist_at = dist_at
        self.shape = shape


def _pieces(rgb, valid, transform, gsd, river, river_transform, along_deg, p: FenceParams):
    h, w = valid.shape
    # full pixel centre (c + .5, r + .5) -> continuous coarse coordinates
    A = ~river_transform * transform
    ca, cc, ce, cf = A.a, A.c, A.e, A.f
    rh, rw = river.shape
    cell = abs(river_transform.a)
    riv = (np.asarray(river) > 0).astype(np.uint8)
    dist_c = cv2.distanceTransform(1 - riv, cv2.DIST_L2, 5) * np.float32(cell)
    # the bank's direction: the gradient of the (smoothed) distance to the river
    sm = cv2.GaussianBlur(dist_c, (0, 0), max(1.0, 8.0 / cell))
    gy, gx = np.gradient(sm)
    mag = np.hypot(gx, gy)
    if along_deg is None:
        along_deg = _river_bearing(river)
    b = math.radians(along_deg)
    t_glob = np.array([math.sin(b), -math.cos(b)])  # along the river, in (col, row)
    # normals of the bank; where the distance field has no clear slope use the river's bearing
    strong = mag > 0.3 * cell
    nx = np.where(strong, gx / np.maximum(mag, 1e-6), -t_glob[1]).astype(np.float32)
    ny = np.where(strong, gy / np.maximum(mag, 1e-6), t_glob[0]).astype(np.float32)

    def coarse_idx(cols, rows):
        ci = np.clip(np.floor(ca * cols + cc).astype(np.int64), 0, rw - 1)
        ri = np.clip(np.floor(ce * rows + cf).astype(np.int64), 0, rh - 1)
        return ri, ci

    def dist_at(cols, rows):
        ri, ci = coarse_idx(cols, rows)
        return dist_c[ri, ci]

    # the band to search: land within reach of the river, on a full-resolution mask
    band_c = ((dist_c >= p.min_dist_m) & (dist_c <= p.max_dist_m + 10.0)).astype(np.uint8)
    M = np.array([[ca, 0.0, ca * 0.5 + cc - 0.5], [0.0, ce, ce * 0.5 + cf - 0.5]], np.float64)
    band = cv2.warpAffine(band_c, M, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    k = max(5, int(round(p.line_width_m / gsd)) | 1)  # a wire is a pixel or two wide at any GSD
    half = max(1, int(round(p.along_m / gsd)))
    edge = max(k, half) + 2  # every offset sampled below stays inside the image
    ok = valid.astype(np.uint8)
    ok = cv2.erode(ok, np.ones((2 * edge + 1, 2 * edge + 1), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    ok &= band
    if not ok.any():
        return [], None
    # thin dark features: black top-hat of the log brightness
    grey = rgb[0].astype(np.float32)
    grey += rgb[1]
    grey += rgb[2]
    grey += 3.0
    g = cv2.log(grey)
    bh = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    win = max(3, int(round(p.level_window_m / gsd)) | 1)
    level = cv2.blur(bh, (win, win))
    hi_t = np.maximum(p.min_contrast, p.level_k * level)
    low = (bh > p.low_ratio * hi_t) & (ok > 0)
    rr, cs = np.nonzero(low)
    if not len(rr):
        return [], None
    # bank directions in 32 steps, as whole-pixel offsets into the flattened image (fast gathers)
    nb = 32
    dbin_c = np.round(np.arctan2(nx, -ny) / (math.pi / nb)).astype(np.int64) % nb
    row_c = np.clip(np.floor(ce * (np.arange(h) + 0.5) + cf).astype(np.int64), 0, rh - 1)
    col_c = np.clip(np.floor(ca * (np.arange(w) + 0.5) + cc).astype(np.int64), 0, rw - 1)
    dbin = dbin_c[row_c[rr], col_c[cs]].astype(np.int32)
    ang = np.arange(nb) * (math.pi / nb)
    tdc, tdr = np.cos(ang), np.sin(ang)  # along the bank (col, row) per bin
    flat = bh.ravel()
    idx = (rr * w + cs).astype(np.int32)
    # the crest of the line only (one pixel across), so lines side by side stay apart
    ncol = np.round(-tdr).astype(np.int64)
    nrow = np.round(tdc).astype(np.int64)
    noff = (nrow * w + ncol).astype(np.int32)[dbin]
    v0 = flat[idx]
    crest = (v0 >= flat[idx + noff]) & (v0 >= flat[idx - noff])
    rr, cs, idx, dbin = rr[crest], cs[crest], idx[crest], dbin[crest]
    # along the bank the line goes on: its darkening averaged over a few metres along the
    # bank stays high (a post, a speck or a rut across the bank does not)
    acc = np.zeros(len(rr), np.float32)
    steps = range(-half, half + 1, max(1, half // 3))
    for j in steps:
        off = (np.round(j * tdr) * w + np.round(j * tdc)).astype(np.int32)
        acc += flat[idx + off[dbin]]
    keep = acc / len(steps) > p.along_ratio * hi_t.ravel()[idx]
    rr, cs = rr[keep], cs[keep]
    fc, fr = cs + 0.5, rr + 0.5
    ri, ci = row_c[rr], col_c[cs]
    pnx, pny = nx[ri, ci], ny[ri, ci]
    line = np.zeros((h, w), np.uint8)
    line[rr, cs] = 1
    # a faint line breaks up into crest pixels a pixel apart: bridge those, then label
    joined = cv2.morphologyEx(line, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, lab = cv2.connectedComponents(joined, connectivity=8)
    if n <= 1:
        return [], None
    lab = np.where(line > 0, lab, 0)
    min_px = 0.6 * p.min_piece_m / gsd
    big = np.bincount(lab[rr, cs], minlength=n) >= min_px
    big[0] = False
    # twin lines 2-6 m to either side: crop rows, a striped field, a ditch and its bank: not a fence
    offs = np.arange(p.parallel_m[0], p.parallel_m[1] + 1e-6, max(gsd, 0.5)) / gsd
    labels_at = lab[rr, cs]
    sel = big[labels_at]
    sc, sr, snx, sny, slab = fc[sel], fr[sel], pnx[sel], pny[sel], labels_at[sel]
    twin = np.zeros(len(sc), bool)
    if len(sc):
        side = []
        for sign in (1.0, -1.0):
            hit = np.zeros(len(sc), bool)
            for o in offs:
                qc = np.clip((sc + sign * o * snx).astype(np.int64), 0, w - 1)
                qr = np.clip((sr + sign * o * sny).astype(np.int64), 0, h - 1)
                lq = lab[qr, qc]
                hit |= (line[qr, qc] > 0) & (lq != slab)
            side.append(hit)
        twin = side[0] | side[1]
    par_share = np.bincount(slab, weights=twin.astype(np.float64), minlength=n) / np.maximum(np.bincount(slab, minlength=n), 1)
    cos_max = math.cos(math.radians(p.max_angle_deg))
    pieces: list[_Piece] = []
    order = np.argsort(slab, kind="stable")
    bounds = np.searchsorted(slab[order], np.arange(n + 1))
    for i in np.nonzero(big)[0]:
        if par_share[i] > p.max_parallel_share:
            continue
        m = order[bounds[i]: bounds[i + 1]]
        pc = _fit_piece(sc[m], sr[m], snx[m], sny[m], bh, gsd, t_glob, cos_max, p)
        if pc is None:
            continue
        if pc.contrast > -math.log(1.0 - p.max_darkening):
            continue  # a wire fence blocks part of a pixel: darker lines are walls, eaves, shadows
        pc.dist_m = float(np.median(dist_at(pc.cols, pc.rows)))
        if pc.dist_m > p.max_dist_m:
            continue
        pc.clutter = _clutter(pc, bh, hi_t, gsd, p)
        if pc.clutter > p.max_clutter:
            continue  # among trees, roofs and shadows a dark line is anything
        pieces.append(pc)
    ctx = _Context(g, bh, level, hi_t, line, ok, dist_at, (h, w), edge)
    return pieces, ctx


def _fit_piece(cols, rows, nx, ny, bh, gsd, t_glob, cos_max, p: FenceParams) -> _Piece | None:
    """A centre line through a component's pixels, ordered along the bank; None if it is not a
    straight-ish thin line running along the bank."""
    tx, ty = -ny.mean(), nx.mean()  # the bank's direction here
    tn = math.hypot(tx, ty)
    if tn < 1e-6:
        return None
    tx, ty = tx / tn, ty / tn
    if tx * t_glob[0] + ty * t_glob[1] < 0:
        tx, ty = -tx, -ty
    u = cols * tx + rows * ty
    v = cols * (-ty) + rows * tx
    step = max(1.0, 2.0 / gsd)
    ub = np.floor((u - u.min()) / step).astype(np.int64)
    nb = int(ub.max()) + 1
    cnt = np.bincount(ub, minlength=nb)
    filled = cnt > 0
    if filled.sum() < 2:
        return None
    vm = np.bincount(ub, weights=v, minlength=nb)[filled] / cnt[filled]
    um = np.bincount(ub, weights=u, minlength=nb)[filled] / cnt[filled]
    # straight-ish: pixels close to the binned centre line, and thin
    res = np.abs(v - np.interp(u, um, vm))
    if np.mean(res * gsd <= p.max_residual_m) < 0.85:
        return None
    du, dv = np.diff(um), np.diff(vm)
    length = float(np.hypot(du, dv).sum())
    if length * gsd < p.min_piece_m:
        return None
    if len(cols) * gsd / max(length, 1e-6) > p.line_width_m:  # mean width in metres
        return None
    # along the bank: the chord and the centre line's steps
    chord = math.hypot(um[-1] - um[0], vm[-1] - vm[0])
    if chord <= 0 or (um[-1] - um[0]) / chord < cos_max:
        return None
    c_line = um * tx - vm * ty
    r_line = um * ty + vm * tx
    contrast = float(np.median(_bilinear(bh, c_line, r_line)))
    ug = c_line * t_glob[0] + r_line * t_glob[1]
    if ug[-1] < ug[0]:
        c_line, r_line, ug = c_line[::-1], r_line[::-1], ug[::-1]
    return _Piece(c_line, r_line, length, contrast, 0.0, float(ug[0]), float(ug[-1]))


def _clutter(pc: _Piece, bh, hi_t, gsd: float, p: FenceParams) -> float:
    """How busy the ground beside a line is: the share of dark detail (trees, roofs, shadows,
    rows) 2-8 m either side. A fence runs through open ground."""
    c, r = pc.cols, pc.rows
    dc = np.gradient(c)
    dr = np.gradient(r)
    nn = np.hypot(dc, dr)
    nn[nn == 0] = 1.0
    nx, ny = -dr / nn, dc / nn
    offs = np.arange(p.clutter_m[0], p.clutter_m[1] + 1e-6, gsd) / gsd
    busy = 0
    for sign in (1.0, -1.0):
        for o in offs:
            ci = np.clip((c + sign * o * nx).astype(np.int64), 0, bh.shape[1] - 1)
            ri = np.clip((r + sign * o * ny).astype(np.int64), 0, bh.shape[0] - 1)
            busy += int(np.count_nonzero(bh[ri, ci] > hi_t[ri, ci]))
    return busy / (2 * len(offs) * len(c))


def _river_bearing(river: np.ndarray) -> float:
    """Grid bearing (0 = north, clockwise) of the river mask's long axis."""
    r, c = np.nonzero(river)
    if len(r) < 3:
        return 0.0
    x = c - c.mean()
    y = -(r - r.mean())
    cov = np.cov(np.vstack([x, y]))
    evals, evecs = np.linalg.eigh(cov)
    vx, vy = evecs[:, int(np.argmax(evals))]
    return math.degrees(math.atan2(vx, vy)) % 360.0


def _bilinear(img: np.ndarray, cols, rows) -> np.ndarray:
    """img sampled at continuous pixel coordinates (centres at +0.5), clamped at the edges."""
    h, w = img.shape
    x = np.clip(np.asarray(cols, np.float64) - 0.5, 0, w - 1.000001)
    y = np.clip(np.asarray(rows, np.float64) - 0.5, 0, h - 1.000001)
    x0 = x.astype(np.int64)
    y0 = y.astype(np.int64)
    fx = x - x0
    fy = y - y0
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    return (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x1] * fx * (1 - fy)
            + img[y1, x0] * (1 - fx) * fy + img[y1, x1] * fx * fy)


# -- chains ------------------------------------------------------------------------


def _end_dir(pc: _Piece, at_end: bool, span_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(point, unit direction pointing outward) of a piece's end, fitted over its last span_px."""
    pts = np.column_stack([pc.cols, pc.rows])
    if at_end:
        pts = pts[::-1]
    end = pts[0]
    d = np.hypot(*(pts - end).T)
    far = pts[d <= span_px]
    ref = far[-1] if len(far) > 1 else pts[min(1, len(pts) - 1)]
    v = end - ref
    nv = math.hypot(*v)
    return end, (v / nv if nv > 0 else np.zeros(2))


def _link(a: _Piece, b: _Piece, gsd: float, p: FenceParams) -> float | None:
    """The gap (px) between a's end and b's start when b continues a's line; None otherwise."""
    span = 20.0 / gsd
    ea, da = _end_dir(a, True, span)
    sb, db = _end_dir(b, False, span)
    gap_vec = sb - ea
    gap = float(math.hypot(*gap_vec))
    if gap * gsd > p.link_max_m or b.u0 < a.u1 - 2.0 / gsd:
        return None
    d0, d1 = da, -db  # the way the line runs at a's end and at b's start
    if float(np.dot(d0, d1)) < math.cos(math.radians(p.link_angle_deg)):
        return None
    if gap * gsd <= 2.0:
        return gap
    ch = gap_vec / gap
    if float(np.dot(ch, d0)) < 0.5:
        return None  # b starts beside or behind a's end: side by side, not in line
    # on a smooth bend the chord halves the turn; a step sideways turns one way, then back
    t1 = math.atan2(d0[0] * ch[1] - d0[1] * ch[0], float(np.dot(d0, ch)))
    t2 = math.atan2(ch[0] * d1[1] - ch[1] * d1[0], float(np.dot(ch, d1)))
    sideways = gap * abs(math.sin((t1 - t2) / 2.0))
    if sideways * gsd > p.link_lateral_m + 0.03 * gap * gsd:
        return None
    return gap


def _chain(pieces: list[_Piece], gsd: float, p: FenceParams) -> list[list[_Piece]]:
    """Pieces that line up along the bank, joined into chains (greedy, nearest first)."""
    order = sorted(range(len(pieces)), key=lambda i: pieces[i].u0)
    cand = []
    for ii, i in enumerate(order):
        for j in order[ii + 1:]:
            g = _link(pieces[i], pieces[j], gsd, p)
            if g is not None:
                cand.append((g, i, j))
    cand.sort()
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for _, i, j in cand:
        if i in nxt or j in prv:
            continue
        nxt[i] = j
        prv[j] = i
    chains = []
    for i in order:
        if i in prv:
            continue
        c = [pieces[i]]
        while i in nxt:
            i = nxt[i]
            c.append(pieces[i])
        chains.append(c)
    return chains


def _px_to_map(transform: Affine, cols, rows) -> np.ndarray:
    x, y = transform * (np.asarray(cols, np.float64), np.asarray(rows, np.float64))
    return np.column_stack([x, y])


def _chain_geometry(chain: list[_Piece], links: list["_Gap"], transform: Affine):
    """The chain as lines in map metres, broken only where the fence is really absent."""
    parts: list[np.ndarray] = []
    cur = _px_to_map(transform, chain[0].cols, chain[0].rows)
    for pc, lk in zip(chain[1:], links):
        xy = _px_to_map(transform, pc.cols, pc.rows)
        if lk.empty_px is None:
            cur = np.vstack([cur, xy])
        else:
            parts.append(cur)
            cur = xy
    parts.append(cur)
    lines = [shapely.LineString(q) for q in parts if len(q) >= 2]
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)


def _lines_only(geom):
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("LineString", "MultiLineString"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type == "LineString" and not g.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def _longest(geom):
    if geom.geom_type == "MultiLineString":
        return max(geom.geoms, key=lambda g: g.length)
    return geom


# -- openings ----------------------------------------------------------------------


@dataclass
class _Gap:
    """The break between two chained pieces: where along it the fence is missing, if anywhere."""

    gap_px: float  # end of one piece to the start of the next
    empty_px: tuple[float, float] | None  # the longest stretch with no line (from, to), px from a's end
    seen: bool  # the whole break lies on imagery of land inside the image
    fill: float  # median top-hat along the empty stretch
    states: np.ndarray | None = None  # per station along the break: 0 empty, 1 line, 2 hidden by a step
    clutter: float = 0.0  # share of dark detail 2-8 m either side of the open stretch


def _gaps(chain: list[_Piece], ctx: _Context, gsd: float, p: FenceParams) -> list[_Gap]:
    """Each break of a chain, with the stretch where the fence is really absent.

    A fence crossing the pixel grid at half a pixel, or over darker ground, fades
    without ending: such a stretch still shows a line a little darker than the
    ground (or a line pixel within reach), so only a stretch with neither is a gap.
    """
    h, w = ctx.shape
    contrast = float(np.median([pc.contrast for pc in chain]))
    out = []
    lat = np.arange(-1.0, 1.0 + 1e-6, 1.0)
    reach = np.arange(-p.link_lateral_m, p.link_lateral_m + 1e-6, gsd) / gsd
    side_offs = np.arange(1.5, 3.0 + 1e-6, gsd) / gsd
    busy_offs = np.arange(p.clutter_m[0], p.clutter_m[1] + 1e-6, gsd) / gsd
    for a, b in zip(chain, chain[1:]):
        c0, r0, c1, r1 = a.cols[-1], a.rows[-1], b.cols[0], b.rows[0]
        gap = math.hypot(c1 - c0, r1 - r0)
        if gap * gsd < p.min_gap_m:
            out.append(_Gap(gap, None, True, 0.0))
            continue
        n = int(math.ceil(gap)) + 1
        tc = np.linspace(c0, c1, n)
        tr = np.linspace(r0, r1, n)
        nx_, ny_ = -(r1 - r0) / gap, (c1 - c0) / gap
        ci = np.clip(tc.astype(np.int64), 0, w - 1)
        ri = np.clip(tr.astype(np.int64), 0, h - 1)
        seen = bool(((tc >= 0) & (tc < w) & (tr >= 0) & (tr < h)).all() and (ctx.ok[ri, ci] > 0).all())
        across = np.max([_bilinear(ctx.bh, tc + o * nx_, tr + o * ny_) for o in lat], axis=0)
        thr = np.maximum(p.fill_ratio * contrast, 2.0 * ctx.level[ri, ci])
        filled = across >= thr
        for o in reach:
            qc = np.clip((tc + o * nx_).astype(np.int64), 0, w - 1)
            qr = np.clip((tr + o * ny_).astype(np.int64), 0, h - 1)
            filled |= ctx.line[qr, qc] > 0
        # along a step in brightness (a darker field beside the line) a fence fades into the
        # darker side: there the imagery cannot tell fence from no fence
        side_a = np.mean([_bilinear(ctx.grey, tc + o * nx_, tr + o * ny_) for o in side_offs], axis=0)
        side_b = np.mean([_bilinear(ctx.grey, tc - o * nx_, tr - o * ny_) for o in side_offs], axis=0)
        step = np.abs(side_a - side_b)
        hidden = step > p.hide_ratio * contrast
        # a post, a speck or a vehicle in an open gap is no fence
        filled = _drop_short_runs(filled, max(1, int(round(p.blip_m / gsd))))
        states = np.where(filled, 1, np.where(hidden, 2, 0)).astype(np.int8)
        run = _longest_run(~filled)
        # the break must be seen open over a good share of it, not only hidden by steps
        if (run is None or (run[1] - run[0]) * gsd < p.min_gap_m
                or np.mean(states[run[0]: run[1]] == 0) < p.min_open_share
                or np.sum(states[run[0]: run[1]] == 0) * gsd < p.min_open_m):
            out.append(_Gap(gap, None, seen, 0.0, states))
            continue
        fill = float(np.median(across[run[0]: run[1]]))
        # how busy the ground around the open stretch is (dark detail 2-8 m either side)
        sl = slice(run[0], run[1])
        busy = []
        for o in busy_offs:
            for sign in (1.0, -1.0):
                qc = np.clip((tc[sl] + sign * o * nx_).astype(np.int64), 0, w - 1)
                qr = np.clip((tr[sl] + sign * o * ny_).astype(np.int64), 0, h - 1)
                busy.append(ctx.bh[qr, qc] > ctx.hi_t[qr, qc])
        spacing = gap / max(n - 1, 1)
        out.append(_Gap(gap, (run[0] * spacing, min(run[1] * spacing, gap)), seen, fill, states, float(np.mean(busy))))
    return out


def _drop_short_runs(mask: np.ndarray, k: int) -> np.ndarray:
    """mask with its True runs shorter than k set False."""
    out = mask.copy()
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for s0, s1 in zip(idx[::2], idx[1::2]):
        if s1 - s0 < k:
            out[s0:s1] = False
    return out


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    if not len(idx):
        return None
    lens = idx[1::2] - idx[::2]
    i = int(np.argmax(lens))
    return int(idx[2 * i]), int(idx[2 * i + 1])


def _openings(chain: list[_Piece], gaps: list[_Gap], ctx: _Context, transform: Affine, gsd: float,
              p: FenceParams) -> list[Evidence]:
    """Breaks of one chain where the fence is absent, with fence on both sides, on imagery that
    would show it (not nodata, not off the image, not the river)."""
    if len(chain) < 2 or sum(pc.length_px for pc in chain) * gsd < p.min_fence_m:
        return []  # a border fence runs on for hundreds of metres; short lines are other things
    # fence runs: pieces joined across breaks where the fence only fades
    run_len = [chain[0].length_px]
    for pc, g in zip(chain[1:], gaps):
        if g.empty_px is None:
            run_len[-1] += g.gap_px + pc.length_px
        else:
            run_len[-1] += g.empty_px[0]
            run_len.append(g.gap_px - g.empty_px[1] + pc.length_px)
    contrast = float(np.median([pc.contrast for pc in chain]))
    chain_m = sum(pc.length_px for pc in chain) * gsd
    h, w = ctx.shape
    margin = ctx.edge + 2.0 / gsd

    def at_frame(c, r) -> bool:
        return min(c, r, w - c, h - r) <= margin

    cut = (at_frame(chain[0].cols[0], chain[0].rows[0]), at_frame(chain[-1].cols[-1], chain[-1].rows[-1]))
    out = []
    k = 0
    for a, b, g in zip(chain, chain[1:], gaps):
        if g.empty_px is None:
            continue
        before, after = run_len[k] * gsd, run_len[k + 1] * gsd
        k += 1
        gap_m = (g.empty_px[1] - g.empty_px[0]) * gsd
        if not g.seen or not (max(p.min_gap_m, p.min_gap_px * gsd) <= gap_m <= p.max_gap_m):
            continue
        # a side cut off by the image frame (the fence runs on out of view) needs half as much
        need_before = p.min_side_m * (0.5 if k == 1 and cut[0] else 1.0)
        need_after = p.min_side_m * (0.5 if k == len(run_len) - 1 and cut[1] else 1.0)
        if before < need_before or after < need_after:
            continue
        c0, r0, c1, r1 = a.cols[-1], a.rows[-1], b.cols[0], b.rows[0]
        ux, uy = (c1 - c0) / g.gap_px, (r1 - r0) / g.gap_px
        e0 = (c0 + ux * g.empty_px[0], r0 + uy * g.empty_px[0])
        e1 = (c0 + ux * g.empty_px[1], r0 + uy * g.empty_px[1])
        empty = max(0.0, 1.0 - g.fill / max(contrast, 1e-6))
        sides = min(1.0, min(before, after) / (2 * p.min_side_m))
        score = round(float(np.clip(0.4 + 0.6 * empty, 0, 1) * (0.6 + 0.4 * sides)), 3)
        xy = _px_to_map(transform, [e0[0], e1[0]], [e0[1], e1[1]])
        # anchored at the middle of the break between the two fence ends, which a neighbouring
        # tile sees alike (the open stretch inside it may differ), so the tiles agree who owns it
        cx, cy = transform * ((c0 + c1) / 2.0, (r0 + r1) / 2.0)
        dist = float(ctx.dist_at(np.array([(e0[0] + e1[0]) / 2]), np.array([(e0[1] + e1[1]) / 2]))[0])
        out.append(Evidence("fence_opening", score, shapely.LineString(xy), float(cx), float(cy), {
            "gap_m": round(gap_m, 1), "fence_m_before": round(before, 1), "fence_m_after": round(after, 1),
            "dist_river_m": round(dist, 1), "contrast": round(float(1.0 - math.exp(-contrast)), 3),
            "clutter": round(g.clutter, 3), "chain_m": round(chain_m, 1)}))
    return out
