"""The per-tile unit of work: a pure function of (tile, date, scenes, parameters).

It reads the scenes' pixels for one tile at the analysis GSD and returns what
can honestly be measured from them. Later stages (land cover, detection) add
their results here; the function stays pure so any executor can run it and
its key decides whether a rerun can skip it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
from rasterio.features import geometry_mask
from rasterio.transform import from_origin

from borderwatch import __version__
from borderwatch.corridor.tiling import Tile
from borderwatch.imagery.scene import Scene

#: Bump when analyse_tile's output changes meaning: old results are then recomputed.
TILE_ANALYSIS_VERSION = "tile-stats-1"


@dataclass(frozen=True)
class AnalysisParams:
    """Everything that changes a tile's result, besides its pixels."""

    gsd_m: float = 0.5
    tile_m: float = 512.0

    def key(self) -> str:
        return _digest(asdict(self))


def versions() -> dict:
    """Software and model versions that a result depends on (stored with every run)."""
    return {"borderwatch": __version__, "tile_analysis": TILE_ANALYSIS_VERSION}


def versions_key() -> str:
    return _digest(versions())


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TileTask:
    tile: Tile
    date: dt.date
    scenes: tuple[Scene, ...]
    watched_wkb: bytes  # the part of the tile inside the corridor's watched area (corridor CRS)
    crs_wkt: str
    params: AnalysisParams = field(default_factory=AnalysisParams)


@dataclass(frozen=True)
class TileResult:
    tile: Tile
    date: dt.date
    stats: dict


def analyse_tile(task: TileTask) -> TileResult:
    """Coverage, nodata share and per-band statistics of one tile on one date.

    Only pixels inside the watched corridor count: the share of the watched
    area that has imagery is what tells a reporter where a date has gaps.
    """
    import shapely
    from rasterio.crs import CRS

    from borderwatch.imagery.reader import read_tile

    gsd = task.params.gsd_m
    minx, miny, maxx, maxy = task.tile.bounds
    img = read_tile(list(task.scenes), task.tile.bounds, CRS.from_wkt(task.crs_wkt), gsd)
    h, w = img.valid.shape
    transform = from_origin(minx, maxy, (maxx - minx) / w, (maxy - miny) / h)
    watched_geom = shapely.from_wkb(task.watched_wkb)
    watched = ~geometry_mask([watched_geom], out_shape=(h, w), transform=transform) if not watched_geom.is_empty else np.zeros((h, w), bool)
    n_watched = int(watched.sum())
    valid = img.valid & watched
    n_valid = int(valid.sum())
    stats: dict = {
        "pixels": int(h * w),
        "watched_pixels": n_watched,
        "valid_pixels": n_valid,
        "coverage": round(n_valid / n_watched, 4) if n_watched else 0.0,
        "nodata_share": round(1.0 - n_valid / n_watched, 4) if n_watched else 1.0,
        "scene_ids": sorted(img.scene_ids),
        "gsd_m": gsd,
    }
    if n_valid:
        px = img.data[:, valid].astype(np.float32)
        stats["band_mean"] = [round(float(v), 2) for v in px.mean(axis=1)]
        stats["band_std"] = [round(float(v), 2) for v in px.std(axis=1)]
        grey = px[:3].mean(axis=0)
        stats["brightness_p5_p50_p95"] = [round(float(v), 1) for v in np.percentile(grey, [5, 50, 95])]
    return TileResult(task.tile, task.date, stats)
