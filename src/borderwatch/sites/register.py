"""The site register: stable ids, numbers in river order, one observation per site and date.

A register belongs to a river (the root corridor: ``yalu-upper`` for any stretch
of it), so chainages and numbers count from the same origin whatever stretch a
run covered. Ids are given once, at first sighting, and kept: a rebuild (a new
date, a rerun) matches its groups to the registered sites by chainage. Numbers
count the confirmed sites in river order and, once given, stay (sites.numbering):
a site confirmed later between two numbered ones is labelled like 12a, and
``renumber_register`` starts a clean 1 .. N edition when the user asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from borderwatch.corridor.model import Corridor
from borderwatch.sites.belief import belief_for
from borderwatch.sites.clues import VEHICLES, detection_clues, detection_points, evidence_clues
from borderwatch.sites.fronts import front_reliability
from borderwatch.sites.imaged import MIN_IMAGED_SHARE, imaged_areas, imaged_share
from borderwatch.sites.cluster import SiteGroup, SiteParams, group_clues
from borderwatch.sites.numbering import SiteNumber, assign_numbers, site_label
from borderwatch.sites.observe import observe
from borderwatch.sites.summary import summarise

SCALE_ORDER = {"large": 3, "small": 2, "active": 1, "inactive": 0}
#: tiles with at least this much imagery in the watched area and no water at all get a warning
NO_WATER_MIN_COVERAGE = 0.5
#: a date whose river surface is at least this much ice is called frozen in the register's warnings
FROZEN_SHARE = 0.5
#: a date whose river surface is at least this much ice has its detections left out, as a snowy date's: the bundled
#: detector, trained without river ice, reads floes and the ragged edge of freezing or breaking ice as vehicles (on
#: synthetic site images of 28 March, break-up without snow, 4821 detections for 3126 vehicles, car precision 0.29,
#: while their snow share stayed 0.04, under SNOW_FLAG_SHARE; 10 December: 5295 for 3110). A pipeline run over km 30-33
#: of development seed 1 at 0.8 m read the river 33 % ice on 28 March (snow 0.004: not flagged) and 40 % on 10 December.
#: Inside the freeze season only (the land cover offers ice nowhere else), so a summer date never trips it.
ICE_FLAG_SHARE = 0.1
#: a date whose watched area is at least this much bright, colourless ground (imagery.snow: snow, ice
#: or cloud) is flagged: the detector over-counts cars on snow, and snow hides tracks. Synthetic snow dates read
#: 0.4-0.8 at crossing sites and 0.58-0.60 over a stretch through Hyesan, snow-free ones under 0.02 and 0.001; grey
#: concrete passes too (real Munich city-block images: median 0.12, one 0.44), hence a share of the whole watched area.
SNOW_FLAG_SHARE = 0.25


@dataclass
class Register:
    """What update_register wrote (rows as stored) and what the user should know about it."""

    corridor: str
    sites: list[dict]
    observations: list[dict]
    summary: dict
    warnings: list[str] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    renumbered: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (site, label was, is)


def register_name(corridor: Corridor) -> str:
    """The river a stretch belongs to: ``yalu-upper[20:35]`` -> ``yalu-upper``."""
    return _register_base(corridor)[0]


def _register_base(corridor: Corridor) -> tuple[str, Corridor, float]:
    """(register name, its corridor, chainage of this corridor's start on it).

    A stretch of a bundled corridor shares the bundled corridor's register and
    origin (``yalu-upper[20:35]`` starts at km 20 of ``yalu-upper``); any other
    corridor is a register of its own.
    """
    from borderwatch.corridor.catalog import load_corridor
    from borderwatch.errors import BorderwatchError

    root = corridor.name.split("[", 1)[0]
    if root == corridor.name:
        return root, corridor, 0.0
    try:
        whole = load_corridor(root)
    except BorderwatchError:
        return corridor.name, corridor, 0.0
    start = corridor.line.coords[0]
    km, _ = whole.locate_xy(start[0], start[1])
    return root, whole, float(km[0])


def site_id_for(river: str, km: float, taken: set[str]) -> str:
    """A readable id from the first sighting's chainage (metres), unique within the store."""
    base = f"{river}:km{km:07.3f}"
    sid, n = base, 1
    while sid in taken:
        n += 1
        sid = f"{base}-{n}"
    return sid


def update_register(
    corridor: Corridor,
    store,
    result_key: tuple[str, str],
    *,
    params: SiteParams | None = None,
) -> Register:
    """Cluster the stored evidence (and detections) of one result key into sites; write sites and observations.

    Everything is written in one transaction: an error leaves the stored register as it was.
    """
    from borderwatch.pipeline.run import convergence_deg

    params = params or SiteParams()
    pkey, vkey = result_key
    # chainage on the whole river: a stretch's watched area can reach round a bend into
    # another stretch, and only the whole river puts such a clue at its true chainage
    river, whole, base_km = _register_base(corridor)
    span = (base_km - 1e-9, base_km + corridor.length_km + 1e-9)
    tiles = [r for r in store.tile_results() if r["param_hash"] == pkey and r["versions_hash"] == vkey]
    dates = sorted({str(r["date"]) for r in tiles})
    warnings = check_resolution(tiles) + _check_water(corridor, tiles)
    snow = snow_cover(tiles)
    snowy = {d for d, share in snow.items() if share >= SNOW_FLAG_SHARE}
    ice = river_ice(tiles)
    icy = {d for d, share in ice.items() if share >= ICE_FLAG_SHARE}
    warnings += _check_ice(ice)
    detected, detector = _detection_ran(store, tiles)
    warnings += _check_snow(snow, detected=detected, withheld=detected and not params.counts_on_snow)
    warnings += _check_ice_counts(ice, detected=detected, withheld=detected and not params.counts_on_ice)
    if not any("landcover" in (r.get("stats") or {}) for r in tiles):
        warnings.append("no land cover in these results (run with --landcover, on scenes that cover the river): no evidence, no sites")
        return Register(river, [], [], summarise([], [], corridor.length_km, corridor.name), warnings)
    belief = belief_for(detector) if params.weigh_by_belief else None
    clues = [c for c in evidence_clues(whole, store.current_rows("evidence", pkey, vkey)) if span[0] <= c.km <= span[1]]
    dets = [d for d in detection_points(whole, store.current_rows("detections", pkey, vkey)) if span[0] <= d["km"] <= span[1]]
    withheld = _withheld(dates, snowy, icy, params) if detected else {}
    dets = [d for d in dets if str(d["date"]) not in withheld]  # neither counts nor clues from such a date's detections
    dets_by_date: dict[str, list[dict]] = {}
    for d in dets:
        dets_by_date.setdefault(str(d["date"]), []).append(d)
    if params.front_from_pairs:
        for day in dets_by_date.values():
            _measure_fronts(whole, day)
    for day in dets_by_date.values():
        here = convergence_deg(whole, float(np.mean([d["x"] for d in day])), float(np.mean([d["y"] for d in day])))
        clues += detection_clues(whole, day, convergence_deg=here)
    groups = group_clues(clues, params, corridor.left_country, corridor.right_country)
    imaged = imaged_areas(tiles, store.scenes(), whole)
    run_by_date = {}
    for r in tiles:
        run_by_date[str(r["date"])] = max(run_by_date.get(str(r["date"]), ""), r["run_id"])

    with store.transaction():
        existing = {r["site_id"]: r for r in store.read_rows("sites", {"corridor": river})}
        in_span = {sid: r for sid, r in existing.items() if span[0] <= (r["chainage_km"] or -1) <= span[1]}
        matched = _match(groups, in_span, params.match_km)
        taken = {r["site_id"] for r in store.read_rows("sites")}
        new_ids = []
        rows, observations = [], []
        for i, g in enumerate(groups):
            km = round(g.km, 4)
            sid = matched.get(i)
            if sid is None:
                sid = site_id_for(river, km, taken)
                taken.add(sid)
                new_ids.append(sid)
            obs = []
            turn = convergence_deg(whole, float(g.outline.centroid.x), float(g.outline.centroid.y))
            for date in dates:
                shown = imaged_share(g.outline, imaged.get(date))  # None: unknown (older results)
                if shown is not None and shown < MIN_IMAGED_SHARE:
                    continue  # the date's imagery does not show the site: not seen, not idle
                counts, activity, scale = observe(
                    whole, g.outline, dets_by_date.get(date, []), [c for c in g.clues if c.date == date],
                    detected=detected and date not in withheld, convergence_deg=turn, belief=belief,
                    front_scale=tuple(params.front_scale))
                # the date's share of snow-like ground over the stretch (None: not measured) and whether it is flagged
                counts["snow_cover"] = round(snow[date], 3) if date in snow else None
                counts["snow_flag"] = (date in snowy) if date in snow else None
                # the share of the river's surface (water and ice) that the land cover read as ice (None: not measured)
                counts["river_ice"] = round(ice[date], 3) if date in ice else None
                # the share of the site's outline the date's imagery shows (counts below 1 may be low)
                counts["imaged_share"] = None if shown is None else round(shown, 3)
                if date in withheld:  # the detector ran, but its counts are not given: unknown, not zero
                    counts["detections_run"] = True
                    counts["counts_withheld"] = withheld[date]  # why: "snow", "river ice" or both
                obs.append({"site_id": sid, "date": date, "run_id": run_by_date.get(date), "counts": counts,
                            "activity_score": activity, "scale": scale})
            seen = [o["date"] for o in obs if o["scale"] != "inactive"] or g.dates
            rows.append({
                "site_id": sid, "corridor": river, "chainage_km": km, "kind": g.kind,
                "scale": max((o["scale"] for o in obs), key=lambda s: SCALE_ORDER[s], default="inactive"),
                "bank_evidence": g.bank_evidence, "status": g.status, "score": g.score,
                "first_seen": min(seen), "last_seen": max(seen),
                "details": _details(g, params, result_key),
                "geometry": whole.to_lonlat(g.outline),
            })
            observations += obs
        # numbers: confirmed sites in river order, over the whole river's register
        kept = set(matched.values())
        for sid in in_span:
            if sid not in kept:  # no longer found on this stretch with these results
                store.delete_rows("observations", {"site_id": sid})
                store.delete_rows("sites", {"site_id": sid})
        others = [r for sid, r in existing.items() if sid not in in_span]  # other stretches, kept as they are
        number, lettered = _number_sites(store, river, others + rows)
        present = {r["site_id"] for r in others + rows}
        renumbered = [(sid, site_label(r), _label(number.get(sid))) for sid, r in existing.items()
                      if sid in present and site_label(r) != _label(number.get(sid))]
        for r in rows:
            r.update(_number_columns(number.get(r["site_id"])))
            if r["site_id"] in existing:
                store.update_rows("sites", {"site_id": r["site_id"]}, {k: v for k, v in r.items() if k != "site_id"})
            else:
                store.write_rows("sites", [r])
            for date in dates:
                store.delete_rows("observations", {"site_id": r["site_id"], "date": date})
        for r in others:
            if site_label(r) != _label(number.get(r["site_id"])):
                store.update_rows("sites", {"site_id": r["site_id"]}, _number_columns(number.get(r["site_id"])))
        store.write_rows("observations", observations)
        all_sites = sorted(store.read_rows("sites", {"corridor": river}), key=lambda r: r["chainage_km"])
        ids = {r["site_id"] for r in all_sites}
        all_obs = [o for o in store.read_rows("observations") if o["site_id"] in ids]
    if renumbered and existing:
        moved = ", ".join(f"{sid} {a or '-'}->{b or '-'}" for sid, a, b in renumbered[:8])
        warnings.append(f"site numbers changed (a site no longer confirmed, or two sites changed places): {moved}")
    if lettered:
        shown = ", ".join(f"{number[sid].label} ({sid})" for sid in lettered[:8]) + (" ..." if len(lettered) > 8 else "")
        warnings.append(f"{len(lettered)} new site(s) lie between (or before) sites numbered earlier and were given "
                        f"letters so that no published number changes: {shown}; "
                        "'borderwatch sites --renumber' numbers every site 1..N in river order again")
    # the summary covers the stretch this build analysed (its sites, its length)
    here = [r for r in all_sites if span[0] <= r["chainage_km"] <= span[1]]
    here_ids = {r["site_id"] for r in here}
    summary = summarise(here, [o for o in all_obs if o["site_id"] in here_ids], corridor.length_km, corridor.name)
    return Register(river, all_sites, all_obs, summary, warnings, new_ids, renumbered)


def renumber_register(store, river: str) -> list[tuple[str, str | None, str]]:
    """Start a new numbering edition: the confirmed sites of ``river`` numbered 1 .. N in river order.

    Numbers published from the earlier edition stop applying, so this runs only when
    the user asks for it (``borderwatch sites --renumber``). The earlier editions stay
    in the ledger. Returns (site id, label was, label now) in river order; with no
    confirmed site there is nothing to number and no edition starts.
    """
    with store.transaction():
        sites = store.read_rows("sites", {"corridor": river})
        confirmed = sorted((r for r in sites if r["status"] == "site"), key=lambda r: r["chainage_km"])
        edition = _ledger(store, river)[0] + 1
        numbering = assign_numbers([r["site_id"] for r in confirmed], {})
        _record(store, river, edition, confirmed, numbering.numbers)
        for r in confirmed:
            store.update_rows("sites", {"site_id": r["site_id"]}, _number_columns(numbering.numbers[r["site_id"]]))
    return [(r["site_id"], site_label(r), numbering.numbers[r["site_id"]].label) for r in confirmed]


def _ledger(store, river: str) -> tuple[int, list[tuple[str, SiteNumber]]]:
    """The river's current numbering edition (1 before any renumbering) and the numbers given in it, oldest first."""
    rows = store.read_rows("site_numbers", {"corridor": river})  # in fid order: oldest first
    edition = max((int(r["edition"]) for r in rows), default=1)
    return edition, [(r["site_id"], SiteNumber(int(r["number"]), str(r["suffix"] or ""))) for r in rows
                     if int(r["edition"]) == edition]


def _number_sites(store, river: str, sites: list[dict]) -> tuple[dict[str, SiteNumber], list[str]]:
    """Numbers for the confirmed ``sites`` of a river: the ledger's numbers kept, new ones recorded in it.

    Also returns the sites newly given a lettered number (12a), which the build reports.
    """
    edition, given = _ledger(store, river)
    confirmed = sorted((r for r in sites if r["status"] == "site"), key=lambda r: r["chainage_km"])
    # a site's latest number in the ledger is the one it holds; every number given stays taken
    numbering = assign_numbers([r["site_id"] for r in confirmed], dict(given), [n for _, n in given])
    fresh = set(numbering.new) | {sid for sid, _, _ in numbering.changed}
    _record(store, river, edition, [r for r in confirmed if r["site_id"] in fresh], numbering.numbers)
    return numbering.numbers, [sid for sid in numbering.new if numbering.numbers[sid].suffix]


def _record(store, river: str, edition: int, sites: list[dict], numbers: dict[str, SiteNumber]) -> None:
    store.write_rows("site_numbers", [
        {"corridor": river, "edition": edition, "label": numbers[r["site_id"]].label, "number": numbers[r["site_id"]].number,
         "suffix": numbers[r["site_id"]].suffix, "site_id": r["site_id"], "chainage_km": r["chainage_km"]}
        for r in sites
    ])


def _label(n: SiteNumber | None) -> str | None:
    return None if n is None else n.label


def _number_columns(n: SiteNumber | None) -> dict:
    return {"number": None if n is None else n.number, "label": _label(n)}


def _measure_fronts(corridor: Corridor, dets: list[dict]) -> None:
    """In place: each vehicle of one date gets ``front_reliability``, how reliable fronts of its class were in its
    image (scene), measured on the image's queued pairs (sites.fronts); None where there were too few pairs."""
    from borderwatch.pipeline.run import convergence_deg

    groups: dict[tuple, list[dict]] = {}
    for d in dets:
        if d["class"] in VEHICLES and d.get("heading_deg") is not None:
            groups.setdefault((d.get("scene_id"), d["class"]), []).append(d)
    for group in groups.values():
        # vehicles on a bar stand in a camp, parked any way (rows too far apart to count as a block): no pairs
        members = [d for d in group if d.get("ground") != "bar"]
        xs = np.array([m["x"] for m in members])
        ys = np.array([m["y"] for m in members])
        turn = convergence_deg(corridor, float(xs.mean()), float(ys.mean())) if len(members) > 1 else 0.0
        rel = front_reliability(xs, ys, np.array([float(m["heading_deg"]) for m in members]) - turn,
                                np.array([float(m.get("length_m") or np.nan) for m in members]),
                                [m.get("heading_conf") for m in members])
        for m in group:
            m["front_reliability"] = rel


def _details(g: SiteGroup, params: SiteParams, result_key) -> dict:
    kms = [c.km for c in g.clues]
    return {
        "evidence": g.evidence_counts(),
        "span_km": [round(min(kms), 4), round(max(kms), 4)],
        "countries": sorted(g.banks),
        "dates": g.dates,
        "sources": {
            "evidence_fids": sorted({f for c in g.clues if c.source == "evidence" for f in c.refs}),
            "detection_fids": sorted({f for c in g.clues if c.source == "detections" for f in c.refs}),
        },
        "result_key": list(result_key),
        "params": params.to_dict(),
    }


def _match(groups: list[SiteGroup], existing: dict[str, dict], match_km: float) -> dict[int, str]:
    """Group index -> registered site id, nearest pairs first, one to one, within match_km."""
    pairs = sorted(
        (abs(g.km - float(r["chainage_km"])), i, sid)
        for i, g in enumerate(groups)
        for sid, r in existing.items()
        if abs(g.km - float(r["chainage_km"])) <= match_km
    )
    out: dict[int, str] = {}
    used: set[str] = set()
    for _, i, sid in pairs:
        if i not in out and sid not in used:
            out[i] = sid
            used.add(sid)
    return out


def _detection_ran(store, tiles: list[dict]) -> tuple[bool, str | None]:
    """Whether these results include detection, and the detector's recorded name (one result key: one detector)."""
    runs = {r["run_id"]: r for r in store.runs()}
    ran = [runs.get(t["run_id"]) or {} for t in tiles]
    ran = [r for r in ran if bool((r.get("parameters") or {}).get("detect"))]
    names = sorted({str((r.get("model_versions") or {}).get("detector") or "") for r in ran} - {""})
    return bool(ran), (names[0] if len(names) == 1 else None)


def snow_cover(tiles: list[dict]) -> dict[str, float]:
    """Per date, the share of the watched area's imagery that looks snow-covered (tile stats ``snow_share``, weighed
    by each tile's valid pixels). Dates whose tiles were analysed before the share was recorded are left out."""
    return _per_date(tiles, lambda st: None if st.get("snow_share") is None else (float(st["snow_share"]), 1.0))


def river_ice(tiles: list[dict]) -> dict[str, float]:
    """Per date, the share of the river's surface (water and ice) that the tiles' land cover read as ice (weighed by
    each tile's valid pixels). Dates with no land cover, or neither water nor ice, are left out."""
    def part(st: dict):
        lc = st.get("landcover")
        return None if lc is None else (float(lc.get("ice", 0.0)), float(lc.get("ice", 0.0)) + float(lc.get("water", 0.0)))

    return _per_date(tiles, part)


def _per_date(tiles: list[dict], part) -> dict[str, float]:
    """Per date, sum(numerator x valid pixels) / sum(denominator x valid pixels) over the tiles where
    ``part(stats)`` gives (numerator, denominator); dates where it never does, or the denominator is 0, are left out."""
    acc: dict[str, list[float]] = {}
    for r in tiles:
        st = r.get("stats") or {}
        n = float(st.get("valid_pixels") or 0)
        got = part(st) if n > 0 else None
        if got is not None:
            a = acc.setdefault(str(r["date"]), [0.0, 0.0])
            a[0] += got[0] * n
            a[1] += got[1] * n
    return {d: a[0] / a[1] for d, a in sorted(acc.items()) if a[1] > 0}


def _check_ice(share: dict[str, float]) -> list[str]:
    return [f"{date}: the river looks frozen ({round(s, 3):.0%} of its surface is ice): vehicles cross on the ice, so look "
            "for ice roads rather than ford traces, and read fewer fords as a change of route, not of traffic"
            for date, s in share.items() if s >= FROZEN_SHARE]


def _withheld(dates: list[str], snowy: set[str], icy: set[str], params: SiteParams) -> dict[str, str]:
    """Date -> why its detections are left out of the register (snow, river ice), unless the params keep them."""
    out = {}
    for d in dates:
        why = [w for w, on in (("snow", d in snowy and not params.counts_on_snow),
                               ("river ice", d in icy and not params.counts_on_ice)) if on]
        if why:
            out[d] = " and ".join(why)
    return out


def _check_ice_counts(share: dict[str, float], *, detected: bool, withheld: bool) -> list[str]:
    if not detected:
        return []
    what = ("so this date's vehicle counts are left out of the register (unknown, not zero; the detections stay in the "
            "store and detections.geojson)" if withheld else
            "its counts are kept (counts_on_ice): check vehicles in the river by eye")
    return [f"{date}: {round(s, 3):.0%} of the river's surface is ice; the bundled detector, trained without river ice, "
            f"reads ice floes and the edge of the ice as vehicles, {what}" for date, s in share.items() if s >= ICE_FLAG_SHARE]


def _check_snow(cover: dict[str, float], *, detected: bool, withheld: bool) -> list[str]:
    if not detected:
        what = "snow hides tracks and fords: fewer traces there need not mean less traffic"
    elif withheld:
        what = ("the bundled detector, trained without snow, reports many false cars there, so this date's vehicle "
                "counts are left out of the register (unknown, not zero; the detections stay in the store and "
                "detections.geojson)")
    else:
        what = ("its counts are kept (counts_on_snow): do not read them against snow-free dates as a change in "
                "traffic")
    return [f"{date}: {round(share, 3):.0%} of the watched area looks snow-covered (bright, colourless ground: snow, ice "
            f"or cloud); {what}" for date, share in cover.items() if share >= SNOW_FLAG_SHARE]


def check_resolution(tiles: list[dict]) -> list[str]:
    """Dates whose tiles had land cover but were analysed, or imaged, too coarse for crossing evidence (their stats
    say evidence None): a warning per date naming the resolution, so an empty register is not read as no crossings."""
    from borderwatch.analysis.crossings import EVIDENCE_MAX_GSD_M

    coarse: dict[str, dict[str, set]] = {}
    for r in tiles:
        st = r.get("stats") or {}
        if "landcover" in st and "evidence" in st and st["evidence"] is None:
            seen = coarse.setdefault(str(r["date"]), {"tiles": set(), "analysed": set(), "imaged": set()})
            seen["tiles"].add(r["tile_id"])
            seen["analysed"].add(float(st.get("gsd_m") or 0.0))
            if st.get("source_gsd_m") is not None:
                seen["imaged"].add(float(st["source_gsd_m"]))
    out = []
    for date, seen in sorted(coarse.items()):
        analysed = ", ".join(f"{g:g}" for g in sorted(seen["analysed"]))
        imaged = sorted(g for g in seen["imaged"] if g > max(EVIDENCE_MAX_GSD_M, *seen["analysed"]))
        where = f"analysed at {analysed} m" + (f" from imagery of {', '.join(f'{g:g}' for g in imaged)} m" if imaged else "")
        out.append(f"{date}: {len(seen['tiles'])} tile(s) {where}, coarser than the {EVIDENCE_MAX_GSD_M:g} m crossing "
                   "evidence needs (tracks and decks are 5-10 m wide): land cover only there, no evidence and no sites "
                   "(sites are measured on imagery of 0.5-0.8 m analysed at --gsd 0.5)")
    return out


def _check_water(corridor: Corridor, tiles: list[dict]) -> list[str]:
    """Tiles on the river line with imagery but no water, ice or bar found: nothing there can be a site."""
    line = corridor.line_lonlat
    dry: dict[str, list[str]] = {}
    for r in tiles:
        st = r.get("stats") or {}
        lc = st.get("landcover")
        if lc is None or st.get("coverage", 0) < NO_WATER_MIN_COVERAGE:
            continue
        if not any(lc.get(cover, 0) for cover in ("water", "ice", "sandbar")) and r["geometry"].intersects(line):
            dry.setdefault(str(r["date"]), []).append(r["tile_id"])
    out = []
    for date, ids in sorted(dry.items()):
        shown = ", ".join(sorted(ids)[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        out.append(f"{date}: no water found in {len(ids)} tile(s) on the river line ({shown}); "
                   "no sites there (wrong area, cloud, or imagery the land cover cannot read)")
    return out
