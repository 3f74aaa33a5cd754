"""What a site shows on one date: counts, where vehicles face, how busy it is.

Counts come from the detections inside the site's outline; the share of
vehicles facing each bank is the reporters' import/export question (a queue
facing China on the Korean bank is waiting to go to China). ``toward`` counts
fronts as detected; ``share_toward`` weighs each by how sure its front is
(:mod:`borderwatch.sites.direction`) and how likely it is a vehicle at all
(:mod:`borderwatch.sites.belief`), and ``share_interval`` gives its 95 % range.
``share_from`` says which classes the share rests on: on real imagery only car
fronts have been measured (the detector's model card), so a share built from
trucks is a weaker lead than one built from cars.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from borderwatch.corridor.model import Corridor
from borderwatch.sites.belief import ScoreBelief
from borderwatch.sites.clues import VEHICLES, Clue
from borderwatch.sites.direction import estimate_share
from borderwatch.sites.fronts import factor_and_range
from borderwatch.sites.queues import convoys

CLASSES = ("small_vehicle", "large_vehicle", "heavy_equipment")
#: large-scale: at least this many large vehicles and heavy equipment on one date
LARGE_SCALE_MIN = 8
#: small-scale: the site's detections are expected to hold at least this many vehicles (each detection weighed by
#: how likely one of its score is a vehicle, sites.belief; each counts 1 without a belief). A lone vehicle beside a
#: quiet landing (a farmer's car) or a doubtful detection or two does not make a site active. On the development
#: worlds (seeds 11, 12, km 0-40, two dates, 0.5 and 0.8 m) 7 of the 10 idle dates read as active held 0.3-1.04
#: expected vehicles (the other 3, local vehicles parked in the outline, 1.9-3.7); small-scale traffic 1.86 and up.
SMALL_SCALE_MIN = 1.5


def observe(
    corridor: Corridor,
    outline: shapely.Geometry,
    dets: list[dict],
    clues: list[Clue],
    *,
    detected: bool,
    convergence_deg: float = 0.0,
    belief: ScoreBelief | None = None,
    front_scale: tuple[float, float] = (1.0, 1.0),
) -> tuple[dict, float, str]:
    """(counts, activity score 0..1, scale) for one site on one date.

    dets: that date's detections from clues.detection_points; clues: that date's
    clues of this site. detected=False (detection was not run) leaves the
    counts empty and the scale "active"/"inactive" from the ground evidence alone.
    With detections the scale is "large" (at least LARGE_SCALE_MIN large vehicles and machines), "small" (the
    detections are expected to hold at least SMALL_SCALE_MIN vehicles) or "inactive".
    belief: how likely a detection of this score is a vehicle (sites.belief); the
    direction share and the expected vehicles lean on it. None: every detection counts fully.
    front_scale: the range the share's interval holds over (sites.direction); a detection's
    ``front_reliability`` (sites.fronts, measured on its image's queued vehicles) can raise its factor and widen
    the range (sites.fronts.factor_and_range).
    """
    inside = inside_outline(outline, dets)
    by_class = {c: sum(d["class"] == c for d in inside) for c in CLASSES}
    cargo = _carried(inside)
    movers, facing = movers_facing(corridor, inside, convergence_deg, cargo)
    toward = {corridor.left_country: 0, corridor.right_country: 0}
    faces_left, p_front, scores, classes, factors = [], [], [], [], []
    share_from = dict.fromkeys(VEHICLES, 0)
    measured: dict[str, dict | None] = {}
    if movers:
        for d, c in zip(movers, facing):
            if c:
                toward[c] += 1
                faces_left.append(c == corridor.left_country)
                share_from[d["class"]] += 1
                p_front.append(d.get("heading_conf"))
                scores.append(float(d.get("score") or 0.0))
                classes.append(d["class"])
                rel = d.get("front_reliability")  # measured on this image's queues (sites.fronts), if it could be
                factors.append(factor_and_range(rel, front_scale))
                if d["class"] not in measured:
                    measured[d["class"]] = {**rel.as_dict(), "applied": round(factors[-1][0], 3)} if rel is not None else None
    queued = _queued(movers, convergence_deg)
    k = np.array(factors, float).reshape(-1, 3)
    share = estimate_share(faces_left, p_front, belief(scores, classes) if belief is not None and scores else None,
                           front_scale=(k[:, 1], k[:, 2]), factor=k[:, 0])
    parking = [c for c in clues if c.kind == "parking"]
    areas = [float(c.details.get("area_m2", 0.0)) for c in clues if c.kind in ("cleared_bank", "cleared_area", "cleared_bar", "track_to_water")]
    counts = {
        **by_class,
        "vehicles": sum(by_class.values()),
        # how many of them are likely vehicles (each weighed by sites.belief; the count itself without one): what
        # the scale's "small" rests on
        "expected_vehicles": round(float(np.sum(belief([float(d.get("score") or 0.0) for d in inside],
                                                      [d["class"] for d in inside])))
                                   if belief is not None and inside else float(len(inside)), 2),
        "heavy_in_water": sum(d["class"] == "heavy_equipment" and d.get("ground") in ("water", "ice", "bar") for d in inside),
        "vehicles_on_sandbar": sum(d["class"] in VEHICLES and d.get("ground") == "bar" for d in inside),
        "parking_vehicles": sum(int(c.details.get("vehicles", 0)) for c in parking),
        "parking_area_m2": round(max([float(c.details.get("area_m2", 0.0)) for c in parking] or [0.0]), 0),
        "cleared_area_m2": round(sum(areas), 0),
        "cargo_vehicles": len(cargo),  # cars on a transporter's deck: counted, but not for direction
        # vehicles one behind another (sites.queues): the longest queue, and the longest convoy of identical ones
        "longest_queue": queued["longest_queue"],
        "convoy": queued["convoy"],
        "convoy_subclass": queued["convoy_subclass"],
        "toward": toward,
        # weighed by how sure each front is (sites.direction), with its 95 % interval
        "share_toward": _per_bank(corridor, round(share.share, 3), round(1.0 - share.share, 3)) if share else None,
        "share_interval": _per_bank(corridor, [round(share.low, 3), round(share.high, 3)],
                                    [round(1.0 - share.high, 3), round(1.0 - share.low, 3)]) if share else None,
        "share_belief": belief.label if belief is not None else None,  # what weighed the detections, if anything
        "share_from": share_from,  # vehicles per class facing a bank: what the share rests on
        # per class: how reliable fronts were in the image, from its queued pairs (None: too few pairs), and
        # the factor the share applied ("applied": 1 where the calibration stood); only classes the share rests on
        "front_reliability": dict(sorted(measured.items())),
        "evidence": dict(sorted({k: sum(c.kind == k for c in clues) for k in {c.kind for c in clues}}.items())),
        "detections_run": detected,
        # which detector counted them (store schema 5): the bundled model, or its JPEG variant on JPEG imagery
        "detectors": sorted({str(d["detector"]) for d in inside if d.get("detector")}),
    }
    if not detected:  # no detector ran: unknown, not zero
        for k in (*CLASSES, "vehicles", "expected_vehicles", "heavy_in_water", "vehicles_on_sandbar", "parking_vehicles",
                  "cargo_vehicles", "toward", "share_interval", "longest_queue", "convoy", "detectors"):
            counts[k] = None
    if detected:
        big = by_class["large_vehicle"] + by_class["heavy_equipment"]
        weight = by_class["large_vehicle"] + 2.0 * by_class["heavy_equipment"] + 0.5 * by_class["small_vehicle"]
        activity = 1.0 - math.exp(-weight / 8.0)
        scale = "large" if big >= LARGE_SCALE_MIN else ("small" if counts["expected_vehicles"] >= SMALL_SCALE_MIN else "inactive")
        if scale == "inactive":  # no traffic seen: a lone or doubtful vehicle's front says nothing of the site's direction
            counts["share_toward"] = counts["share_interval"] = None
    else:
        fresh = [c.score for c in clues if c.source == "evidence"]
        activity = min(1.0, float(np.sum(fresh)) / 3.0) if fresh else 0.0
        scale = "active" if fresh and max(fresh) >= 0.5 else "inactive"
    return counts, round(activity, 3), scale


def inside_outline(outline: shapely.Geometry, dets: list[dict]) -> list[dict]:
    """The detections (sites.clues.detection_points) whose centre lies in a site's outline."""
    return [d for d in dets if shapely.contains_xy(outline, d["x"], d["y"])] if dets else []


def movers_facing(corridor: Corridor, inside: list[dict], convergence_deg: float = 0.0,
                  cargo: set[int] | None = None) -> tuple[list[dict], list[str]]:
    """(the vehicles a site's direction share looks at, the bank each faces: "" along the river) among the
    detections inside its outline: cars and large vehicles with a heading, cars on a transporter left out
    (``cargo``: their indices in ``inside``, when the caller has them)."""
    cargo = _carried(inside) if cargo is None else cargo
    movers = [d for i, d in enumerate(inside) if d["class"] in VEHICLES and d.get("heading_deg") is not None and i not in cargo]
    if not movers:
        return [], []
    grid = [(float(d["heading_deg"]) - convergence_deg) % 360.0 for d in movers]
    return movers, [str(c) for c in corridor.facing_country([d["km"] for d in movers], grid)]


def _queued(movers: list[dict], convergence_deg: float) -> dict:
    """The longest queue and convoy among a site's vehicles (sites.queues), in the corridor's grid."""
    return convoys([d["x"] for d in movers], [d["y"] for d in movers],
                   [(float(d["heading_deg"]) - convergence_deg) % 360.0 for d in movers],
                   [float(d.get("length_m") or np.nan) for d in movers], [d.get("subclass") for d in movers])


def _per_bank(corridor: Corridor, left, right) -> dict:
    return {corridor.left_country: left, corridor.right_country: right}


def _carried(dets: list[dict]) -> set[int]:
    """Indices of small vehicles whose centre lies on a large vehicle: cars on a car transporter.

    They face wherever the transporter is parked, so counting each for the
    import/export share would weigh one truck as many vehicles.
    """
    decks = [d["polygon_xy"] for d in dets if d["class"] == "large_vehicle" and d.get("polygon_xy") is not None]
    if not decks:
        return set()
    tree = shapely.STRtree(decks)
    return {i for i, d in enumerate(dets) if d["class"] == "small_vehicle"
            and len(tree.query(shapely.Point(d["x"], d["y"]), predicate="within"))}
