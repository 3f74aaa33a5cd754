"""What a run leaves in its output folder: KML for Google Earth, a web map, per-date overviews, detections, sites.

Everything here is derived from the store and the scenes, never from ground
truth, so the same files can be regenerated from a store alone.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import shapely
from shapely.geometry import mapping

from borderwatch.corridor.model import Corridor
from borderwatch.fileio import write_atomically
from borderwatch.imagery.scene import Scene

CLASS_COLOURS = {"small_vehicle": "#00e5ff", "large_vehicle": "#ffd600", "heavy_equipment": "#ff1744"}
CLASS_ORDER = ("small_vehicle", "large_vehicle", "heavy_equipment")
#: Crossing evidence on the map: marks in the water blue, landings and tracks orange, cleared areas brown, fences grey.
EVIDENCE_COLOURS = {
    "bridge": "#d500f9", "ford_trace": "#2979ff", "ice_road": "#304ffe", "cleared_bar": "#00b0ff", "track_to_water": "#ff9100",
    "cleared_bank": "#ffab40", "cleared_area": "#a1887f", "fence_opening": "#ff3d00", "fence_line": "#9e9e9e",
}


def detections_geojson(detections: list[dict], *, with_front: bool = True) -> dict:
    """Detections as GeoJSON (EPSG:4326) with a short line from each centre to its front."""
    feats = []
    for d in detections:
        props = {
            "class": d["class"], "subclass": d.get("subclass"), "score": d["score"], "date": str(d["date"]),
            "heading_deg": d["heading_deg"], "heading_conf": d.get("heading_conf"), "length_m": d["length_m"],
            "width_m": d["width_m"], "country": d.get("country"), "chainage_km": d.get("chainage_km"),
            "scene_id": d.get("scene_id"), "tile_id": d["tile_id"], "run_id": d["run_id"], "detector": d.get("detector"),
            "colour": CLASS_COLOURS.get(d["class"], "#ffffff"),
        }
        poly = d["geometry"]
        feats.append({"type": "Feature", "geometry": mapping(poly), "properties": props})
        if with_front:
            feats.append({"type": "Feature", "geometry": mapping(_front_line(poly)), "properties": {**props, "part": "front"}})
    return {"type": "FeatureCollection", "features": feats}


def evidence_geojson(rows: list[dict]) -> dict:
    """Stored crossing evidence as GeoJSON (EPSG:4326): outline, kind, score and where it came from."""
    feats = []
    for r in rows:
        details = {k: v for k, v in (r.get("details") or {}).items() if not k.endswith("_lonlat")}
        props = {
            "kind": r["kind"], "score": r["score"], "date": str(r["date"]), "country": r.get("country"),
            "chainage_km": r.get("chainage_km"), "scene_id": r.get("scene_id"), "tile_id": r.get("tile_id"),
            "run_id": r.get("run_id"), "details": json.dumps(details, sort_keys=True, default=str),
            "colour": EVIDENCE_COLOURS.get(r["kind"], "#ffffff"),
        }
        feats.append({"type": "Feature", "geometry": mapping(r["geometry"]), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _front_line(poly) -> shapely.LineString:
    """Centre to the middle of the front edge (corners are front-left, front-right, rear-right, rear-left)."""
    c = list(poly.exterior.coords)[:4]
    centre = poly.centroid
    front = ((c[0][0] + c[1][0]) / 2, (c[0][1] + c[1][1]) / 2)
    return shapely.LineString([(centre.x, centre.y), front])


def counts_per_km(detections: list[dict], length_km: float) -> list[list]:
    """Rows of [km bin, small, large, heavy, total] for every whole km of the stretch."""
    n_bins = max(1, math.ceil(length_km - 1e-9))
    counts = Counter((min(int(d["chainage_km"]), n_bins - 1), d["class"]) for d in detections if d.get("chainage_km") is not None)
    rows = []
    for k in range(n_bins):
        row = [counts[(k, c)] for c in CLASS_ORDER]
        rows.append([f"{k}–{k + 1}", *row, sum(row)])
    total = [sum(r[i] for r in rows) for i in range(1, 5)]
    rows.append(["all", *total])
    return rows


def write_run_outputs(
    out_dir: Path,
    corridor: Corridor,
    scenes: list[Scene],
    store,
    progress: Callable[[int, int], None] | None = None,
    *,
    result_key: tuple[str, str] | None = None,
    with_detections: bool = True,
) -> list[Path]:
    """corridor.kml, overviews/<date>.png, detections.geojson, evidence.geojson, sites.geojson and index.html
    for one run folder.

    Crossing evidence, and detections unless ``with_detections`` is False (a run
    without the detector), are written for ``result_key`` (the run's parameter/version
    hashes); crossing sites whenever the store's register for this river has
    sites on this corridor (stretch), whatever the run computed, since the
    register spans all dates.
    """
    from borderwatch.outputs.kml import write_corridor_kml
    from borderwatch.outputs.overview import render_overlay
    from borderwatch.outputs.sites import corridor_register, sites_geojson, write_sites_geojson
    from borderwatch.outputs.webmap import write_web_map
    from borderwatch.pipeline.run import scenes_by_date

    out_dir = Path(out_dir)
    by_date = scenes_by_date(scenes)
    sites, observations = corridor_register(store, corridor)
    steps = len(by_date) + 3 + bool(sites)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    area = corridor.to_lonlat(corridor.area)
    evidence = [e for e in store.current_rows("evidence", *result_key) if area.intersects(e["geometry"])] if result_key else []
    written = [write_corridor_kml(corridor, out_dir / "corridor.kml", scenes=scenes, sites=sites, observations=observations,
                                  evidence=evidence)]
    tick()
    site_fc, site_summary = None, None
    if sites:
        from borderwatch.sites import summarise

        countries = [corridor.left_country, corridor.right_country]
        written.append(write_sites_geojson(out_dir / "sites.geojson", sites, observations, countries))
        site_fc = sites_geojson(sites, observations, countries)
        site_summary = summarise(sites, observations, corridor.length_km, corridor.name)
        tick()
    else:  # a register emptied since an earlier run here: its old file would show sites that are gone
        (out_dir / "sites.geojson").unlink(missing_ok=True)
    overlays = []
    bounds_lonlat = corridor.to_lonlat(corridor.area).bounds
    for date, day in by_date.items():
        png, bounds = render_overlay(day, out_dir / "overviews" / f"{date.isoformat()}.png", bounds_lonlat=bounds_lonlat)
        overlays.append((date, png, bounds))
        written.append(png)
        tick()

    extra_layers, tables = [], []
    latest = max(by_date) if by_date else None
    if evidence:
        written.append(write_atomically(out_dir / "evidence.geojson", json.dumps(evidence_geojson(evidence))))
        for date in by_date:
            day = [e for e in evidence if str(e["date"]) == date.isoformat()]
            style = {"weight": 2, "fillOpacity": 0.25, "color": "#ff9100", "hidden": date != latest}
            extra_layers.append((f"Crossing evidence {date.isoformat()} ({len(day)})", evidence_geojson(day), style))
    else:  # land cover off this time: an earlier run's file would not match this run
        (out_dir / "evidence.geojson").unlink(missing_ok=True)
    if result_key is not None and with_detections:
        dets = [d for d in store.current_rows("detections", *result_key) if area.intersects(d["geometry"])]
        written.append(write_atomically(out_dir / "detections.geojson", json.dumps(detections_geojson(dets, with_front=False))))
        for date in by_date:
            day = [d for d in dets if str(d["date"]) == date.isoformat()]
            style = {"weight": 1.5, "fillOpacity": 0.35, "color": "#ffffff", "hidden": date != latest}
            extra_layers.append((f"Detections {date.isoformat()} ({len(day)})", detections_geojson(day), style))
            tables.append({
                "title": f"Detections by km, {date.isoformat()}",
                "columns": ["km", "small", "large", "heavy", "total"],
                "rows": counts_per_km(day, corridor.length_km),
            })
    tick()
    written.append(write_web_map(out_dir, corridor, scenes, overlays, title=f"borderwatch: {corridor.name}", extra_layers=extra_layers,
                                 tables=tables, sites=site_fc, site_summary=site_summary))
    tick()
    return written
