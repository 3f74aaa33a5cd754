"""Object kinds: truth class, size ranges, heights and top-down part drawings.

Parts are rectangles/polygons in footprint-normalised coordinates: ``a`` along
the heading (+0.5 = front), ``b`` across (+0.5 = right side). Each kind's front
is marked the way it looks from above: windscreen and cab ahead of a cargo box,
excavator boom ahead of its tracks, loader bucket and dozer blade at the front,
a boat's pointed bow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("small_vehicle", "large_vehicle", "heavy_equipment", "distractor")


@dataclass(frozen=True)
class Kind:
    subclass: str
    cls: str
    length: tuple[float, float]
    width: tuple[float, float]
    height: float
    parts: tuple  # (polygon [(a, b), ...], colour role)


def R(a0, a1, b0, b1, role):
    return (((a0, b0), (a1, b0), (a1, b1), (a0, b1)), role)


CAR = (
    R(-0.5, 0.5, -0.5, 0.5, "body"),
    R(0.22, 0.48, -0.40, 0.40, "body_hi"),  # long bonnet catches the light
    R(0.04, 0.22, -0.44, 0.44, "glass"),  # windscreen, raked and large
    R(-0.30, 0.04, -0.40, 0.40, "roof"),
    R(-0.40, -0.30, -0.36, 0.36, "glass"),  # small rear window, short boot behind it
)
VAN = (
    R(-0.5, 0.5, -0.5, 0.5, "body"),
    R(0.30, 0.42, -0.44, 0.44, "glass"),
    R(0.42, 0.5, -0.46, 0.46, "body_hi"),
    R(-0.46, 0.28, -0.42, 0.42, "roof"),
)
PICKUP = (
    R(-0.5, 0.5, -0.5, 0.5, "body"),
    R(0.32, 0.5, -0.42, 0.42, "body_hi"),
    R(0.18, 0.32, -0.42, 0.42, "glass"),
    R(-0.06, 0.18, -0.40, 0.40, "roof"),
    R(-0.47, -0.10, -0.38, 0.38, "cargo"),  # open bed behind the cab
)
TRUCK = (
    R(0.30, 0.5, -0.5, 0.5, "cab"),
    R(0.44, 0.49, -0.44, 0.44, "glass"),
    R(0.27, 0.30, -0.40, 0.40, "dark"),  # gap between cab and box
    R(-0.5, 0.27, -0.5, 0.5, "cargo"),
    R(-0.46, 0.23, -0.06, 0.06, "cargo_lo"),  # tarp ridge
)
DUMP = (
    R(0.33, 0.5, -0.5, 0.5, "cab"),
    R(0.44, 0.49, -0.42, 0.42, "glass"),
    R(0.27, 0.33, -0.35, 0.35, "dark"),
    R(-0.5, 0.27, -0.5, 0.5, "cargo"),
    R(-0.44, 0.22, -0.40, 0.40, "load"),
)
TRAILER = (
    R(0.40, 0.5, -0.5, 0.5, "cab"),
    R(0.465, 0.495, -0.42, 0.42, "glass"),
    R(0.36, 0.40, -0.30, 0.30, "dark"),
    R(-0.5, 0.36, -0.48, 0.48, "cargo"),
)
BUS = (
    R(-0.5, 0.5, -0.5, 0.5, "body"),
    R(0.45, 0.5, -0.44, 0.44, "glass"),
    R(-0.45, 0.42, -0.38, 0.38, "roof"),
    R(-0.15, 0.05, -0.22, 0.22, "light"),  # roof air-con unit
)
EXCAVATOR = (
    R(-0.5, 0.0, -0.5, -0.28, "tire"),  # tracks
    R(-0.5, 0.0, 0.28, 0.5, "tire"),
    R(-0.46, 0.02, -0.36, 0.36, "yellow"),  # house
    R(-0.5, -0.36, -0.34, 0.34, "yellow_lo"),  # counterweight
    R(-0.12, 0.04, -0.36, -0.08, "glass"),  # cab (left front of house)
    R(0.02, 0.40, -0.06, 0.12, "yellow"),  # boom / arm pointing forward
    R(0.38, 0.5, -0.20, 0.24, "dark"),  # bucket
)
LOADER = (
    R(-0.42, 0.22, -0.36, 0.36, "yellow"),
    R(-0.5, -0.3, -0.5, -0.32, "tire"),
    R(-0.5, -0.3, 0.32, 0.5, "tire"),
    R(0.02, 0.2, -0.5, -0.32, "tire"),
    R(0.02, 0.2, 0.32, 0.5, "tire"),
    R(-0.18, 0.02, -0.28, 0.28, "glass"),
    R(0.22, 0.34, -0.30, -0.18, "yellow"),  # lift arms
    R(0.22, 0.34, 0.18, 0.30, "yellow"),
    R(0.34, 0.5, -0.5, 0.5, "dark"),  # bucket across the front
)
BULLDOZER = (
    R(-0.5, 0.3, -0.46, -0.26, "tire"),
    R(-0.5, 0.3, 0.26, 0.46, "tire"),
    R(-0.46, 0.26, -0.28, 0.28, "yellow"),
    R(-0.34, -0.04, -0.22, 0.22, "glass"),
    R(0.30, 0.36, -0.30, 0.30, "dark"),
    R(0.36, 0.5, -0.5, 0.5, "yellow_lo"),  # blade, wider than the body
)
CRANE = (
    R(0.34, 0.5, -0.5, 0.5, "cab"),
    R(0.45, 0.49, -0.42, 0.42, "glass"),
    R(-0.5, 0.34, -0.5, 0.5, "cargo"),
    R(-0.30, 0.48, -0.14, 0.14, "yellow"),  # boom laid forward over the cab
    R(-0.42, -0.22, -0.30, 0.30, "dark"),  # turret
)
BOAT = (
    (((0.5, 0.0), (0.22, -0.5), (-0.5, -0.42), (-0.5, 0.42), (0.22, 0.5)), "body"),
    (((0.36, 0.0), (0.16, -0.32), (-0.42, -0.28), (-0.42, 0.28), (0.16, 0.32)), "dark"),
    R(-0.36, -0.16, -0.18, 0.18, "light"),
)
TRACTOR = (
    R(-0.05, 0.5, -0.22, 0.22, "body"),  # bonnet
    R(-0.40, -0.05, -0.30, 0.30, "glass"),  # cab
    R(-0.48, -0.18, -0.5, -0.30, "tire"),  # big rear wheels
    R(-0.48, -0.18, 0.30, 0.5, "tire"),
    R(0.22, 0.40, -0.36, -0.24, "tire"),
    R(0.22, 0.40, 0.24, 0.36, "tire"),
)
COMBINE = (
    R(-0.5, 0.30, -0.30, 0.30, "body"),
    R(-0.05, 0.20, -0.22, 0.10, "glass"),
    R(-0.45, -0.05, -0.2, 0.2, "body_hi"),
    R(0.32, 0.5, -0.5, 0.5, "yellow_lo"),  # cutting header across the front
    R(0.30, 0.34, -0.12, 0.12, "dark"),
)

KINDS: dict[str, Kind] = {
    k.subclass: k
    for k in [
        Kind("car", "small_vehicle", (4.2, 4.8), (1.75, 1.9), 1.5, CAR),
        Kind("van", "small_vehicle", (4.8, 5.3), (1.9, 2.05), 2.0, VAN),
        Kind("pickup", "small_vehicle", (5.1, 5.5), (1.85, 1.95), 1.8, PICKUP),
        Kind("truck", "large_vehicle", (8.0, 10.0), (2.4, 2.55), 3.4, TRUCK),
        Kind("dump_truck", "large_vehicle", (7.6, 8.6), (2.45, 2.55), 3.2, DUMP),
        Kind("truck_trailer", "large_vehicle", (15.0, 18.0), (2.45, 2.55), 3.3, TRAILER),
        Kind("bus", "large_vehicle", (10.5, 12.0), (2.45, 2.55), 3.2, BUS),
        Kind("excavator", "heavy_equipment", (8.8, 9.8), (2.8, 3.2), 3.0, EXCAVATOR),
        Kind("loader", "heavy_equipment", (6.5, 7.5), (2.5, 2.8), 3.2, LOADER),
        Kind("bulldozer", "heavy_equipment", (5.5, 6.5), (3.0, 3.6), 3.0, BULLDOZER),
        Kind("crane", "heavy_equipment", (10.0, 12.0), (2.5, 2.6), 3.5, CRANE),
        Kind("boat", "distractor", (4.0, 7.0), (1.4, 2.0), 0.8, BOAT),
        Kind("tractor", "distractor", (3.6, 4.4), (1.8, 2.2), 2.6, TRACTOR),
        Kind("combine", "distractor", (7.0, 8.0), (4.0, 5.0), 3.4, COMBINE),
        Kind("rock", "distractor", (1.2, 4.0), (1.0, 3.0), 1.0, ()),
    ]
}

#: subclass reported in truth for distractors that are farm machines
FARM = {"tractor", "combine"}

CAR_COLOURS = [
    (235, 235, 232), (238, 238, 236), (200, 202, 205), (170, 172, 176), (40, 40, 44), (30, 32, 35),
    (120, 122, 125), (150, 30, 30), (30, 60, 130), (60, 90, 60), (200, 190, 160), (220, 220, 215),
]
CAB_COLOURS = [(40, 80, 160), (170, 35, 30), (230, 230, 225), (60, 100, 60), (200, 160, 40), (35, 110, 150), (120, 40, 40)]
CARGO_COLOURS = [(70, 110, 80), (60, 95, 140), (150, 150, 145), (190, 185, 170), (95, 120, 70), (160, 120, 60), (80, 80, 85)]
YELLOW = [(225, 175, 30), (235, 150, 25), (210, 185, 40)]
BOAT_COLOURS = [(60, 90, 140), (180, 180, 175), (110, 70, 40), (40, 110, 100)]
FARM_COLOURS = [(40, 120, 50), (170, 40, 30), (60, 90, 150)]


def shade(c, k: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, v * k))) for v in c)


def palette(subclass: str, rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    """Colours for one instance (rng drawn once per vehicle; convoys reuse a palette)."""
    if subclass in ("car", "van", "pickup", "bus"):
        body = CAR_COLOURS[rng.integers(len(CAR_COLOURS))]
    elif subclass == "boat":
        body = BOAT_COLOURS[rng.integers(len(BOAT_COLOURS))]
    elif subclass in FARM:
        body = FARM_COLOURS[rng.integers(len(FARM_COLOURS))]
    else:
        body = CAB_COLOURS[rng.integers(len(CAB_COLOURS))]
    yel = YELLOW[rng.integers(len(YELLOW))]
    cargo = CARGO_COLOURS[rng.integers(len(CARGO_COLOURS))]
    return {
        "body": body,
        "body_hi": shade(body, 1.12),
        "roof": shade(body, 1.12),
        "glass": (28, 34, 42) if sum(body) > 240 else (78, 90, 108),  # sky reflection shows on dark cars
        "cab": CAB_COLOURS[rng.integers(len(CAB_COLOURS))] if subclass != "bus" else body,
        "cargo": cargo,
        "cargo_lo": shade(cargo, 0.82),
        "load": (110, 95, 75) if rng.random() < 0.6 else shade(cargo, 0.7),
        "dark": (45, 45, 45),
        "tire": (35, 35, 35),
        "light": (215, 215, 210),
        "yellow": yel,
        "yellow_lo": shade(yel, 0.75),
        "rock": tuple(int(v) for v in rng.integers(95, 150) * np.array([1.0, 0.98, 0.93])),
    }
