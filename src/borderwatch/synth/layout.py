"""Lazy, seeded layout: crossing sites and objects, one 3 km chunk of river at a time.

Each chunk's RNG is seeded by (seed, chunk index[, date]) so any window can be
laid out without generating the rest of the corridor, and the same seed always
gives the same sites, objects and pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from borderwatch.synth.catalog import KINDS, palette
from borderwatch.synth.frame import RiverFrame
from borderwatch.synth.noise import fbm2, key
from borderwatch.synth.profile import VILLAGE_SEG_M, Profile

CHUNK_M = 3000.0
SITE_KINDS = ("ford", "bridge", "sandbar_camp", "parking_field")
STATES = ("large", "small", "inactive")


@dataclass
class Obj:
    """One object on the ground (truth record + what the renderer needs)."""

    subclass: str
    cls: str
    x: float
    y: float
    heading: float  # compass degrees the front points to
    length: float
    width: float
    height: float
    colours: dict
    s: float
    d: float  # across-river offset from the channel centre (+ = left bank)
    site_id: str | None
    role: str  # crossing | distractor
    on: str  # land | water | sandbar | bridge
    extra: list = field(default_factory=list)  # [(poly local metres (a, b), colour)] e.g. cars on a trailer
    shape: tuple | None = None  # rock outline in normalised coords

    def corners(self, a_lo=-0.5, a_hi=0.5, b_lo=-0.5, b_hi=0.5) -> np.ndarray:
        return self.to_world(np.array([[a_lo, b_lo], [a_hi, b_lo], [a_hi, b_hi], [a_lo, b_hi]]))

    def to_world(self, ab: np.ndarray, metres: bool = False) -> np.ndarray:
        """Normalised (a, b) (or metres when ``metres``) to world (x, y)."""
        ab = np.asarray(ab, dtype=np.float64)
        a = ab[:, 0] if metres else ab[:, 0] * self.length
        b = ab[:, 1] if metres else ab[:, 1] * self.width
        t = math.radians(self.heading)
        fx, fy = math.sin(t), math.cos(t)
        rx, ry = math.cos(t), -math.sin(t)
        return np.column_stack([self.x + a * fx + b * rx, self.y + a * fy + b * ry])


@dataclass
class Mod:
    """A ground change drawn under objects: track, cleared pad, silt plume, bridge deck."""

    kind: str  # track | pad | silt | deck
    xy: np.ndarray  # polyline (track/silt) or polygon (pad/deck) in world metres
    width: float = 0.0  # for polylines
    alpha: float = 1.0


@dataclass
class Site:
    site_id: str
    kind: str
    s0: float
    half_len: float
    states: list[str]  # per world date
    side: int  # the bank a site leans on (parking lot, camp ford side)
    polygon: np.ndarray  # world xy ring
    x: float
    y: float
    gate: tuple[float, float] | None  # fence opening (s range)
    island: tuple[float, float, float] | None = None  # camp sandbar: (s0, half length, half width)
    bump: float = 0.0  # river widening (m of half width)
    params: dict = field(default_factory=dict)

    def existed(self, i: int) -> bool:
        return any(st != "inactive" for st in self.states[: i + 1])


def _overlaps(poly: shapely.Polygon, others: list[shapely.Polygon], min_m2: float = 0.25) -> bool:
    """Whether poly shares more than min_m2 with any of others (touching corners do not count)."""
    return bool((shapely.area(shapely.intersection(poly, np.array(others, dtype=object))) > min_m2).any())


def _chunk_rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *[int(p) & 0xFFFFFFFF for p in parts]])


class Layout:
    """Sites and objects of a world, generated chunk by chunk on demand."""

    def __init__(self, frame: RiverFrame, profile: Profile, seed: int, dates: list[date], left: str, right: str):
        self.frame = frame
        self.profile = profile
        self.seed = seed
        self.dates = dates
        self.left, self.right = left, right
        self._sites: dict[int, list[Site]] = {}
        self._objs: dict[tuple[int, int], list[Obj]] = {}
        self._static: dict[int, list[Obj]] = {}
        self.kbar = key(seed, 300)
        self.kind_offset = key(seed, 301) % 4

    # -- river geometry with site bumps ------------------------------------------
    def chunks_for(self, s_lo: float, s_hi: float) -> range:
        lo = max(math.floor(s_lo / CHUNK_M), math.floor(self.frame.span[0] / CHUNK_M))
        hi = min(math.floor(s_hi / CHUNK_M), math.floor(self.frame.span[1] / CHUNK_M))
        return range(lo, hi + 1)

    def sites_near(self, s_lo: float, s_hi: float) -> list[Site]:
        out = []
        for k in self.chunks_for(s_lo - CHUNK_M, s_hi + CHUNK_M):
            out.extend(self.chunk_sites(k))
        return out

    def half_width(self, s, sites: list[Site] | None = None):
        s = np.asarray(s, dtype=np.float64)
        hw = self.profile.half_width(s)
        for st in sites if sites is not None else self.sites_near(float(s.min()), float(s.max())):
            if st.bump:
                hw = hw + st.bump * np.exp(-(((s - st.s0) / (st.half_len * 1.3)) ** 2))
        return hw

    def bar_field(self, s, d, hw, sites: list[Site]):
        """> 0 on sandbars/islands inside the channel; > 0.2 vegetated islands."""
        s = np.asarray(s, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        n = fbm2(s / 190.0, d / 38.0, self.kbar, octaves=3)
        r = np.abs(d) / np.maximum(hw, 1.0)
        braid = self.profile.braid(s)
        f = n - 0.70 + 0.30 * braid + 0.22 * r**3
        for st in sites:
            if st.island is None:
                continue
            s0, a, b = st.island
            e = ((s - s0) / a) ** 2 + ((d - st.params["island_d"]) / b) ** 2
            w = np.exp(-(((s - s0) / (1.25 * a)) ** 4))
            f = f * (1 - w) + np.minimum(f, -0.12) * w  # clean channels either side
            isl = np.minimum(0.04 + 0.3 * (1.0 - e), 0.15)  # continuous, so the outline stays smooth
            f = np.minimum(np.maximum(f, isl), 0.15 + 0.5 * np.maximum(e - 1.0, 0.0))
        return f

    # -- placement -----------------------------------------------------------------
    def place(self, s: float, d: float, local_heading: float, anchor: float | None = None) -> tuple[float, float, float]:
        """World x, y and compass heading for frame position (s, d from channel centre).

        local_heading: degrees from downstream, clockwise (-90 = facing the left bank).
        anchor: place in the straight frame tangent to the river at s = anchor instead. A parking lot is
        a rectangle, not bent with the river: the river frame's own normals turn at every 20 m segment,
        which 150-200 m off the river on a bend tears rows of vehicles apart by 15-20 m.
        """
        if anchor is not None:
            x0, y0 = self.frame.to_xy(np.array([anchor]), np.array([float(self.profile.wander(anchor))]))
            b = float(self.frame.bearing(np.array([anchor]))[0])
            tx, ty = math.sin(math.radians(b)), math.cos(math.radians(b))
            along = s - anchor
            return float(x0[0]) + along * tx - d * ty, float(y0[0]) + along * ty + d * tx, (b + local_heading) % 360.0
        o = d + float(self.profile.wander(s))
        x, y = self.frame.to_xy(np.array([s]), np.array([o]))
        return float(x[0]), float(y[0]), (float(self.frame.bearing(np.array([s]))[0]) + local_heading) % 360.0

    def make(self, sub, s, d, local_heading, rng, site_id=None, role="crossing", on="land", pal=None, size=None,
             anchor: float | None = None) -> Obj:
        kind = KINDS[sub]
        L = size[0] if size else float(rng.uniform(*kind.length))
        W = size[1] if size else float(rng.uniform(*kind.width))
        x, y, h = self.place(s, d, local_heading, anchor)
        cls = kind.cls
        return Obj(sub, cls, x, y, h, L, W, kind.height, pal or palette(sub, rng), s, d, site_id, role, on)

    # -- sites ---------------------------------------------------------------------
    def chunk_sites(self, k: int) -> list[Site]:
        if k in self._sites:
            return self._sites[k]
        rng = _chunk_rng(self.seed, k, 1)
        s_lo, s_hi = self.frame.span
        out = []
        kind = SITE_KINDS[(k + self.kind_offset) % 4]
        s0 = k * CHUNK_M + float(rng.uniform(650, 2350))
        extra_s = s0 + float(rng.choice([-1, 1]) * rng.uniform(750, 1000))
        has_extra = rng.random() < 0.5 and k * CHUNK_M + 200 < extra_s < (k + 1) * CHUNK_M - 200
        if s_lo + 150 < s0 < s_hi - 150:
            out.append(self._make_site(k, 0, kind, s0, rng))
        if has_extra and s_lo + 150 < extra_s < s_hi - 150:
            out.append(self._make_site(k, 1, "ford", extra_s, rng, small=True))
        self._sites[k] = out
        return out

    def _states(self, pattern: str, scale: str) -> list[str]:
        n = len(self.dates)
        out = []
        for i in range(n):
            st = scale
            if n >= 2:
                if pattern == "appears" and i == 0:
                    st = "inactive"
                elif pattern == "quiet" and i == n - 1:
                    st = "inactive"
                elif pattern == "grows":
                    st = "small" if i == 0 else "large"
            out.append(st)
        return out

    def _make_site(self, k: int, j: int, kind: str, s0: float, rng, small: bool = False) -> Site:
        p = self.profile
        side = int(rng.choice([-1, 1]))
        params: dict = {}
        if small:
            scale, pattern = "small", str(rng.choice(["steady", "appears", "quiet"]))
        elif kind == "parking_field":
            scale, pattern = "large", "appears"
        elif kind == "sandbar_camp":
            scale, pattern = "large", str(rng.choice(["steady", "grows"]))
        else:
            scale = "large" if rng.random() < 0.7 else "small"
            pattern = str(rng.choice(["steady", "appears", "grows", "quiet"]))
            if scale == "small" and pattern == "grows":
                pattern = "steady"
        states = self._states(pattern, scale)
        half_len = {"ford": 60.0, "bridge": 60.0, "sandbar_camp": 230.0, "parking_field": 80.0}[kind]
        if small:
            half_len = 40.0
        bump = 0.0
        island = None
        if kind == "sandbar_camp":
            base = float(p.half_width(s0))
            bump = max(0.0, 95.0 - base) + 25.0
            hw = base + bump
            params["island_d"] = 0.0
            island = (s0, 190.0, hw * 0.42)
        params["pattern"] = pattern
        # skew of the crossing line and which way traffic mostly flows
        params["skew"] = float(rng.uniform(-12, 12))
        params["lot_depth"] = float(rng.uniform(80, 110))
        params["seed"] = int(rng.integers(1 << 30))
        site = Site(f"S{k:03d}{'ab'[j]}", kind, s0, half_len, states, side, np.zeros((0, 2)), 0.0, 0.0, None, island, bump, params)
        # the truth polygon: both banks up to the roads (or beyond the lot), and the water
        hw = float(self.half_width(np.array([s0]), [site])[0])
        reach = {}
        for sd in (1, -1):
            r = float(p.road_off(s0, sd)) + 12.0
            if kind == "parking_field" and sd == side:
                r += 6.0 + params["lot_depth"] + 8.0
            reach[sd] = hw + r
        params["reach"] = reach
        ss = np.linspace(s0 - half_len, s0 + half_len, 9)
        w = p.wander(ss)
        xl, yl = self.frame.to_xy(ss, w + reach[1])
        xr, yr = self.frame.to_xy(ss[::-1], w[::-1] - reach[-1])
        ring = np.column_stack([np.concatenate([xl, xr]), np.concatenate([yl, yr])])
        poly = Polygon(ring)
        if not poly.is_valid:  # folded on the inside of a tight bend
            poly = poly.buffer(0)
            if poly.geom_type != "Polygon":
                poly = poly.convex_hull
        site.polygon = np.asarray(poly.exterior.coords)[:-1]
        cx, cy, _ = self.place(s0, 0.0, 0.0)
        site.x, site.y = cx, cy
        site.gate = (s0 - 12.0, s0 + 12.0) if not small else (s0 - 6.0, s0 + 6.0)
        return site

    # -- ground changes ---------------------------------------------------------------
    def mods(self, site: Site, i: int) -> list[Mod]:
        """What a site did to the ground by date index i (tracks fade once it goes quiet)."""
        if not site.existed(i):
            return []
        st = site.states[i]
        fade = 1.0 if st == "large" else (0.85 if st == "small" else 0.45)
        p = self.profile
        s0 = site.s0
        out: list[Mod] = []
        hw = float(self.half_width(np.array([s0]), [site])[0])
        sk = math.tan(math.radians(site.params["skew"]))
        tw = 4.5 if site.half_len >= 60 else 3.2

        def line(ds_dd: list[tuple[float, float]]) -> np.ndarray:
            pts = []
            for ss, dd in ds_dd:
                x, y, _ = self.place(ss, dd, 0.0)
                pts.append((x, y))
            return np.array(pts)

        def track(sd: int, d_from: float, d_to: float, s_at: float = s0):
            n = 8
            dd = np.linspace(d_from, d_to, n)
            wig = np.sin(np.linspace(0, math.pi, n)) * 6.0 * sd
            return line([(s_at + sk * (d - 0) * 0.3 + w, d) for d, w in zip(dd, wig)])

        if site.kind in ("ford", "bridge"):
            for sd in (1, -1):
                road = sd * (hw + float(p.road_off(s0, sd)))
                out.append(Mod("track", track(sd, road, 0.0), tw, fade))
                # a worn apron where vehicles wait by the water
                pad = self._rect(s0 - 14, s0 + 14, sd * (hw + 2), sd * (hw + 26))
                out.append(Mod("pad", pad, 0, 0.8 * fade))
            if site.kind == "ford":
                out.append(Mod("silt", line([(s0 + sk * d * 0.3, d) for d in np.linspace(-hw - 2, hw + 2, 9)]), 10.0, 0.5 * fade))
                out.append(Mod("silt", line([(s0 + 8 + t, 0.25 * hw * math.sin(t / 40.0)) for t in np.linspace(0, 110, 8)]), 14.0, 0.14 * fade))
            else:
                out.append(Mod("deck", line([(s0 - 2.6, -hw - 6), (s0 - 2.6, hw + 6), (s0 + 2.6, hw + 6), (s0 + 2.6, -hw - 6)]), 0, 1.0))
        elif site.kind == "sandbar_camp":
            s_i, a, b = site.island
            wob = _chunk_rng(self.seed, site.params["seed"], 11).uniform(0.82, 1.0, 36)
            ring = [(s_i + a * 0.8 * r * math.cos(t), b * 0.75 * r * math.sin(t)) for t, r in zip(np.linspace(0, 2 * math.pi, 36, endpoint=False), wob)]
            out.append(Mod("pad", line(ring), 0, fade))
            sd = site.side
            # ford on one side of the island, bridge on the other
            road = sd * (hw + float(p.road_off(s0, sd)))
            out.append(Mod("track", track(sd, road, sd * (hw - 3.0), s0 - 60), tw, fade))
            out.append(Mod("silt", line([(s0 - 60, sd * d) for d in np.linspace(b * 0.6, hw + 2, 6)]), 10.0, 0.5 * fade))
            road2 = -sd * (hw + float(p.road_off(s0, -sd)))
            out.append(Mod("track", track(-sd, road2, -sd * (hw - 2.0), s0 + 60), tw, fade))
            out.append(Mod("deck", line([(s0 + 57.4, -sd * b * 0.7), (s0 + 57.4, -sd * (hw + 6)), (s0 + 62.6, -sd * (hw + 6)), (s0 + 62.6, -sd * b * 0.7)]), 0, 1.0))
            out.append(Mod("track", line([(s0 - 60, sd * b * 0.7), (s0 - 60, sd * b * 0.3), (s0 + 60, -sd * b * 0.3), (s0 + 60, -sd * b * 0.7)]), tw, fade))
        elif site.kind == "parking_field":
            sd = site.side
            road = hw + float(p.road_off(s0, sd))
            d0, d1 = road + 7.0, road + 7.0 + site.params["lot_depth"]
            if st != "inactive" or i > 0:
                out.append(Mod("pad", self._rect(s0 - 68, s0 + 68, sd * d0, sd * d1, anchor=s0), 0, fade))
                out.append(Mod("track", track(sd, sd * d0, 0.0), tw, fade))
                out.append(Mod("silt", line([(s0, d) for d in np.linspace(-hw - 2, hw + 2, 9)]), 9.0, 0.45 * fade))
                out.append(Mod("track", track(-sd, -sd * (hw + float(p.road_off(s0, -sd))), 0.0), tw, fade))
        return out

    def _rect(self, s_a, s_b, d_a, d_b, anchor: float | None = None) -> np.ndarray:
        ss = np.linspace(s_a, s_b, 6)
        top = [self.place(s, d_a, 0, anchor)[:2] for s in ss]
        bot = [self.place(s, d_b, 0, anchor)[:2] for s in ss[::-1]]
        return np.array(top + bot)

    # -- objects -----------------------------------------------------------------------
    def chunk_objects(self, k: int, i: int) -> list[Obj]:
        """All objects in chunk k on date index i (sites, then distractors)."""
        ck = (k, i)
        if ck in self._objs:
            return self._objs[ck]
        out: list[Obj] = []
        for site in self.chunk_sites(k):
            out.extend(self.site_objects(site, i))
        out.extend(self.static_objects(k))
        out.extend(self.distractors(k, i))
        self._objs[ck] = out
        return out

    def site_objects(self, site: Site, i: int) -> list[Obj]:
        st = site.states[i]
        if st == "inactive":
            return []
        rng = _chunk_rng(self.seed, site.params["seed"], i, 7)
        hw = float(self.half_width(np.array([site.s0]), [site])[0])
        sid = site.site_id
        out: list[Obj] = []
        big = st == "large"
        s0 = site.s0
        sk = math.tan(math.radians(site.params["skew"])) * 0.3

        def queue(sd: int, n: int, subs, facing_water: bool, s_at: float, start: float, convoy=True):
            """Vehicles in a line on a track, from the water edge outward."""
            d = hw + start  # start: metres beyond the water edge
            pal = None
            sub0 = subs[rng.integers(len(subs))]
            for q in range(n):
                sub = sub0 if convoy else subs[rng.integers(len(subs))]
                kind = KINDS[sub]
                L = float(np.mean(kind.length)) if convoy else float(rng.uniform(*kind.length))
                W = float(np.mean(kind.width))
                if pal is None or not convoy:
                    pal = palette(sub, rng)
                dc = sd * (d + L / 2)
                lh = (90.0 if sd > 0 else -90.0) if facing_water else (-90.0 if sd > 0 else 90.0)
                o = self.make(sub, s_at + sk * dc + rng.normal(0, 0.3), dc, lh + rng.normal(0, 4), rng, sid, pal=pal, size=(L, W))
                if sub == "truck_trailer" and rng.random() < 0.6:
                    self._load_cars(o, rng)
                out.append(o)
                d += L + float(rng.uniform(2.0, 6.0))

        if site.kind in ("ford", "bridge"):
            large_subs = ["truck", "dump_truck", "truck_trailer", "truck"]
            small_subs = ["car", "van", "pickup"]
            for sd in (1, -1):
                fw = bool(rng.random() < 0.6)
                if big:
                    queue(sd, int(rng.integers(3, 8)), large_subs, fw, s0, 6.0)
                    sub = "excavator" if rng.random() < 0.75 else "loader"
                    out.append(self.make(sub, s0 + sd * 10 + rng.normal(0, 2), sd * (hw + 8), (90 if sd > 0 else -90) + rng.normal(0, 20), rng, sid))
                    if rng.random() < 0.5:
                        out.append(self.make("car", s0 - 12 + rng.normal(0, 1), sd * (hw + 16), rng.uniform(0, 360), rng, sid))
                else:
                    queue(sd, int(rng.integers(1, 4)), small_subs, fw, s0, 5.0, convoy=False)
            if site.kind == "ford":
                n_w = int(rng.integers(1, 4)) if big else int(rng.integers(0, 2))
                for _ in range(n_w):
                    sd = int(rng.choice([-1, 1]))
                    dd = float(rng.uniform(-0.7, 0.7)) * hw
                    sub = ("truck", "dump_truck", "truck")[rng.integers(3)] if big else "pickup"
                    out.append(self.make(sub, s0 + sk * dd, dd, -90 * sd + rng.normal(0, 5), rng, sid, on="water"))
                if big and rng.random() < 0.7:
                    dd = float(rng.uniform(-0.4, 0.4)) * hw
                    out.append(self.make("excavator", s0 + 12 + sk * dd, dd, rng.uniform(0, 360), rng, sid, on="water"))
            else:
                n_b = int(rng.integers(1, 3)) if big else int(rng.integers(0, 2))
                for q in range(n_b):
                    sd = int(rng.choice([-1, 1]))
                    dd = (q - 0.5) * 0.6 * hw + rng.normal(0, 3)
                    sub = ("truck", "dump_truck")[rng.integers(2)] if big else "car"
                    out.append(self.make(sub, s0, dd, -90 * sd, rng, sid, on="bridge"))
        elif site.kind == "sandbar_camp":
            s_i, a, b = site.island
            n = int(rng.integers(16, 24)) if big else int(rng.integers(6, 10))
            subs = ["truck", "truck", "dump_truck", "truck_trailer", "car", "van", "pickup"]
            placed = 0
            rows = [-0.42, -0.14, 0.14, 0.42]
            per_row = int(math.ceil(n / len(rows)))
            for r in rows:
                dd0 = r * b
                half = a * 0.72 * math.sqrt(max(0.0, 1.0 - (dd0 / (b * 0.72)) ** 2))
                ss = s_i - half + float(rng.uniform(0, 8))
                lh = float(rng.choice([0.0, 180.0])) + 90.0
                in_row = 0
                while ss < s_i + half and in_row < per_row and placed < n:
                    sub = subs[rng.integers(len(subs))]
                    kind = KINDS[sub]
                    L, W = float(rng.uniform(*kind.length)), float(rng.uniform(*kind.width))
                    dd = dd0 + rng.normal(0, 0.6)
                    o = self.make(sub, ss + W / 2, dd, lh + rng.normal(0, 5), rng, sid, on="sandbar", size=(L, W))
                    if sub == "truck_trailer" and rng.random() < 0.6:
                        self._load_cars(o, rng)
                    out.append(o)
                    placed += 1
                    in_row += 1
                    ss += max(W + float(rng.uniform(1.5, 4.0)), 2 * half / per_row * float(rng.uniform(0.5, 1.3)))
            for sub in ("excavator", "loader", "bulldozer")[: 3 if big else 1]:
                out.append(self.make(sub, s_i + rng.uniform(-a, a) * 0.5, rng.uniform(-0.5, 0.5) * b, rng.uniform(0, 360), rng, sid, on="sandbar"))
            sd = site.side
            queue(sd, int(rng.integers(2, 5)) if big else 1, ["truck", "dump_truck"], True, s0 - 60, 6.0)
        elif site.kind == "parking_field":
            sd = site.side
            road = hw + float(self.profile.road_off(s0, sd))
            d0 = road + 7.0
            depth = site.params["lot_depth"]
            n = int(rng.integers(55, 66)) if big else int(rng.integers(12, 20))
            subs = ["truck", "truck", "dump_truck", "truck_trailer", "bus", "truck"]
            placed = 0
            row_d = d0 + 4.0
            while row_d + 10 < d0 + depth and placed < n:
                sub_row = subs[rng.integers(len(subs))]
                kind = KINDS[sub_row]
                L = float(np.mean(kind.length))
                pal = palette(sub_row, rng)
                face = float(rng.choice([-90.0, 90.0]))
                ss = s0 - 62
                while ss < s0 + 62 and placed < n:
                    if rng.random() < 0.85:
                        o = self.make(sub_row, ss, sd * (row_d + L / 2), face + rng.normal(0, 3), rng, sid, pal=pal if rng.random() < 0.7 else None, size=(L, float(np.mean(kind.width))), anchor=s0)
                        if sub_row == "truck_trailer" and rng.random() < 0.5:
                            self._load_cars(o, rng)
                        out.append(o)
                        placed += 1
                    ss += 2.5 + float(rng.uniform(1.0, 2.0))
                row_d += L + float(rng.uniform(5.0, 8.0))
            out.append(self.make("loader", s0 + 60, sd * (d0 + depth - 8), 0.0, rng, sid, anchor=s0))
            # a small ford from the lot's bank
            queue(sd, 2 if big else 1, ["truck"], True, s0, 6.0)
        out = self._apart(out, [site])
        for o in out:
            o.on = o.on if o.on != "land" else ("land" if abs(o.d) > float(self.half_width(np.array([o.s]), [site])[0]) else "water")
        return out

    def _apart(self, objs: list[Obj], sites: list[Site], step_m: float = 0.5, max_shift_m: float = 30.0) -> list[Obj]:
        """Objects with none on top of another: one whose footprint overlaps one placed before it moves along its
        own axis (forward or back, the shorter way) until it is clear, and is left out if nothing within
        max_shift_m is (0: left out at once). Vehicles in a ford are drawn at random offsets along one line and
        machines at random on a bar, and a truck drawn through another is neither real nor something a detector
        can be asked to split. Moves draw no random numbers, so every other object of the world stays put."""
        kept: list[Obj] = []
        polys: list[shapely.Polygon] = []
        for o in objs:
            poly = shapely.Polygon(o.corners())
            if polys and _overlaps(poly, polys):
                t = math.radians(o.heading)
                ux, uy = math.sin(t), math.cos(t)
                shifts = (sign * k * step_m for k in range(1, int(max_shift_m / step_m) + 1) for sign in (1.0, -1.0))
                shift = next((a for a in shifts if not _overlaps(shapely.affinity.translate(poly, a * ux, a * uy), polys)), None)
                if shift is None:
                    continue
                o.x, o.y = o.x + shift * ux, o.y + shift * uy
                poly = shapely.affinity.translate(poly, shift * ux, shift * uy)
                s_new, off = self.frame.project(np.array([o.x]), np.array([o.y]))
                o.s, o.d = float(s_new[0]), float(off[0] - self.profile.wander(float(s_new[0])))
                if o.on == "water" and abs(o.d) > float(self.half_width(np.array([o.s]), sites)[0]):
                    o.on = "land"  # pushed out of the ford onto its landing
            kept.append(o)
            polys.append(poly)
        return kept

    def _load_cars(self, o: Obj, rng) -> None:
        """Cars carried on a trailer's deck, nose forward."""
        deck_len = o.length * 0.86
        a = o.length / 2 - o.length * 0.14 - 0.4
        while a - 4.3 > -o.length / 2 and deck_len > 0:
            pal = palette("car", rng)
            L, W = 4.3, 1.8
            body = [((a - L, -W / 2), (a, -W / 2), (a, W / 2), (a - L, W / 2))]
            glass = [((a - L * 0.38, -W * 0.42), (a - L * 0.2, -W * 0.42), (a - L * 0.2, W * 0.42), (a - L * 0.38, W * 0.42))]
            o.extra.append((body[0], pal["body"]))
            o.extra.append((glass[0], pal["glass"]))
            a -= L + 0.4

    def static_objects(self, k: int) -> list[Obj]:
        """Rocks on sandbars: the same on every date."""
        if k in self._static:
            return self._static[k]
        rng = _chunk_rng(self.seed, k, 3)
        sites = self.sites_near(k * CHUNK_M, (k + 1) * CHUNK_M)
        out = []
        s_lo, s_hi = self.frame.span
        ss = rng.uniform(k * CHUNK_M, (k + 1) * CHUNK_M, 160)
        ss = np.clip(ss, s_lo, s_hi)
        hw = self.half_width(ss, sites)
        dd = rng.uniform(-1, 1, 160) * hw * 0.95
        f = self.bar_field(ss, dd, hw, sites)
        ok = (f > 0.03) & (f < 0.18)
        for s, d in list(zip(ss[ok], dd[ok]))[:10]:
            if any(abs(s - st.s0) < st.half_len + 40 for st in sites):
                continue
            L = float(rng.uniform(1.2, 3.5))
            o = self.make("rock", float(s), float(d), rng.uniform(0, 360), rng, None, "distractor", "sandbar", size=(L, L * float(rng.uniform(0.6, 0.9))))
            ang = np.sort(rng.uniform(0, 2 * math.pi, 7))
            rad = rng.uniform(0.35, 0.5, 7)
            o.shape = tuple((float(np.cos(t) * r), float(np.sin(t) * r)) for t, r in zip(ang, rad))
            out.append(o)
        self._static[k] = out
        return out

    def distractors(self, k: int, i: int) -> list[Obj]:
        """Boats, village cars and farm machines: they move between dates."""
        d_ord = self.dates[i].toordinal() if self.dates else i
        rng = _chunk_rng(self.seed, k, d_ord, 5)
        p = self.profile
        sites = self.sites_near(k * CHUNK_M, (k + 1) * CHUNK_M)
        s_lo, s_hi = self.frame.span
        out: list[Obj] = []

        def free(s):
            return s_lo < s < s_hi and all(abs(s - st.s0) > st.half_len + 60 for st in sites)

        # boats: in open water, along the flow or moored at a bank
        for _ in range(int(rng.integers(1, 4))):
            s = float(rng.uniform(k * CHUNK_M, (k + 1) * CHUNK_M))
            if not free(s):
                continue
            hw = float(self.half_width(np.array([s]), sites)[0])
            d = float(rng.uniform(-0.5, 0.5)) * hw
            if self.bar_field(np.array([s]), np.array([d]), np.array([hw]), sites)[0] > -0.08:
                continue
            out.append(self.make("boat", s, d, float(rng.choice([0.0, 180.0])) + rng.normal(0, 15), rng, None, "distractor", "water"))
        # cars in villages
        for seg in range(int(k * CHUNK_M // VILLAGE_SEG_M), int((k + 1) * CHUNK_M // VILLAGE_SEG_M)):
            for sd in (1, -1):
                if not bool(p.village(np.array([seg]), np.array([sd]))[0]):
                    continue
                for _ in range(int(rng.integers(1, 5))):
                    s = seg * VILLAGE_SEG_M + float(rng.uniform(40, VILLAGE_SEG_M - 40))
                    if not free(s):
                        continue
                    hw = float(self.half_width(np.array([s]), sites)[0])
                    u = float(rng.uniform(10, 140))
                    d = sd * (hw + float(p.road_off(s, sd)) + 6 + u)
                    sub = ("car", "car", "van", "pickup")[rng.integers(4)]
                    o = self.make(sub, s, d, float(rng.choice([0.0, 180.0, 90.0, -90.0])) + rng.normal(0, 4), rng, None, "distractor", "land")
                    out.append(o)
        # traffic on the bank roads
        for _ in range(int(rng.integers(1, 6))):
            s = float(rng.uniform(k * CHUNK_M, (k + 1) * CHUNK_M))
            if not free(s):
                continue
            sd = int(rng.choice([-1, 1]))
            hw = float(self.half_width(np.array([s]), sites)[0])
            lane = float(rng.choice([-1.0, 1.0]))
            d = sd * (hw + float(p.road_off(s, sd))) + lane * 1.2
            sub = ("car", "car", "van", "pickup", "truck", "bus")[rng.integers(6)]
            out.append(self.make(sub, s, d, (0.0 if lane * sd < 0 else 180.0) + rng.normal(0, 2), rng, None, "distractor", "land"))
        # farm machines in fields far from the water
        ph_month = self.dates[i].month if self.dates else 7
        for _ in range(int(rng.integers(0, 3))):
            s = float(rng.uniform(k * CHUNK_M, (k + 1) * CHUNK_M))
            sd = int(rng.choice([-1, 1]))
            seg = int(s // VILLAGE_SEG_M)
            if not free(s) or bool(p.village(np.array([seg]), np.array([sd]))[0]):
                continue
            hw = float(self.half_width(np.array([s]), sites)[0])
            room = float(p.valley(s, sd)) - float(p.road_off(s, sd)) - 30
            if room < 60:
                continue
            d = sd * (hw + float(p.road_off(s, sd)) + float(rng.uniform(30, room)))
            sub = "combine" if (ph_month >= 9 and rng.random() < 0.6) else "tractor"
            out.append(self.make(sub, s, d, float(rng.choice([0.0, 180.0])) + rng.normal(0, 3), rng, None, "distractor", "land"))
        return self._apart(out, sites, max_shift_m=0.0)  # a car parked through a bus is left out, not moved
