"""Ground classes, their land-cover truth codes and their colours on a date."""

from __future__ import annotations

from datetime import date

import numpy as np

from borderwatch.synth.season import phenology

# ground ids used while composing
WATER, BAR, VEGISLAND, BEACH, GRASS, ROAD_DIRT, ROAD_PAVED, FOREST, FIELD_EDGE = 1, 2, 3, 4, 5, 6, 7, 8, 9
CROP0, N_CROPS = 10, 8  # 10..17 growing, 50..57 harvested
HARV0 = 50
YARD, LANE = 20, 21
ICE = 40  # river ice (its colour is drawn per pixel: render._ice_colour)
YARD_SHADOW = 200
ROOF0, N_ROOFS = 22, 8  # 22..29 lit half, 30..37 shaded half
ROOF_SHADE = 8

#: land-cover truth codes (landcover_<date>.tif)
LANDCOVER = {0: "nodata", 1: "water", 2: "sandbar", 3: "disturbed", 4: "vegetation", 5: "forest", 6: "built_up", 7: "road",
             8: "ice"}

_GREEN = [(62, 92, 44), (90, 124, 58), (80, 112, 58), (88, 130, 66), (100, 120, 72), (118, 122, 84), (66, 92, 52), (108, 128, 90)]
_RIPE = [(152, 138, 82), (176, 152, 70), (128, 118, 78), (184, 166, 92), (120, 118, 80), (150, 138, 96), (92, 100, 56), (128, 138, 92)]
_STUBBLE = [(170, 150, 112), (150, 128, 98), (112, 92, 72), (176, 160, 120), (128, 108, 84), (160, 146, 110), (96, 96, 60), (140, 120, 92)]
_ROOFS_A = [(205, 205, 200), (150, 152, 152), (172, 96, 64), (122, 126, 132), (190, 188, 180), (140, 80, 60), (210, 210, 206), (100, 104, 110)]  # left bank
_ROOFS_B = [(62, 102, 160), (168, 62, 52), (198, 198, 198), (88, 122, 152), (70, 110, 150), (180, 180, 176), (150, 70, 58), (75, 95, 140)]  # right bank


def _mix(a, b, t):
    return tuple((1 - t) * x + t * y for x, y in zip(a, b))


def colour_lut(d: date, left_roofs_kp: bool = True) -> np.ndarray:
    """(256, 3) float32 RGB per ground id on a date. Roof ids 22..29 index left/right bank via +100."""
    ph = phenology(d)
    lut = np.zeros((256, 3), np.float32)
    g, r = ph["green"], ph["ripe"]
    dormant = (134, 122, 98)
    for i in range(N_CROPS):
        growing = _mix(_mix(dormant, _GREEN[i], g), _RIPE[i], r * (1 - 0.5 * g) + 0.5 * r * g)
        lut[CROP0 + i] = growing
        lut[HARV0 + i] = _STUBBLE[i]
    leaf = ph["leaf"]
    forest = _mix((92, 84, 72), (54, 84, 46), leaf)
    forest = _mix(forest, (96, 88, 46), 0.35 * ph["autumn"])
    lut[FOREST] = forest
    grass = _mix(_mix((140, 128, 100), (98, 126, 64), leaf), (140, 132, 86), 0.6 * r)
    lut[GRASS] = grass
    lut[FIELD_EDGE] = _mix(grass, (150, 138, 110), 0.4)
    lut[VEGISLAND] = _mix(grass, (70, 100, 52), 0.5 * leaf)
    lut[BAR] = (178, 168, 148)
    lut[BEACH] = (160, 152, 134)
    lut[ROAD_DIRT] = (168, 154, 128)
    lut[ROAD_PAVED] = (100, 100, 104)
    lut[YARD] = (146, 134, 114)
    lut[LANE] = (172, 168, 158)
    lut[YARD_SHADOW] = (80, 74, 64)
    lut[WATER] = (60, 80, 78)
    for i in range(N_ROOFS):
        a, b = _ROOFS_A[i], _ROOFS_B[i]
        if not left_roofs_kp:
            a, b = b, a
        lut[ROOF0 + i] = a
        lut[ROOF0 + ROOF_SHADE + i] = tuple(0.78 * v for v in a)
        lut[100 + ROOF0 + i] = b
        lut[100 + ROOF0 + ROOF_SHADE + i] = tuple(0.78 * v for v in b)
    if ph["snow"]:
        lut[1:] = lut[1:] * 0.3 + np.float32(0.7 * 235)
        lut[WATER] = (70, 88, 92)
    return lut


def texture_amp() -> np.ndarray:
    amp = np.full(256, 0.15, np.float32)
    amp[WATER] = 0.05
    amp[BAR] = 0.14
    amp[BEACH] = 0.18
    amp[FOREST] = 1.05
    amp[VEGISLAND] = 0.6
    amp[GRASS] = 0.3
    amp[ROAD_DIRT] = 0.08
    amp[ROAD_PAVED] = 0.05
    amp[LANE] = 0.06
    amp[ROOF0 : ROOF0 + 16] = 0.04
    amp[100 + ROOF0 : 100 + ROOF0 + 16] = 0.04
    amp[CROP0 : CROP0 + N_CROPS] = 0.22
    amp[CROP0] = 0.35
    amp[HARV0 : HARV0 + N_CROPS] = 0.16
    return amp


def landcover_lut() -> np.ndarray:
    lc = np.zeros(256, np.uint8)
    lc[WATER] = 1
    lc[[BAR, BEACH]] = 2
    lc[[VEGISLAND, GRASS, FIELD_EDGE]] = 4
    lc[CROP0 : CROP0 + N_CROPS] = 4
    lc[HARV0 : HARV0 + N_CROPS] = 4
    lc[FOREST] = 5
    lc[[YARD, LANE, YARD_SHADOW]] = 6
    lc[ROOF0 : ROOF0 + 16] = 6
    lc[100 + ROOF0 : 100 + ROOF0 + 16] = 6
    lc[[ROAD_DIRT, ROAD_PAVED]] = 7
    lc[ICE] = 8
    return lc
