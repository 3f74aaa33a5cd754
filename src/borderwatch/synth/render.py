"""Compose one window: ground from seamless noise fields, then site ground changes,
shadows, objects, a sensor blur and noise.

Smooth fields are computed on world-aligned lattices and upsampled per pixel with
weights from absolute pixel coordinates; the window is rendered with a margin so
the blur never sees an edge. Together these make any window seamless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from borderwatch.synth import palette as P
from borderwatch.synth.catalog import KINDS
from borderwatch.synth.layout import Mod, Obj
from borderwatch.synth.noise import Upsampler, fbm2, hash2, key, rand2
from borderwatch.synth.profile import VILLAGE_SEG_M
from borderwatch.synth.season import phenology, shadow_vector

MARGIN_PX = 8
LAT_M = 8.0
SHIFT = 3  # cv2 sub-pixel bits
_AMP = P.texture_amp()
_LC = P.landcover_lut()

DIRT = np.array([166, 148, 120], np.float32)
ICE_ROAD = np.array([150, 146, 138], np.float32)  # snow packed and dirtied by wheels and feet
SNOW_ICE = np.array([224, 229, 235], np.float32)  # snow lying on river ice: whiter and smoother than on land
GREY_ICE = np.array([170, 178, 184], np.float32)  # ice without snow (late March)
BARE_ICE = np.array([112, 128, 138], np.float32)  # clear ice swept free of snow: dark, blue-grey
RUT = np.array([128, 112, 92], np.float32)
SILT = np.array([150, 142, 112], np.float32)
DECK = (118, 104, 86)
RAIL = (70, 66, 60)


@dataclass
class Grid:
    """Pixel centres of a window (plus margin) on the global pixel grid of its GSD."""

    xs: np.ndarray
    ys: np.ndarray
    gx0: float  # x / gsd of the left edge (integer when on the global grid)
    gy0: float  # y / gsd of the top edge
    gsd: float

    @classmethod
    def of(cls, bounds, gsd: float, margin: int) -> tuple["Grid", int, int]:
        minx, miny, maxx, maxy = bounds
        w = int(round((maxx - minx) / gsd))
        h = int(round((maxy - miny) / gsd))
        gx0, gy0 = minx / gsd, maxy / gsd
        if abs(gx0 - round(gx0)) < 1e-6:
            gx0 = float(round(gx0))
        if abs(gy0 - round(gy0)) < 1e-6:
            gy0 = float(round(gy0))
        gx0 -= margin
        gy0 += margin
        xs = (gx0 + np.arange(w + 2 * margin) + 0.5) * gsd
        ys = (gy0 - np.arange(h + 2 * margin) - 0.5) * gsd
        return cls(xs, ys, gx0, gy0, gsd), h, w

    def px(self, xy: np.ndarray) -> np.ndarray:
        """World xy (n, 2) to cv2 fixed-point pixel coordinates (n, 2) int32."""
        c = np.empty_like(xy)
        c[:, 0] = (xy[:, 0] / self.gsd - self.gx0) - 0.5
        c[:, 1] = (self.gy0 - xy[:, 1] / self.gsd) - 0.5
        return np.round(c * (1 << SHIFT)).astype(np.int32)


def render_window(world, bounds, gsd: float, date_index: int, want_labels: bool = False):
    """(rgb uint8 (3, H, W), labels uint8 (H, W) or None)."""
    d = world.dates[date_index] if date_index < len(world.dates) else world.dates[-1]
    grid, H, W = Grid.of(bounds, gsd, MARGIN_PX)
    lut = world.lut(date_index)
    ids, fields, sites = _ground(world, grid, date_index)
    img = lut[ids]  # (h, w, 3) float32
    bright = _brightness(world, grid, ids, fields)
    img *= bright[..., None]
    if phenology(d)["snow"]:
        _snow_under_trees(img, ids, fields)
    water = ids == P.WATER
    _water_colour(world, img, water, fields)
    ice = ids == P.ICE
    if ice.any():
        _ice_colour(img, ice, fields, snowy=bool(phenology(d)["snow"]))
    _fence(world, img, fields, sites, grid)
    _centre_line(world, img, ids, fields, grid)
    labels = _LC[ids] if want_labels else None
    # site ground changes
    s_lo, s_hi = float(fields["s_min"]), float(fields["s_max"])
    i = date_index
    mods = []
    for st in sites:
        if s_lo - 800 < st.s0 < s_hi + 800:
            mods.extend(world.layout.mods(st, i))
    decks = [m for m in mods if m.kind == "deck"]
    objs = _objects_in(world, grid, i, s_lo, s_hi)
    # churned water around vehicles wading through a ford (on ice: churned, dirtied snow around them)
    for o in objs:
        if o.on == "water" and o.role == "crossing":
            mods.append(Mod("wake", o.to_world(_WAKE), 0.0, 0.55))
    _ground_mods(img, [m for m in mods if m.kind != "deck"], grid, water, labels, bright, ice)
    # shadows of objects and decks, then the objects themselves
    sv = shadow_vector(d)
    _shadows(img, objs, decks, grid, sv)
    np.clip(img, 0, 255, out=img)
    out = img.astype(np.uint8)
    for m in decks:
        _deck(out, m, grid)
        if labels is not None:
            lab_pad = np.zeros(labels.shape, np.uint8)
            _paint(lab_pad, [(grid.px(m.xy), 255)])
            labels[lab_pad > 127] = 6
    for o in objs:
        _draw_obj(out, o, grid)
    out = cv2.GaussianBlur(out, (0, 0), sigmaX=0.6 if gsd <= 1.0 else 0.4)
    # sensor noise keyed on the global pixel index and the date
    gx = (np.round(grid.xs / gsd - 0.5)).astype(np.int64)
    gy = (np.round(grid.ys / gsd - 0.5)).astype(np.int64)
    kn = key(world.seed, 9000 + d.toordinal())
    h = hash2(gx[None, :], gy[:, None], kn)
    nz = ((h & np.uint32(0xFF)).astype(np.int16) + ((h >> np.uint32(8)) & np.uint32(0xFF)).astype(np.int16) - 255) // 64
    res = out.astype(np.int16)
    res += nz[..., None]
    np.clip(res, 1, 255, out=res)
    m = MARGIN_PX
    rgb = res[m : m + H, m : m + W].astype(np.uint8).transpose(2, 0, 1)
    if labels is not None:
        labels = labels[m : m + H, m : m + W]
    return np.ascontiguousarray(rgb), labels


# -- ground -----------------------------------------------------------------------


def _ground(world, grid: Grid, i: int):
    lay, prof = world.layout, world.profile
    U = Upsampler(grid.xs, grid.ys, LAT_M)
    nx, ny = U.node_xy()
    s, o = world.frame.project(nx.ravel(), ny.ravel())
    s = s.reshape(nx.shape)
    o = o.reshape(nx.shape)
    sites = lay.sites_near(float(s.min()), float(s.max()))
    hw = lay.half_width(s, sites)
    dd = o - prof.wander(s)
    side = np.where(dd >= 0, 1, -1)
    a = np.abs(dd)
    e = a - hw
    roff = prof.road_off(s, side)
    beach = prof.beach(s, side)
    valley = prof.valley(s, side)
    bar = lay.bar_field(s, dd, hw, sites)
    fence = e - prof.fence_off(s)
    shade = fbm2(nx / 420.0, ny / 420.0, world.k["hill"], octaves=3)
    relief = _relief(world, nx, ny, s, side, e - valley, i)
    turb = fbm2(s / 700.0, dd / 90.0, world.k["turb"], octaves=2)
    streak = fbm2(s / 45.0, dd / 5.0, world.k["streak"], octaves=2)
    mid = fbm2(nx / 35.0, ny / 35.0, world.k["streak"] + 1, octaves=2)
    lat = {
        "S": s - world.s_ref,  # metres, relative to a fixed reference (float32 precision)
        "D": dd,
        "E": e,
        "RD": e - roff,
        "BE": e - beach,
        "VE": e - valley,
        "FE": fence,
        "BAR": bar,
        "HW": hw,
        "SH": shade,
        "RL": relief,
        "TU": turb,
        "ST": streak,
        "MID": mid,
    }
    F = {k: U.up(v) for k, v in lat.items()}
    _fix_medial_axis(U, s, lat, F)
    F["s_min"], F["s_max"] = s.min(), s.max()
    # fine texture: 1 m and 3 m lattices, keyed on world coordinates
    F["N1"] = Upsampler(grid.xs, grid.ys, 1.1, smooth=True).noise(world.k["n1"])
    F["N3"] = Upsampler(grid.xs, grid.ys, 3.3, smooth=True).noise(world.k["n3"])
    # house shadows: the sun's shadow vector in (along, left-normal) terms at this window
    sv = shadow_vector(world.dates[i] if i < len(world.dates) else world.dates[-1])
    tx, ty = world.frame.tangent(np.array([float(np.median(s))]))
    tx, ty = float(tx[0]), float(ty[0])
    F["house_sv"] = (sv[0] * tx + sv[1] * ty, -sv[0] * ty + sv[1] * tx)
    ids = _classify(world, F, i)
    return ids, F, sites


def _fix_medial_axis(U: Upsampler, s: np.ndarray, lat: dict, F: dict) -> None:
    """Where chainage jumps between lattice nodes (the medial axis of a bend, far from
    the water), blending the two sides' coordinates would invent features; there,
    take the nearest node's values instead."""
    jx = np.abs(np.diff(s, axis=1)) > 6.0 * LAT_M
    jy = np.abs(np.diff(s, axis=0)) > 6.0 * LAT_M
    cell = jx[:-1, :] | jx[1:, :] | jy[:, :-1] | jy[:, 1:]
    if not cell.any():
        return
    cy = np.minimum(U.cy, cell.shape[0] - 1)
    cx = np.minimum(U.cx, cell.shape[1] - 1)
    flag = cell[np.ix_(cy, cx)]
    rr, cc = np.nonzero(flag)
    ny_ = U.cy[rr] + (U.wy[rr] >= 0.5)
    nx_ = U.cx[cc] + (U.wx[cc] >= 0.5)
    for k, v in lat.items():
        F[k][rr, cc] = v[ny_, nx_]


def _relief(world, nx, ny, s, side, ve, i: int) -> np.ndarray:
    """Hill shading: Lambert light on hills that rise away from the valley floor."""
    from borderwatch.synth.season import sun_position

    k = world.k["hill"] + 17
    dlt = 4.0
    amp = 260.0

    def h(x, y):  # ridged: sharp crests, rounded valleys
        return amp * (1.0 - np.abs(2.0 * fbm2(x / 700.0, y / 700.0, k, octaves=4) - 1.0))

    hx = (h(nx + dlt, ny) - h(nx - dlt, ny)) / (2 * dlt)
    hy = (h(nx, ny + dlt) - h(nx, ny - dlt)) / (2 * dlt)
    tx, ty = world.frame.tangent(s.ravel())
    tx, ty = tx.reshape(s.shape), ty.reshape(s.shape)
    # away from the river: the left normal on the left bank, its opposite on the right
    rise = 0.45 * np.clip(ve / 60.0, 0.0, 1.0)
    hx = hx + rise * side * -ty
    hy = hy + rise * side * tx
    az, el = sun_position(world.dates[i] if i < len(world.dates) else world.dates[-1])
    az, el = math.radians(az), math.radians(el)
    lx, ly, lz = math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)
    dot = (-hx * lx - hy * ly + lz) / np.sqrt(hx * hx + hy * hy + 1.0)
    return np.clip(dot / lz, 0.35, 1.5)


def _classify(world, F, i: int) -> np.ndarray:
    prof = world.profile
    S, D, E, RD = F["S"], F["D"], F["E"], F["RD"]
    n1, n3 = F["N1"], F["N3"]
    h, w = S.shape
    ids = np.full((h, w), P.GRASS, np.uint8)
    side_pos = D >= 0
    edge = E + 5.0 * (n3 - 0.5) + 2.0 * (n1 - 0.5)
    zone = edge < 0
    bar = F["BAR"] + 0.05 * (n3 - 0.5)
    ids[zone & (bar < 0)] = P.WATER
    ice = world.pheno(i)["ice"]
    if ice > 0:
        _freeze(ids, F, ice)
    ids[zone & (bar >= 0)] = P.BAR
    ids[zone & (bar >= 0.2)] = P.VEGISLAND
    land = ~zone
    rhalf = np.where(side_pos == (world.fence_side > 0), 2.6, 3.6).astype(np.float32)
    road = land & (np.abs(RD) < rhalf)
    beach = land & (F["BE"] + 3.0 * (n3 - 0.5) < 0) & ~road
    ids[beach] = P.BEACH
    # fields between the river and the road (floodplain) and beyond the road
    inner = land & ~beach & ~road & (RD < -rhalf) & (F["BE"] > 14.0)
    outer = land & ~road & (RD > rhalf)
    ve = F["VE"] + 70.0 * (F["MID"] - 0.5) + 8.0 * (n3 - 0.5) + 60 * (F["SH"] - 0.5)
    forest = outer & (ve > 0)
    seg = np.floor((S + world.s_ref) / VILLAGE_SEG_M).astype(np.int64)
    uo = RD - rhalf
    village = outer & (ve < -25.0) & (uo < 170.0)
    if village.any():
        vm = prof.village(seg[village], np.where(side_pos[village], 1, -1))
        village[village] = vm
    farm = outer & ~forest & ~village
    for mask, u, kk in ((farm, uo, world.k["farm_out"]), (inner, -RD - rhalf, world.k["farm_in"])):
        if mask.any():
            ids[mask] = _parcels(world, S[mask], u[mask], side_pos[mask], kk, i)
    ids[forest] = P.FOREST
    if village.any():
        ids[village] = _village(world, S[village], uo[village], side_pos[village], n3[village], F["house_sv"])
    ids[road] = np.where(side_pos[road] == (world.fence_side > 0), P.ROAD_DIRT, P.ROAD_PAVED)
    return ids


def _parcels(world, s, u, side_pos, kk: int, i: int) -> np.ndarray:
    row = np.floor(u / 46.0).astype(np.int64)
    sd = np.where(side_pos, 1, 2)
    rk = row * 4 + sd
    L = 36.0 + 130.0 * rand2(rk, 0, kk) ** 1.5
    shift = rand2(rk, 1, kk) * L
    sabs = s + world.s_ref
    pidx = np.floor((sabs + shift) / L).astype(np.int64)
    hh = rand2(pidx, rk, kk)
    crop = (hh * 7.999).astype(np.uint8)
    ph = world.pheno(i)
    harvested = rand2(pidx, rk, kk + 1) < ph["harvested"] * (crop != 6)  # orchards stay
    out = np.where(harvested, P.HARV0 + crop, P.CROP0 + crop).astype(np.uint8)
    fs = sabs + shift - pidx * L
    fu = u - row * 46.0
    out[(fs < 1.4) | (fu < 1.4)] = P.FIELD_EDGE
    return out


def _house_test(world, sabs, u, side_pos):
    """(is_house, roof index, shaded half) for village local coordinates."""
    bs = np.floor(sabs / 24.0).astype(np.int64)
    bu = np.floor(u / 21.0).astype(np.int64)
    sd = np.where(side_pos, 1, 2)
    k = world.k["house"]
    hk = bu * 8 + sd
    present = rand2(bs, hk, k) < 0.72
    hl = 9.0 + 6.0 * rand2(bs, hk, k + 1)
    hd = 6.0 + 2.5 * rand2(bs, hk, k + 2)
    x0 = 2.0 + (24.0 - 4.0 - hl) * rand2(bs, hk, k + 3)
    y0 = 3.0 + (21.0 - 5.0 - hd) * rand2(bs, hk, k + 4)
    fs = sabs - bs * 24.0
    fu = u - bu * 21.0
    inside = present & (fs > x0) & (fs < x0 + hl) & (fu > y0) & (fu < y0 + hd) & (bu % 4 != 3)
    roof = (rand2(bs, hk, k + 5) * 7.999).astype(np.uint8)
    half = fu > y0 + hd / 2
    lane = (bu % 4 == 3) & (fu > 15.0) | ((bs % 6 == 0) & (fs < 4.0))
    return inside, roof, half, lane


def _village(world, s, u, side_pos, n3, house_sv) -> np.ndarray:
    sabs = s + world.s_ref
    inside, roof, half, lane = _house_test(world, sabs, u, side_pos)
    out = np.full(s.shape, P.YARD, np.uint8)
    out[lane] = P.LANE
    trees = (n3 > 0.68) & ~lane
    out[trees] = P.FOREST
    bank_off = np.where(side_pos == (world.roofs_left_first), 0, 100).astype(np.uint8)
    out[inside] = (P.ROOF0 + roof + np.where(half, P.ROOF_SHADE, 0) + bank_off)[inside]
    # house shadows fall on yards and lanes
    ds, du = house_sv
    su = np.where(side_pos, du, -du)
    sh, _, _, _ = _house_test(world, sabs - ds * 4.0, u - su * 4.0, side_pos)
    out[sh & ~inside & ~trees] = P.YARD_SHADOW
    return out


# -- colour -----------------------------------------------------------------------


def _brightness(world, grid, ids, F) -> np.ndarray:
    amp = _AMP[ids]
    tex = 0.55 * F["N1"] + 0.45 * F["N3"]
    b = 0.9 + 0.2 * F["SH"]
    b *= 1.0 + amp * (tex - 0.5)
    forest = ids == P.FOREST
    rl = F["RL"]
    b *= 1.0 + 0.25 * (rl - 1.0)
    if forest.any():
        b[forest] *= (1.0 + 0.75 * (rl[forest] - 1.0)) * (0.85 + 0.3 * F["TU"][forest])
    gravel = (ids == P.BAR) | (ids == P.BEACH)
    if gravel.any():
        wet = np.clip(F["BAR"][gravel] * 10.0, 0.0, 1.0)
        wet = np.where(ids[gravel] == P.BEACH, np.clip(F["E"][gravel] / 5.0, 0.0, 1.0), wet)
        b[gravel] *= (0.82 + 0.18 * wet) * (0.88 + 0.24 * F["ST"][gravel])
    crops = (ids >= P.CROP0) & (ids < P.CROP0 + P.N_CROPS) | (ids >= P.HARV0) & (ids < P.HARV0 + P.N_CROPS)
    if crops.any():
        s = F["S"][crops] + world.s_ref
        stripes = 0.5 + 0.5 * np.sin(s * (2 * math.pi / 2.4)).astype(np.float32)
        b[crops] *= 0.93 + 0.1 * stripes
    return b


#: winter crowns seen from above: bare deciduous branches, and conifers
_BARE_CROWN = np.array((92, 82, 72), np.float32)
_CONIFER_CROWN = np.array((40, 52, 42), np.float32)
_SNOW = np.array((226, 229, 235), np.float32)


def _snow_under_trees(img, ids, F) -> None:
    """Forest on a snowy date: dark crowns over white snow, not the summer canopy's texture whitened.

    Seen from above, trees stand out of the snow: crown blobs (the 3 m texture
    lattice) of bare branches or conifer needles, with snow showing between
    them. Whitening the summer canopy's strong texture instead gave a grey
    speckle no real forest shows (and that the vehicle detector fired on).
    """
    forest = ids == P.FOREST
    if not forest.any():
        return
    crown = 0.7 * F["N3"][forest] + 0.3 * F["N1"][forest]
    cover = np.clip((crown - 0.35) / 0.3, 0.0, 1.0)[:, None]  # about half the ground under crowns
    conifer = np.clip((F["TU"][forest] - 0.45) / 0.15, 0.0, 1.0)[:, None]
    tree = _BARE_CROWN * (1.0 - conifer) + _CONIFER_CROWN * conifer
    snow = _SNOW * (0.85 + 0.2 * F["SH"][forest])[:, None]
    img[forest] = snow * (1.0 - cover) + tree * cover * (0.85 + 0.3 * F["N1"][forest])[:, None]


def _freeze(ids, F, extent: float) -> None:
    """In place: river water that is frozen on this date becomes ICE.

    Ice grows out from both banks (the shallow, slow water freezes first), so at
    ``extent`` e a band of about e x the half width freezes on each side; at 1 the
    river is closed but for open leads over fast, turbulent water mid-channel.
    """
    water = ids == P.WATER
    if not water.any():
        return
    inside = -F["E"][water]  # metres from the nearer bank
    hw = np.maximum(F["HW"][water], 5.0)
    if extent >= 1.0:  # closed: open leads only
        frozen = ~((F["TU"][water] > 0.72) & (inside > 0.35 * hw))
    else:  # the ice's edge is ragged: small-scale and 35 m noise on the distance from the bank
        edge = inside / hw + 0.25 * (F["N3"][water] - 0.5) + 0.4 * (F["MID"][water] - 0.5)
        frozen = edge < 1.15 * extent
    ids[water] = np.where(frozen, P.ICE, P.WATER).astype(np.uint8)


def _ice_colour(img, ice, F, snowy: bool) -> None:
    """River ice: snow with wind-drift streaks along the river, and patches swept down to dark clear ice."""
    top = SNOW_ICE if snowy else GREY_ICE
    drift = 1.0 + 0.05 * (F["ST"][ice] - 0.5) + 0.02 * (F["N1"][ice] - 0.5)
    bare = np.clip((0.34 - F["MID"][ice]) / 0.08, 0.0, 1.0) if snowy else np.zeros(int(ice.sum()), np.float32)
    bare = bare * (0.8 + 0.4 * F["N3"][ice])
    c = top * (1.0 - bare[:, None]) + BARE_ICE * bare[:, None]
    img[ice] = c * drift[:, None]


def _water_colour(world, img, water, F) -> None:
    if not water.any():
        return
    E = F["E"][water]
    HW = F["HW"][water]
    depth = np.clip(-E / np.maximum(HW * 0.6, 5.0), 0.0, 1.0) ** 0.6
    near_bar = np.clip(-F["BAR"][water] * 6.0, 0.0, 1.0)
    depth = depth * near_bar
    tu = F["TU"][water][:, None]
    shallow = np.array([112, 122, 104], np.float32)
    deep = np.array([38, 62, 66], np.float32)
    silty = np.array([104, 104, 86], np.float32)
    dpt = depth[:, None]
    c = shallow * (1 - dpt) + deep * dpt
    c = c * (1 - 0.5 * tu) + silty * (0.5 * tu)
    ripple = 1.0 + 0.05 * (F["N1"][water][:, None] - 0.5) + 0.08 * (F["ST"][water][:, None] - 0.5)
    img[water] = c * ripple


def _fence(world, img, F, sites, grid) -> None:
    """A thin dark fence with posts every 3 m on the fenced bank; gaps at crossing sites."""
    side_pos = F["D"] >= 0
    on_side = side_pos if world.fence_side > 0 else ~side_pos
    gsd = grid.gsd
    FE = F["FE"]
    near = on_side & (np.abs(FE) < 0.8 + gsd)
    if not near.any():
        return
    sabs = F["S"][near] + world.s_ref
    fe = np.abs(FE[near])
    wire = np.clip(1.0 - fe / (0.55 * gsd + 0.1), 0.0, 1.0) * min(1.0, 0.5 / gsd) * 0.6
    ds = np.abs(((sabs + 1.5) % 3.0) - 1.5)
    post = np.clip(1.0 - np.maximum(fe, ds) / (0.5 * gsd + 0.15), 0.0, 1.0) * min(1.0, 0.45 / gsd)
    a = np.maximum(wire, post)
    for st in sites:
        if st.gate is not None:
            a[(sabs > st.gate[0]) & (sabs < st.gate[1])] = 0.0
    vals = img[near]
    vals *= (1.0 - 0.65 * a)[:, None]
    img[near] = vals


def _centre_line(world, img, ids, F, grid) -> None:
    """Dashed white centre line (3 m dash, 6 m gap) on the paved bank road."""
    paved = ids == P.ROAD_PAVED
    if not paved.any():
        return
    rd = np.abs(F["RD"][paved])
    sabs = F["S"][paved] + world.s_ref
    on = ((sabs % 9.0) < 3.0) & (rd < 0.5 * grid.gsd + 0.08)
    a = np.where(on, min(1.0, 0.15 / grid.gsd + 0.25), 0.0)[:, None]
    vals = img[paved]
    img[paved] = vals * (1 - a) + a * np.float32(225.0)


def _offset_line(xy: np.ndarray, off: float) -> np.ndarray:
    d = np.gradient(xy, axis=0)
    n = np.column_stack([-d[:, 1], d[:, 0]])
    n /= np.maximum(np.hypot(n[:, 0], n[:, 1]), 1e-9)[:, None]
    return xy + n * off


def _ground_mods(img, mods, grid: Grid, water, labels, bright, ice) -> None:
    """Site ground changes: dirt and ruts on land, silt stirred up in the water; where the river is frozen,
    the line of a ford is a packed, dirty-snow road across the ice instead (its truth stays ice)."""
    if not mods:
        return
    h, w = img.shape[:2]
    dirt = np.zeros((h, w), np.uint8)
    rut = np.zeros((h, w), np.uint8)
    silt = np.zeros((h, w), np.uint8)
    gsd = grid.gsd
    for m in mods:
        val = int(round(255 * min(1.0, m.alpha)))
        pts = grid.px(m.xy)
        if m.kind == "pad":
            _paint(dirt, [(pts, val)])
        elif m.kind == "track":
            th = max(1, int(round(m.width / gsd)))
            _paint(dirt, [(pts, val, th)])
            for off in (-0.3 * m.width, 0.3 * m.width):
                rp = grid.px(_offset_line(m.xy, off))
                _paint(rut, [(rp, int(val * 0.8), max(1, int(round(0.7 / gsd))))])
        elif m.kind == "silt":
            th = max(1, int(round(m.width / gsd)))
            _paint(silt, [(pts, val, th)])
        elif m.kind == "wake":
            _paint(silt, [(pts, val)])
    tex = np.clip(bright, 0.7, 1.3)
    land = ~water & ~ice
    layers = [(dirt, DIRT, land, 0.92), (rut, RUT, land, 0.6), (silt, SILT, water, 1.0)]
    if ice.any():
        layers.append((silt, ICE_ROAD, ice, 0.85))
    for mask, colour, keep, k in layers:
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            continue
        sl = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        a = mask[sl].astype(np.float32) * (k / 255.0)
        a[~keep[sl]] = 0.0
        if colour is SILT:
            a *= np.clip(0.35 + 0.9 * (tex[sl] - 0.7), 0.2, 0.9)
        elif colour is ICE_ROAD:  # packed snow shows more plainly on white ice than silt does in water
            a = np.minimum(a * 1.6, 0.85)
        sub = img[sl]
        sub *= (1 - a)[..., None]
        sub += (a * tex[sl])[..., None] * colour
    if labels is not None:
        labels[(dirt > 127) & land] = 3


def _objects_in(world, grid: Grid, i: int, s_lo: float, s_hi: float) -> list[Obj]:
    x0, x1 = grid.xs[0] - 30, grid.xs[-1] + 30
    y0, y1 = grid.ys[-1] - 30, grid.ys[0] + 30
    out = []
    for k in world.layout.chunks_for(s_lo - 200, s_hi + 200):
        for o in world.layout.chunk_objects(k, i):
            if x0 < o.x < x1 and y0 < o.y < y1:
                out.append(o)
    return out


_WAKE = np.array([(0.75, 0.0), (0.5, -0.9), (-0.2, -1.1), (-0.8, -0.8), (-0.8, 0.8), (-0.2, 1.1), (0.5, 0.9)])
_FLAT_ROLES = {"glass", "body_hi", "roof", "cargo_lo", "load", "light"}


def _paint(canvas: np.ndarray, items) -> None:
    """Draw fixed-point polygons [(pts, colour), ...] on a private patch around them.

    cv2 clips polygons at the image edge, which changes anti-aliased coverage
    near it; drawing on a patch that holds the whole polygon makes the pixels
    independent of the window (seamless tiles).
    """
    allpts = np.vstack([it[0] for it in items])
    pad = 3 + max([it[2] for it in items if len(it) > 2] or [0])
    x0 = int(allpts[:, 0].min() >> SHIFT) - pad
    y0 = int(allpts[:, 1].min() >> SHIFT) - pad
    x1 = int(allpts[:, 0].max() >> SHIFT) + pad + 1
    y1 = int(allpts[:, 1].max() >> SHIFT) + pad + 1
    h, w = canvas.shape[:2]
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        return
    patch = np.zeros((y1 - y0, x1 - x0) + canvas.shape[2:], canvas.dtype)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = canvas[cy0:cy1, cx0:cx1]
    off = np.array([x0 << SHIFT, y0 << SHIFT], np.int32)
    for it in items:
        if len(it) > 2:  # (pts, colour, thickness): an open polyline
            cv2.polylines(patch, [it[0] - off], False, it[1], it[2], cv2.LINE_AA, SHIFT)
        else:
            cv2.fillPoly(patch, [it[0] - off], it[1], cv2.LINE_AA, SHIFT)
    canvas[cy0:cy1, cx0:cx1] = patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]


def _shadows(img, objs, decks, grid: Grid, sv) -> None:
    if not objs and not decks:
        return
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    svv = np.array(sv)
    for o in objs:
        if o.subclass == "rock":
            shapes = [(o.to_world(np.array(o.shape)), o.length * 0.35)]
        else:
            parts = [(poly, role) for poly, role in KINDS[o.subclass].parts if role not in _FLAT_ROLES]
            shapes = [(o.to_world(np.array(poly)), 1.0 if role == "tire" else o.height) for poly, role in parts]
        items = []
        for c, hgt in shapes:
            hull = cv2.convexHull(grid.px(np.vstack([c, c + svv * hgt])))[:, 0, :]
            items.append((hull, 255))
        _paint(mask, items)
    for m in decks:
        pts = m.xy + np.array(sv) * 1.6
        _paint(mask, [(grid.px(pts), 255)])
    a = mask.astype(np.float32) * (0.5 / 255.0)
    img *= (1.0 - a)[..., None]


def _deck(out, m, grid: Grid) -> None:
    xy = m.xy
    items = [(grid.px(xy), DECK)]
    # rails along the long sides (0.4 m strips)
    for a, b in ((0, 1), (2, 3)):
        p, q = xy[a], xy[b]
        n = np.array([-(q - p)[1], (q - p)[0]])
        n = n / max(np.hypot(*n), 1e-9) * 0.2
        items.append((grid.px(np.array([p - n, q - n, q + n, p + n])), RAIL))
    _paint(out, items)


def _draw_obj(out, o: Obj, grid: Grid) -> None:
    kind = KINDS[o.subclass]
    if o.subclass == "rock":
        pts = o.to_world(np.array(o.shape))
        hi = o.to_world(np.array(o.shape) * 0.55 + np.array([0.08, -0.08]))
        _paint(out, [(grid.px(pts), o.colours["rock"]), (grid.px(hi), tuple(min(255, int(v * 1.15)) for v in o.colours["rock"]))])
        return
    items = [(grid.px(o.to_world(np.array(poly))), o.colours[role]) for poly, role in kind.parts]
    items += [(grid.px(o.to_world(np.array(poly), metres=True)), col) for poly, col in o.extra]
    _paint(out, items)
