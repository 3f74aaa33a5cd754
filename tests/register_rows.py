"""A small crossing-site register (sites + observations rows) written into a test store.

Shared by the output, web and CLI tests so that they read the same rows the
site register stores (schema version 2), without running the pipeline.
"""

from __future__ import annotations

from shapely.geometry import LineString

from borderwatch.store.store import corridor_record

DATES = ("2025-07-31", "2025-09-13")

#: number (confirmed sites only, in river order), km on the stretch, kind, scale, banks, status, score
SITES = [
    (1, 1.2, "ford", "large", "both", "site", 0.91),
    (2, 3.5, "bridge", "small", "both", "site", 0.74),
    (None, 6.0, "parking_field", "small", "KP", "candidate", 0.31),
    (3, 8.4, "sandbar_camp", "inactive", "water", "site", 0.52),
]


def site_polygon(corridor, km: float, half_across_m: float = 350.0, half_along_m: float = 120.0):
    """A lon/lat polygon spanning both banks and the water at a chainage, like a clustered site."""
    across = LineString([corridor.point_at(km, half_across_m), corridor.point_at(km, -half_across_m)])
    return corridor.to_lonlat(across.buffer(half_along_m, cap_style="flat"))


def counts(large: int, small: int, heavy: int, toward_kp: int, toward_cn: int, **extra) -> dict:
    moving = toward_kp + toward_cn
    out = {
        "small_vehicle": small, "large_vehicle": large, "heavy_equipment": heavy, "vehicles": large + small + heavy,
        "heavy_in_water": extra.get("heavy_in_water", 0), "vehicles_on_sandbar": extra.get("vehicles_on_sandbar", 0),
        "parking_vehicles": extra.get("parking_vehicles", 0), "parking_area_m2": extra.get("parking_area_m2", 0.0),
        "cleared_area_m2": extra.get("cleared_area_m2", 0.0),
        "toward": {"KP": toward_kp, "CN": toward_cn},
        "share_toward": {"KP": toward_kp / moving, "CN": toward_cn / moving} if moving else None,
        "evidence": extra.get("evidence", {"track": 2}),
    }
    for key in ("share_interval", "share_from", "front_reliability", "longest_queue", "convoy", "convoy_subclass",
                "snow_cover", "snow_flag", "counts_withheld", "river_ice", "imaged_share", "detectors"):
        if key in extra:
            out[key] = extra[key]
    return out


def make_register(store, corridor, *, km_offset: float = 0.0, shuffled: bool = True) -> tuple[list[dict], list[dict]]:
    """Write four sites (the third a candidate, unnumbered) and their observations on two dates; returns the rows.

    As the register stores them: under the river's name (``yalu-upper`` for a
    stretch of it) with chainages from the river's origin (``km_offset`` = where
    the stretch starts). Site 1 also gets an older observation for the first
    date (a rerun) that readers must ignore; the candidate is seen on the second
    date only.
    """
    river = corridor.name.split("[", 1)[0]
    store.upsert_corridor(*corridor_record(corridor))
    runs = [store.start_run(corridor.name, {"test": i}, {"borderwatch": "test"}) for i in range(2)]
    sites = []
    for number, km, kind, scale, banks, status, score in SITES:
        first = DATES[1] if status == "candidate" else DATES[0]
        sites.append({
            "site_id": f"{river}:km{km + km_offset:07.3f}", "number": number, "corridor": river,
            "chainage_km": km + km_offset, "kind": kind, "scale": scale, "bank_evidence": banks, "status": status, "score": score,
            "first_seen": first, "last_seen": DATES[1],
            "details": {"evidence": {"track": 3, kind: 1}, "span_km": [km + km_offset - 0.1, km + km_offset + 0.1],
                        "countries": ["KP", "CN"]},
            "geometry": site_polygon(corridor, km),
        })
    store.write_rows("sites", sites[::-1] if shuffled else sites)
    ids = [s["site_id"] for s in sites]
    obs = [
        # an older observation of site 1 on the first date, replaced by the next one
        {"site_id": ids[0], "date": DATES[0], "run_id": runs[0], "activity_score": 0.2, "scale": "small",
         "counts": counts(0, 1, 0, 1, 0)},
        {"site_id": ids[0], "date": DATES[0], "run_id": runs[1], "activity_score": 0.88, "scale": "large",
         "counts": counts(5, 8, 1, 6, 2, heavy_in_water=1, parking_area_m2=1520.5, cleared_area_m2=8800.0,
                          share_interval={"KP": [0.42, 0.95], "CN": [0.05, 0.58]},
                          share_from={"small_vehicle": 3, "large_vehicle": 5},
                          front_reliability={"large_vehicle": {"factor": 1.3, "range": [1.12, 1.6], "pairs": 81,
                                                               "agree": 0.963, "expected": 0.811, "applied": 1.12},
                                             "small_vehicle": None},
                          longest_queue=9, convoy=7, convoy_subclass="dump_truck", snow_cover=0.01, snow_flag=False,
                          river_ice=0.12)},
        # the second date was snowy (sites.register flags it: car counts doubtful), the river frozen
        {"site_id": ids[0], "date": DATES[1], "run_id": runs[1], "activity_score": 0.93, "scale": "large",
         "counts": counts(7, 10, 2, 3, 9, heavy_in_water=2, snow_cover=0.58, snow_flag=True, river_ice=0.93,
                          detectors=["borderwatch-vehicles-jpeg@0.2.4+front-jpeg-1+screen-1",
                                     "borderwatch-vehicles@0.2.3+front-4.1+screen-1"])},
        {"site_id": ids[1], "date": DATES[0], "run_id": runs[1], "activity_score": 0.41, "scale": "small",
         "counts": counts(0, 4, 0, 0, 0)},
        # the second date's image ends across the bridge: 70 % of it imaged, its counts may be low
        {"site_id": ids[1], "date": DATES[1], "run_id": runs[1], "activity_score": 0.5, "scale": "small",
         "counts": counts(1, 3, 0, 2, 2, imaged_share=0.7)},
        {"site_id": ids[2], "date": DATES[1], "run_id": runs[1], "activity_score": 0.22, "scale": "small",
         "counts": counts(0, 3, 0, 0, 1, parking_vehicles=3, parking_area_m2=640.0)},
        {"site_id": ids[3], "date": DATES[0], "run_id": runs[1], "activity_score": 0.05, "scale": "inactive",
         "counts": counts(0, 0, 0, 0, 0)},
        {"site_id": ids[3], "date": DATES[1], "run_id": runs[1], "activity_score": 0.1, "scale": "inactive",
         "counts": counts(0, 0, 0, 0, 0, vehicles_on_sandbar=0)},
    ]
    store.write_rows("observations", obs)
    return sites, obs
