"""The pipeline: corridor + scenes -> tiles -> per-tile analysis -> store -> outputs.

Work is keyed by (tile, date, parameters, versions). Results are written to the
store in small transactions as they arrive, so an interrupted run loses at most
one batch and a rerun computes only what is missing.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import shapely
from shapely import wkt as shapely_wkt

from borderwatch.corridor.model import Corridor
from borderwatch.corridor.tiling import Tile, tile_corridor
from borderwatch.errors import InputError
from borderwatch.imagery.footprint import data_bands
from borderwatch.imagery.handles import dataset_for, jpeg_compressed
from borderwatch.imagery.scene import Scene
from borderwatch.pipeline.executors import Executor, InProcessExecutor
from borderwatch.store import corridor_record
from borderwatch.pipeline.tasks import AnalysisParams, TileResult, TileTask, analyse_tile, detector_for, versions, versions_key

Progress = Callable[[int, int], None]

#: how far around a tile (its margin included) the corridor line travels with its task: more than the read margin
#: plus EvidenceParams.line_reach_m, so wet ground at the margin's edge still finds the line it lies near
LINE_NEAR_TILE_M = 300.0


@dataclass
class RunSummary:
    run_id: str
    executor: str
    tiles: int
    dates: list[dt.date]
    tasks: int
    skipped: int
    computed: int
    without_imagery: int
    seconds: float
    param_hash: str = ""
    versions_hash: str = ""


def scenes_by_date(scenes: Iterable[Scene]) -> dict[dt.date, list[Scene]]:
    """Scenes grouped by capture date, finest GSD first within a date."""
    out: dict[dt.date, list[Scene]] = defaultdict(list)
    for s in scenes:
        out[s.capture_date].append(s)
    return {d: sorted(v, key=lambda s: s.gsd_m) for d, v in sorted(out.items())}


def scene_footprints(corridor: Corridor, scenes: Iterable[Scene]) -> dict[str, shapely.Geometry]:
    """Each scene's valid-data footprint in the corridor CRS, prepared for fast tests."""
    out = {s.scene_id: corridor.from_lonlat(shapely_wkt.loads(s.footprint_wkt)) for s in scenes}
    for g in out.values():
        shapely.prepare(g)
    return out


def plan_tasks(
    corridor: Corridor,
    scenes: list[Scene],
    params: AnalysisParams,
    done: set[tuple[str, str]] = frozenset(),
    footprints: dict[str, shapely.Geometry] | None = None,
) -> tuple[list[Tile], list[TileTask], list[TileResult], int]:
    """Tasks to run, results known without reading pixels (no scene touches the tile), and skips."""
    tiles = tile_corridor(corridor, params.tile_m)
    area = corridor.area
    crs_wkt = corridor.crs.to_wkt()
    footprints = footprints if footprints is not None else scene_footprints(corridor, scenes)
    tasks, empty, skipped = [], [], 0
    bearing = {t.tile_id: corridor.direction_deg_at(t.chainage_km, 100.0) for t in tiles}
    # the line itself near each tile (its bends included), for the river's direction at a point
    line_near = {t.tile_id: shapely.to_wkb(shapely.intersection(corridor.line, t.geometry.buffer(LINE_NEAR_TILE_M)))
                 for t in tiles}
    for date, day_scenes in scenes_by_date(scenes).items():
        for tile in tiles:
            if (tile.tile_id, date.isoformat()) in done:
                skipped += 1
                continue
            cell = tile.geometry
            touching = tuple(s for s in day_scenes if footprints[s.scene_id].intersects(cell))
            if not touching:
                empty.append(TileResult(tile, date, {"coverage": 0.0, "nodata_share": 1.0, "scene_ids": [], "gsd_m": params.gsd_m}))
                continue
            watched = shapely.intersection(cell, area)
            tasks.append(TileTask(tile, date, touching, shapely.to_wkb(watched), crs_wkt, params, bearing[tile.tile_id],
                                  river_may_freeze=corridor.may_freeze_on(date), river_line_wkb=line_near[tile.tile_id]))
    return tiles, tasks, empty, skipped


def check_detector_gsd(params: AnalysisParams, scenes: list[Scene] = ()) -> None:
    """Refuse an analysis GSD the detector was not trained for, or a scene too coarse for it (read at 0.5 m, a
    5 m image holds no more detail: the detector would count blur), before any work starts."""
    from borderwatch.analysis.detect.runtime import check_gsd_for
    from borderwatch.imagery.footprint import GSD_SLACK

    det = detector_for(params.model, params.screen, params.front_calibration)
    check_gsd_for(params.gsd_m, det.gsd_range, "--gsd")
    coarsest = det.gsd_range[1]
    for s in scenes:
        if s.gsd_m > coarsest * GSD_SLACK:
            raise InputError(s.path, f"imagery of {s.gsd_m:.2g} m is too coarse for the detector (it needs {coarsest:g} m "
                                     "or finer): run without --detect, or leave this scene out")


def check_colour(params: AnalysisParams, scenes: list[Scene] = ()) -> None:
    """Refuse a scene with fewer than three colour bands (panchromatic) for the detector or land cover, before
    any work starts: both were fitted on colour imagery, and read as grey three times over a pan image's ground
    reads as road and its shadows as cars (a grey copy of a demo stretch: every field "road", 91 detections
    where the colour scene gives 69)."""
    if not (params.detect or params.landcover):
        return
    for s in scenes:
        data = data_bands(dataset_for(s).colorinterp)
        if len(data) < 3:
            used = " and ".join(n for n, on in (("--detect", params.detect), ("--landcover", params.landcover)) if on)
            raise InputError(s.path, f"{len(data)} colour band(s) (panchromatic?): {used} need colour (RGB) imagery; "
                                     "use the natural-colour or pan-sharpened product, or run without "
                                     f"{used}")


def jpeg_warnings(params: AnalysisParams, scenes: list[Scene] = ()) -> list[str]:
    """One warning per JPEG-compressed scene the detector reads (a JPEG file, as Google Earth Pro saves, or a GeoTIFF
    with JPEG compression): such imagery keeps colour at half resolution; the bundled detector's JPEG variant reads
    it, and still finds fewer vehicles and turns more fronts there (figures in ``detect.runtime.JPEG_CAVEAT``)."""
    if not params.detect or params.model != "bundled":
        return []
    from borderwatch.analysis.detect.runtime import JPEG_CAVEAT

    return [f"{s.path}: JPEG-compressed imagery of {s.gsd_m:.2g} m: {JPEG_CAVEAT}"
            for s in scenes if jpeg_compressed(dataset_for(s))]


def grid_to_true_north(corridor: Corridor) -> Callable[[Tile], float]:
    """Degrees to add to a grid (UTM) bearing to get a true-north bearing, per tile.

    Meridian convergence is about half a degree on the upper Yalu (zone 52,
    central meridian 129E); headings are published as true bearings.
    """

    def turn(tile: Tile) -> float:
        return convergence_deg(corridor, (tile.bounds[0] + tile.bounds[2]) / 2, (tile.bounds[1] + tile.bounds[3]) / 2)

    return turn


def convergence_deg(corridor: Corridor, x: float, y: float) -> float:
    """True-north bearing of grid north at a CRS point: add it to a grid bearing to get a true one."""
    from pyproj import Geod

    a = corridor.to_lonlat(shapely.Point(x, y))
    b = corridor.to_lonlat(shapely.Point(x, y + 100.0))  # 100 m toward grid north
    azimuth, _, _ = Geod(ellps="WGS84").inv(a.x, a.y, b.x, b.y)
    return float(azimuth)


def run_pipeline(
    corridor: Corridor,
    scenes: list[Scene],
    store,
    *,
    params: AnalysisParams | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    batch_size: int = 16,
) -> RunSummary:
    """Analyse every (tile, date) of the corridor not already in the store, and record the run."""
    params = params or AnalysisParams()
    executor = executor or InProcessExecutor()
    t0 = time.perf_counter()
    if params.detect:
        check_detector_gsd(params, scenes)
    check_colour(params, scenes)
    pkey, vkey = params.key(), versions_key(params)
    store.upsert_corridor(*corridor_record(corridor))
    store.add_scenes(scenes)  # idempotent: every result must point at a stored scene
    done = store.finished_tile_keys(pkey, vkey)
    footprints = scene_footprints(corridor, scenes)
    tiles, tasks, empty, skipped = plan_tasks(corridor, scenes, params, done, footprints)
    run_id = store.start_run(
        corridor.name,
        {**asdict(params), "scenes": sorted(s.scene_id for s in scenes), "executor": executor.name, "host": socket.gethostname()},
        versions(params),
    )
    total = len(tasks) + len(empty)
    finished = 0

    gsd_by_scene = {s.scene_id: s.gsd_m for s in scenes}
    to_true_north = grid_to_true_north(corridor)

    def rows(results: list[TileResult]) -> list[dict]:
        return [
            {
                "tile_id": r.tile.tile_id,
                "date": r.date.isoformat(),
                "param_hash": pkey,
                "versions_hash": vkey,
                "run_id": run_id,
                "chainage_km": round(r.tile.chainage_km, 4),
                "geometry": corridor.to_lonlat(r.tile.geometry),
                "stats": r.stats,
            }
            for r in results
        ]

    def detection_rows(results: list[TileResult]) -> list[dict]:
        out = []
        for r in results:
            if not r.detections:
                continue
            xs = [d["x"] for d in r.detections]
            ys = [d["y"] for d in r.detections]
            km, off = corridor.locate_xy(xs, ys)
            turn = to_true_north(r.tile)
            ids = sorted(r.stats.get("scene_ids", []), key=lambda i: gsd_by_scene.get(i, 1e9))
            for d, k, o in zip(r.detections, km, off):
                centre = shapely.Point(d["x"], d["y"])
                scene_id = next((i for i in ids if footprints[i].covers(centre)), ids[0] if ids else None)
                out.append({
                    "scene_id": scene_id,
                    "date": r.date,
                    "tile_id": r.tile.tile_id,
                    "run_id": run_id,
                    "class": d["class"],
                    "subclass": d["subclass"],
                    "score": d["score"],
                    "length_m": d["length_m"],
                    "width_m": d["width_m"],
                    "heading_deg": round((d["heading_grid_deg"] + turn) % 360.0, 1),
                    "heading_conf": d["heading_conf"],
                    "country": corridor.country_for_offset(float(o)),
                    "chainage_km": round(float(k), 4),
                    "dist_water_m": d.get("dist_water_m"),
                    "built_up_around": d.get("built_up_around"),
                    "detector": r.stats.get("detector"),  # the bundled model or its JPEG variant: per tile
                    "ground": d.get("ground"),
                    "geometry": corridor.to_lonlat(shapely.from_wkb(d["polygon_wkb"])),
                })
        return out

    def evidence_rows(results: list[TileResult]) -> list[dict]:
        out = []
        for r in results:
            if not r.evidence:
                continue
            km, off = corridor.locate_xy([e["x"] for e in r.evidence], [e["y"] for e in r.evidence])
            ids = sorted(r.stats.get("scene_ids", []), key=lambda i: gsd_by_scene.get(i, 1e9))
            for e, k, o in zip(r.evidence, km, off):
                anchor = shapely.Point(e["x"], e["y"])
                lon, lat = corridor.to_lonlat(anchor).coords[0]
                details = {key: value for key, value in e["details"].items() if not key.endswith("_xy")}
                for key, points in e["details"].items():  # points in the corridor CRS -> lon/lat, like the geometry
                    if key.endswith("_xy"):
                        lonlat = corridor.to_lonlat(shapely.MultiPoint(points))
                        details[key[:-3] + "_lonlat"] = [[round(g.x, 7), round(g.y, 7)] for g in lonlat.geoms]
                out.append({
                    "kind": e["kind"],
                    "score": e["score"],
                    "scene_id": next((i for i in ids if footprints[i].covers(anchor)), ids[0] if ids else None),
                    "date": r.date,
                    "run_id": run_id,
                    "tile_id": r.tile.tile_id,
                    "param_hash": pkey,
                    "versions_hash": vkey,
                    "country": corridor.country_for_offset(float(o)),
                    "chainage_km": round(float(k), 4),
                    "details": {**details, "offset_m": round(float(o), 1), "anchor_lonlat": [round(lon, 7), round(lat, 7)]},
                    "geometry": corridor.to_lonlat(shapely.from_wkb(e["geometry_wkb"])),
                })
        return out

    def save(results: list[TileResult]) -> None:
        with store.transaction():
            store.put_tile_results(rows(results))
            dets = detection_rows(results)
            if dets:
                store.write_rows("detections", dets)
            evidence = evidence_rows(results)
            if evidence:
                store.write_rows("evidence", evidence)

    status = "failed"
    try:
        if empty:
            save(empty)
            finished += len(empty)
            if progress:
                progress(finished, total)
        pending: list[TileResult] = []
        for result in executor.map_unordered(analyse_tile, tasks):
            pending.append(result)
            if len(pending) >= batch_size:
                save(pending)
                finished += len(pending)
                pending = []
                if progress:
                    progress(finished, total)
        if pending:
            save(pending)
            finished += len(pending)
            if progress:
                progress(finished, total)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, status)
    return RunSummary(
        run_id=run_id,
        executor=executor.name,
        tiles=len(tiles),
        dates=sorted(scenes_by_date(scenes)),
        tasks=total,
        skipped=skipped,
        computed=len(tasks),
        without_imagery=len(empty),
        seconds=time.perf_counter() - t0,
        param_hash=pkey,
        versions_hash=vkey,
    )
