"""SynthWorld: the public handle on a synthetic corridor (render, truth)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from borderwatch.corridor.model import Corridor
from borderwatch.errors import InputError, positive_gsd
from borderwatch.synth.frame import RiverFrame
from borderwatch.synth.layout import CHUNK_M, Layout, Obj, Site
from borderwatch.synth.noise import key
from borderwatch.synth.palette import colour_lut
from borderwatch.synth.profile import Profile
from borderwatch.synth.season import phenology

MIN_GSD, MAX_GSD = 0.1, 5.0
MAX_PIXELS = 64_000_000
#: capture dates of a world made without any: the reporters' two Google Earth dates of 2025
DEFAULT_DATES = (date(2025, 7, 31), date(2025, 9, 13))


def check_gsd(gsd_m: float) -> float:
    g = positive_gsd(gsd_m)
    if not MIN_GSD <= g <= MAX_GSD:
        raise InputError("gsd", f"ground sample distance {gsd_m!r} m is outside {MIN_GSD}-{MAX_GSD} m")
    return g


class SynthWorld:
    """A deterministic synthetic river corridor seen on several dates.

    Pixels and truth depend only on (corridor line, seed, dates): the same
    arguments give identical output, any window renders on its own, and
    adjacent windows join without seams.
    """

    def __init__(self, corridor: Corridor, seed: int = 7, dates: list[date] | None = None):
        if not isinstance(corridor, Corridor):
            raise InputError("corridor", f"expected a Corridor, got {type(corridor).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InputError("seed", f"seed must be a non-negative integer, got {seed!r}")
        dates = list(dates) if dates else list(DEFAULT_DATES)
        for d in dates:
            if not isinstance(d, date):
                raise InputError("dates", f"not a date: {d!r}")
        if len(set(dates)) != len(dates):
            raise InputError("dates", "dates repeat")
        self.corridor = corridor
        self.seed = int(seed)
        self.dates = sorted(dates)
        self.frame = RiverFrame(corridor)
        if corridor.left_country == "KP" or corridor.right_country != "KP":
            self.fence_side = 1
        else:
            self.fence_side = -1
        self.fence_country = corridor.left_country if self.fence_side > 0 else corridor.right_country
        self.roofs_left_first = True
        self.profile = Profile(self.seed, self.fence_side)
        self.layout = Layout(self.frame, self.profile, self.seed, self.dates, corridor.left_country, corridor.right_country)
        self.s_ref = math.floor(self.frame.s_min / 100_000.0) * 100_000.0
        self.k = {n: key(self.seed, 500 + i) for i, n in enumerate(["hill", "turb", "n1", "n3", "farm_out", "farm_in", "house", "streak"])}
        self._luts: dict[int, np.ndarray] = {}

    # -- dates ---------------------------------------------------------------------
    def date_index(self, d: date) -> int:
        """Which world date a capture date shows: the latest world date on or before it."""
        if not isinstance(d, date):
            raise InputError("date", f"not a date: {d!r}")
        if d in self.dates:
            return self.dates.index(d)
        before = [i for i, x in enumerate(self.dates) if x <= d]
        return before[-1] if before else 0

    def lut(self, i: int) -> np.ndarray:
        if i not in self._luts:
            self._luts[i] = colour_lut(self.dates[i])
        return self._luts[i]

    def pheno(self, i: int) -> dict:
        return phenology(self.dates[i])

    # -- rendering -------------------------------------------------------------------
    def _check_window(self, bounds, gsd_m):
        g = check_gsd(gsd_m)
        try:
            minx, miny, maxx, maxy = (float(v) for v in bounds)
        except (TypeError, ValueError):
            raise InputError("bounds", f"bounds must be (minx, miny, maxx, maxy), got {bounds!r}") from None
        if not (maxx > minx and maxy > miny) or not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
            raise InputError("bounds", f"empty or invalid window {bounds!r}")
        w, h = round((maxx - minx) / g), round((maxy - miny) / g)
        if w < 1 or h < 1:
            raise InputError("bounds", f"window {bounds!r} is smaller than one pixel at {g} m")
        if w * h > MAX_PIXELS:
            raise InputError("bounds", f"window of {w}x{h} px is too large for one call; render it in tiles")
        return (minx, miny, maxx, maxy), g

    def render(self, bounds, gsd_m: float, d: date) -> np.ndarray:
        """RGB uint8 (3, H, W) of a north-up window in the corridor CRS; every pixel >= 1."""
        from borderwatch.synth.render import render_window

        b, g = self._check_window(bounds, gsd_m)
        rgb, _ = render_window(self, b, g, self.date_index(d))
        return rgb

    def render_with_landcover(self, bounds, gsd_m: float, d: date) -> tuple[np.ndarray, np.ndarray]:
        """RGB (3, H, W) and land-cover codes (H, W) (see palette.LANDCOVER)."""
        from borderwatch.synth.render import render_window

        b, g = self._check_window(bounds, gsd_m)
        return render_window(self, b, g, self.date_index(d), want_labels=True)

    # -- truth -----------------------------------------------------------------------
    def _chunks(self, km_range) -> range:
        lo, hi = self.frame.span
        if km_range is not None:
            a, b = _check_km(km_range)
            base = self.frame.span[0]
            lo, hi = max(lo, base + a * 1000.0 - CHUNK_M), min(hi, base + b * 1000.0 + CHUNK_M)
        return self.layout.chunks_for(lo, hi)

    def _km(self, x, y) -> np.ndarray:
        km, _ = self.corridor.locate_xy(np.asarray(x), np.asarray(y))
        return km

    def site_records(self, km_range=None) -> list[Site]:
        out = [s for k in self._chunks(km_range) for s in self.layout.chunk_sites(k)]
        if not out:
            return []
        km = self._km([s.x for s in out], [s.y for s in out])
        keep = []
        for s, v in zip(out, km):
            s.params["chainage_km"] = float(v)
            if km_range is None or (km_range[0] <= v <= km_range[1]):
                keep.append(s)
        return keep

    def sites(self, km_range=None) -> list[dict]:
        """Truth crossing sites (geometry in the corridor CRS as a list of (x, y))."""
        out = []
        for s in self.site_records(km_range):
            by_date = {d.isoformat(): st for d, st in zip(self.dates, s.states)}
            order = {"large": 2, "small": 1, "inactive": 0}
            overall = max(s.states, key=lambda v: order[v])
            out.append(
                {
                    "site_id": s.site_id,
                    "kind": s.kind,
                    "chainage_km": round(s.params["chainage_km"], 4),
                    "active_dates": [d.isoformat() for d, st in zip(self.dates, s.states) if st != "inactive"],
                    "scale": overall,
                    "scale_by_date": by_date,
                    "pattern": s.params["pattern"],
                    # the fence on the fenced bank is open over this length of river at the site
                    "fence_country": self.fence_country,
                    "fence_gate_m": round(s.gate[1] - s.gate[0], 1) if s.gate is not None else 0.0,
                    "x": s.x,
                    "y": s.y,
                    "polygon": [tuple(map(float, p)) for p in s.polygon],
                }
            )
        return out

    def object_records(self, d: date, km_range=None) -> list[Obj]:
        i = self.date_index(d)
        out = [o for k in self._chunks(km_range) for o in self.layout.chunk_objects(k, i)]
        if not out:
            return []
        km = self._km([o.x for o in out], [o.y for o in out])
        keep = []
        for o, v in zip(out, km):
            if km_range is None or (km_range[0] <= v <= km_range[1]):
                o.__dict__["chainage_km"] = float(v)
                keep.append(o)
        return keep

    def objects(self, d: date, km_range=None) -> list[dict]:
        """Truth objects on a date (footprint polygon in the corridor CRS)."""
        c = self.corridor
        out = []
        for o in self.object_records(d, km_range):
            if o.on in ("land",):
                bank = c.left_country if o.d >= 0 else c.right_country
            else:
                bank = "water"
            cls = o.cls
            out.append(
                {
                    "class": cls,
                    "subclass": o.subclass,
                    "heading_deg": round(o.heading % 360.0, 2),
                    "length_m": round(o.length, 2),
                    "width_m": round(o.width, 2),
                    "height_m": round(o.height, 2),
                    "date": self.dates[self.date_index(d)].isoformat(),
                    "site_id": o.site_id,
                    "bank": bank,
                    "on": o.on,
                    "role": o.role,
                    "chainage_km": round(o.__dict__.get("chainage_km", float("nan")), 4),
                    "x": o.x,
                    "y": o.y,
                    "polygon": [tuple(map(float, p)) for p in o.corners()],
                }
            )
        return out


def _check_km(km_range) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in km_range)
    except (TypeError, ValueError):
        raise InputError("km", f"km range must be (start, end), got {km_range!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)) or b <= a:
        raise InputError("km", f"empty km range {km_range!r}")
    return a, b
