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
from borderwatch.imagery.scene import Scene
from borderwatch.pipeline.executors import Executor, InProcessExecutor
from borderwatch.store import corridor_record
from borderwatch.pipeline.tasks import AnalysisParams, TileResult, TileTask, analyse_tile, versions, versions_key

Progress = Callable[[int, int], None]


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


def scenes_by_date(scenes: Iterable[Scene]) -> dict[dt.date, list[Scene]]:
    """Scenes grouped by capture date, finest GSD first within a date."""
    out: dict[dt.date, list[Scene]] = defaultdict(list)
    for s in scenes:
        out[s.capture_date].append(s)
    return {d: sorted(v, key=lambda s: s.gsd_m) for d, v in sorted(out.items())}


def plan_tasks(
    corridor: Corridor, scenes: list[Scene], params: AnalysisParams, done: set[tuple[str, str]] = frozenset()
) -> tuple[list[Tile], list[TileTask], list[TileResult], int]:
    """Tasks to run, results known without reading pixels (no scene touches the tile), and skips."""
    tiles = tile_corridor(corridor, params.tile_m)
    area = corridor.area
    crs_wkt = corridor.crs.to_wkt()
    footprints = {s.scene_id: corridor.from_lonlat(shapely_wkt.loads(s.footprint_wkt)) for s in scenes}
    for g in footprints.values():
        shapely.prepare(g)
    tasks, empty, skipped = [], [], 0
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
            tasks.append(TileTask(tile, date, touching, shapely.to_wkb(watched), crs_wkt, params))
    return tiles, tasks, empty, skipped


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
    pkey, vkey = params.key(), versions_key()
    store.upsert_corridor(*corridor_record(corridor))
    done = store.finished_tile_keys(pkey, vkey)
    tiles, tasks, empty, skipped = plan_tasks(corridor, scenes, params, done)
    run_id = store.start_run(
        corridor.name,
        {**asdict(params), "scenes": sorted(s.scene_id for s in scenes), "executor": executor.name, "host": socket.gethostname()},
        versions(),
    )
    total = len(tasks) + len(empty)
    finished = 0

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

    status = "failed"
    try:
        if empty:
            store.put_tile_results(rows(empty))
            finished += len(empty)
            if progress:
                progress(finished, total)
        pending: list[TileResult] = []
        for result in executor.map_unordered(analyse_tile, tasks):
            pending.append(result)
            if len(pending) >= batch_size:
                store.put_tile_results(rows(pending))
                finished += len(pending)
                pending = []
                if progress:
                    progress(finished, total)
        if pending:
            store.put_tile_results(rows(pending))
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
    )
