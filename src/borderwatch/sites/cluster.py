"""Clues grouped into crossing sites along the river, and what each group says about its site.

A crossing shows as clues close together in chainage on both banks (the two
landings of a ford), or across the water (a bridge, a bar camp). Groups are
single-linkage runs along the chainage: two clues belong together when less
than ``link_km`` of river separates them, whichever bank they are on. A run of
staging clues only (a lot, a cleared field) joins the run whose clues it touches
(``staging_attach_m``): far inland on a bend, chainage alone cuts a lot from its landing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import shapely

from borderwatch.sites.clues import BANK_KINDS, CROSSING_LINES, Clue


@dataclass(frozen=True)
class SiteParams:
    """How clues become sites. Stored with every register build, so a number can be traced to them."""

    link_km: float = 0.12  # clues closer than this along the river belong to one site
    min_score: float = 0.5  # a group whose clue scores sum to less is dropped as noise
    min_clue_score: float = 0.2
    candidate_factor: float = 0.5  # one-bank groups keep this share of their score
    match_km: float = 0.2  # a new group within this of a registered site is that site (stable ids)
    # a lot or cleared field whose footprint comes this close to a site's other clues is part of that site, however
    # far along the river its centre lies (200 m inland on a bend, a lot's chainage moves 150-200 m from its track's)
    staging_attach_m: float = 30.0
    # a truck lot (a parking cluster of at least lot_vehicles, alone or with cleared ground or a cleared bank beside it,
    # on one bank) joins the crossing whose clues on its bank come this close: it stands behind the bank road, which
    # may run 200 m from the water, and on a bend neither chainage nor staging_attach_m joins it to its landing
    lot_attach_m: float = 250.0
    parking_m2: float = 5000.0  # cleared ground this large at a site makes it a parking field
    lot_vehicles: int = 15  # a parking cluster this big is a lot (a queue of 8-14 at a landing is not)
    camp_m2: float = 1500.0  # cleared bar this large makes it a bar camp
    outline_buffer_m: float = 25.0
    weigh_by_belief: bool = True  # direction shares weigh detections by how likely they are vehicles (sites.belief)
    # how reliable fronts are in each image, measured on its queued vehicles (sites.fronts), per class; where an
    # image has too few queued pairs (or this is off), front_scale below
    front_from_pairs: bool = True
    # how far a place's front accuracy may sit from heading_conf (factor on 2p - 1; sites.direction): the
    # range measured on five real scenes, each against a calibration fitted on the other four (0.59-1.19)
    front_scale: tuple[float, float] = (0.6, 1.2)
    # on a date flagged as snowy (sites.register.SNOW_FLAG_SHARE) the detections are left out of the register: the
    # bundled detector, trained without snow, reports thousands of false cars there. True only for a detector
    # validated on snow.
    counts_on_snow: bool = False
    # likewise on a date whose river is partly or wholly ice (sites.register.ICE_FLAG_SHARE): the bundled detector
    # reads ice floes and the ice edge as vehicles. True only for a detector validated on river ice.
    counts_on_ice: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


#: How much one clue of a kind says about where the crossing is (landings and decks most).
KIND_WEIGHT = {
    "bridge": 1.0, "track_to_water": 1.0, "cleared_bank": 0.8, "cleared_bar": 0.8, "vehicle_in_water": 0.6,
    "heavy_at_water": 0.6, "vehicles_on_bar": 0.6, "parking": 0.4, "cleared_area": 0.3, "ford_trace": 0.8,
    "ice_road": 0.8, "vehicle_on_ice": 0.6, "bar_track": 0.8, "fence_opening": 0.6, "landing_queue": 0.6,
}


@dataclass
class SiteGroup:
    """One site's clues over all dates, and what they add up to."""

    clues: list[Clue]
    #: ids of clues of a truck lot joined to the site (attach_staging): evidence, but they do not place it
    joined_lot: set = field(default_factory=set)
    km: float = 0.0
    banks: set = field(default_factory=set)
    status: str = "candidate"
    bank_evidence: str = ""
    kind: str = "crossing"
    score: float = 0.0
    outline: shapely.Geometry | None = None  # corridor CRS: the site's polygon, where its vehicles are counted

    @property
    def dates(self) -> list[str]:
        return sorted({c.date for c in self.clues})

    def evidence_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(c.kind for c in self.clues).items()))


#: clues that say only that vehicles wait or ground was cleared: they belong to the landing they touch
STAGING_KINDS = frozenset({"parking", "cleared_area"})
#: clues of bare ground only: part of a site's evidence, not of the outline its vehicles are counted in
BARE_GROUND_KINDS = frozenset({"cleared_area"})
#: clues that say traffic stands near the river or could reach it, not that it goes across: a group of only these
#: stays a candidate, whatever its banks. Two towns facing each other across the water give them: street parking and
#: gaps in a bank fence (scripts/evaluate_towns.py). A queue pointing across the river at a landing is not one of
#: them: trucks waiting there hide the track's end (sites.clues._landing_queues); cars queued in a town street
#: running down to the river make no queue clue (sites.clues.STREET_BUILT_UP)
NOT_CROSSING_KINDS = STAGING_KINDS | {"fence_opening"}  # fence lines are context, never clues


def group_clues(clues: list[Clue], params: SiteParams, left: str, right: str) -> list[SiteGroup]:
    """Sites (and one-bank candidates) in river order."""
    kept = sorted((c for c in clues if c.score >= params.min_clue_score), key=lambda c: c.km)
    groups: list[list[Clue]] = []
    for c in kept:
        if groups and c.km - groups[-1][-1].km <= params.link_km:
            groups[-1].append(c)
        else:
            groups.append([c])
    lots = {id(c) for g in groups if _is_lot(g, params.lot_vehicles) for c in g}
    out = []
    for members in attach_staging(groups, params.staging_attach_m, params.lot_attach_m, params.lot_vehicles):
        g = describe(SiteGroup(members, joined_lot={id(c) for c in members} & lots), params, left, right)
        if g.score >= params.min_score * (params.candidate_factor if g.status == "candidate" else 1.0):
            out.append(g)
    return sorted(out, key=lambda g: g.km)


#: what a truck lot's run may hold besides its parking: the lot's pad, and its edge where it reaches the bank
LOT_KINDS = STAGING_KINDS | {"cleared_bank"}


def _is_lot(run: list[Clue], lot_vehicles: int) -> bool:
    """A run that is a truck lot on one bank: parking of at least ``lot_vehicles``, most of them large vehicles or
    machines, with at most cleared ground beside it. A town's car park is not one (its cars would swell a crossing's
    counts)."""
    def trucks(c: Clue) -> bool:
        n = int(c.details.get("vehicles", 0))
        return n >= lot_vehicles and 2 * int(c.details.get("large", 0)) >= n

    return (len({c.country for c in run}) == 1 and all(c.kind in LOT_KINDS for c in run)
            and any(c.kind == "parking" and trucks(c) for c in run))


def attach_staging(groups: list[list[Clue]], attach_m: float, lot_attach_m: float = 0.0,
                   lot_vehicles: int = 15) -> list[list[Clue]]:
    """Chainage runs joined where a run of staging clues only (a lot, a cleared field) lies within attach_m of
    another run's clues: a lot far inland on a bend is cut from its landing's run by chainage alone. A truck lot
    (:func:`_is_lot`) reaches lot_attach_m, measured to the other run's clues on its own bank, and joins only a run
    that shows a crossing (a fence gap beside it is no landing).

    Nearest pairs join first, and a join never puts two runs with other evidence together: a lot between two
    crossings goes to the nearer one and does not merge them.
    """
    lots = {i for i, g in enumerate(groups) if lot_attach_m > 0 and _is_lot(g, lot_vehicles)}
    staging = {i for i, g in enumerate(groups) if all(c.kind in STAGING_KINDS for c in g)} | lots
    if not staging or max(attach_m, lot_attach_m if lots else 0.0) <= 0 or len(groups) < 2:
        return groups
    shapes = [shapely.unary_union([c.geometry for c in g]) for g in groups]
    tree = shapely.STRtree(shapes)

    def gap(i: int, j: int) -> float:
        if i not in lots:
            return float(shapes[i].distance(shapes[j]))
        if all(c.kind in NOT_CROSSING_KINDS for c in groups[j]):
            return float("inf")  # a lot serves a crossing: a fence gap or another lot is none
        bank = [c.geometry for c in groups[j] if c.country == groups[i][0].country]
        return float(shapes[i].distance(shapely.unary_union(bank))) if bank else float("inf")

    edges = sorted(
        (d, min(i, int(j)), max(i, int(j)))
        for i in sorted(staging)
        for reach in [max(attach_m, lot_attach_m) if i in lots else attach_m]
        for j in tree.query(shapes[i], predicate="dwithin", distance=reach)
        if int(j) != i and (d := gap(i, int(j))) <= reach
    )
    from scipy.cluster.hierarchy import DisjointSet

    sets = DisjointSet(range(len(groups)))
    has_site = {i: i not in staging for i in range(len(groups))}  # per set's root: evidence other than staging
    for _, i, j in edges:
        a, b = sets[i], sets[int(j)]
        if a == b or (has_site[a] and has_site[b]):
            continue
        sets.merge(a, b)
        has_site[sets[a]] = has_site[a] or has_site[b]
    return [sorted((c for i in members for c in groups[i]), key=lambda c: c.km) for members in sets.subsets()]


def describe(g: SiteGroup, params: SiteParams, left: str, right: str) -> SiteGroup:
    """Chainage, banks, status, kind, score and outline of a group of clues."""
    # where it crosses: the landings, decks and traces; a lot or cleared field joined to them (attach_staging) can
    # lie far along the river on a bend, so staging clues place the site only when it has nothing else
    placing = [c for c in g.clues if c.kind not in STAGING_KINDS and id(c) not in g.joined_lot] or g.clues
    w = np.array([c.score * KIND_WEIGHT.get(c.kind, 0.5) for c in placing])
    g.km = float(np.average([c.km for c in placing], weights=w if w.sum() > 0 else None))
    # bare ground alone (a field cleared, or harvested by October) does not mark a bank: it is context beside a
    # landing, so a harvested field facing a fence gap across the water is no crossing
    banks = {c.country for c in g.clues if c.kind in BANK_KINDS and c.kind not in BARE_GROUND_KINDS}
    bare_ground = [c for c in g.clues if c.kind in BARE_GROUND_KINDS]
    kinds = {c.kind for c in g.clues}
    if "bridge" in kinds:
        banks |= {left, right}  # a deck spans the channel
    # a ford trace or a route over a bar carries a landing over to the bank its far end reaches;
    # alone it says the same only when it runs from land to land (light water or a strip in the
    # middle of the river with no landing anywhere stays a candidate)
    lines = [c for c in g.clues if c.kind in CROSSING_LINES]
    if banks or any(c.details.get("ends") == ["land", "land"] for c in lines):
        banks |= {country for c in lines for country in c.details.get("end_countries", ())}
    g.banks = banks
    both = {left, right} <= banks
    crossing = bool(kinds - NOT_CROSSING_KINDS)
    g.status = "site" if crossing and (both or ("cleared_bar" in kinds and banks)) else "candidate"
    if both:
        g.bank_evidence = "both"
    elif banks:
        g.bank_evidence = next(iter(banks))
    else:  # bare ground only: the bank of its strongest patch (bare ground can lie on both banks)
        g.bank_evidence = max(bare_ground, key=lambda c: (c.score, c.country)).country if bare_ground else "water"
    g.kind = _kind(g, params)
    # the best clue of each kind (on each bank for bank kinds), summed and squashed: many kinds of
    # evidence agree, and landings facing each other across the water agree; many of one kind repeat
    best: dict[tuple[str, str], float] = {}
    for c in g.clues:
        key = (c.kind, c.country if c.kind in BANK_KINDS else "")
        best[key] = max(best.get(key, 0.0), c.score * KIND_WEIGHT.get(c.kind, 0.5))
    raw = sum(best.values())
    g.score = round(float(1.0 - np.exp(-raw)) * (1.0 if g.status == "site" else params.candidate_factor), 3)
    # where the site's vehicles are counted: bare ground (a lot's pad, a field harvested by October) only where it
    # touches the site's other clues, so a field 60-350 m off that chainage alone links to the landing does not
    # stretch the outline over the village beside it
    core = shapely.unary_union([c.geometry for c in g.clues if c.kind not in BARE_GROUND_KINDS])
    bare = [c.geometry for c in bare_ground if core.is_empty or c.geometry.distance(core) <= params.staging_attach_m]
    g.outline = shapely.unary_union([core, *bare]).convex_hull.buffer(params.outline_buffer_m)
    return g


def _kind(g: SiteGroup, params: SiteParams) -> str:
    def area(kind: str) -> float:
        return max((float(c.details.get("area_m2", 0.0)) for c in g.clues if c.kind == kind), default=0.0)

    kinds = {c.kind for c in g.clues}
    if area("cleared_bar") >= params.camp_m2 or "vehicles_on_bar" in kinds:
        return "sandbar_camp"
    if "bridge" in kinds:
        return "bridge"
    # vehicles parked in rows, or a large cleared patch by a landing (a lot may be cut from
    # its track by the bank road); a bridge site's bare autumn fields are caught above
    parked = max((int(c.details.get("vehicles", 0)) for c in g.clues if c.kind == "parking"), default=0)
    if parked >= params.lot_vehicles or max(area("cleared_area"), area("cleared_bank"), area("track_to_water")) >= params.parking_m2:
        return "parking_field"
    if g.status == "site":
        return "ford"  # landings facing each other with no deck: vehicles drive (or are carried) across
    return "crossing"
