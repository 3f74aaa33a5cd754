"""write_scenes: one Cloud Optimized GeoTIFF per date plus GeoJSON truth for a stretch."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import Polygon, box, mapping

from borderwatch.corridor.model import Corridor
from borderwatch.errors import InputError
from borderwatch.fileio import write_atomically
from borderwatch.synth.palette import LANDCOVER
from borderwatch.synth.world import SynthWorld, _check_km, check_gsd

BLOCK_PX = 1024
LICENCE = "CC0-1.0 synthetic imagery (borderwatch)"


def scene_tags(d: date, seed: int, gsd_m: float) -> dict[str, str]:
    return {
        "TIFFTAG_DATETIME": d.strftime("%Y:%m:%d") + " 10:30:00",
        "CAPTURE_DATE": d.isoformat(),
        "PROVIDER": "borderwatch-synth",
        "SENSOR": "synthetic",
        "LICENCE": LICENCE,
        "SYNTH_SEED": str(seed),
        "SYNTH_GSD": f"{gsd_m:g}",
    }


def write_scenes(
    corridor: Corridor,
    km: tuple[float, float] = (0, 10),
    gsd_m: float = 0.5,
    dates: list[date] | None = None,
    seed: int = 7,
    out_dir: str | Path = "synth",
    progress: Callable[[int, int], None] | None = None,
    landcover: bool = True,
    world: SynthWorld | None = None,
    workers: int | None = None,
) -> list[Path]:
    """Render a chainage range of a corridor on each date; write COGs and truth.

    Returns the written paths: one ``<date>.tif`` per date, then
    ``truth/sites.geojson``, ``truth/objects.geojson`` and (with ``landcover``)
    ``truth/landcover_<date>.tif``. Rendering goes block by block in
    ``workers`` processes (default: the CPU count, at most 4), so memory stays
    flat whatever the size.
    """
    a, b = _check_km(km)
    g = check_gsd(gsd_m)
    if a < 0 or a >= corridor.length_km:
        raise InputError("km", f"km range {km!r} lies outside the corridor (0-{corridor.length_km:.2f} km)")
    world = world or SynthWorld(corridor, seed=seed, dates=dates)
    out = Path(out_dir)
    try:
        (out / "truth").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out, f"cannot create the output folder ({exc.strerror})") from None
    stretch = corridor.stretch(a, b)
    area = stretch.area
    minx, miny, maxx, maxy = area.bounds
    minx, miny = math.floor(minx / g) * g, math.floor(miny / g) * g
    maxx, maxy = math.ceil(maxx / g) * g, math.ceil(maxy / g) * g
    width, height = int(round((maxx - minx) / g)), int(round((maxy - miny) / g))
    transform = from_origin(minx, maxy, g, g)
    blocks = [(r, c) for r in range(0, height, BLOCK_PX) for c in range(0, width, BLOCK_PX)]
    blocks = [rc for rc in blocks if _block_box(rc, minx, maxy, g, width, height).intersects(area)]
    total = len(blocks) * len(world.dates)
    done = 0
    paths: list[Path] = []
    nproc = _workers(workers, len(blocks))
    pool = _pool(world, nproc) if nproc > 1 else None
    try:
        for di, d in enumerate(world.dates):
            tif = out / f"{d.isoformat()}.tif"
            lc_path = out / "truth" / f"landcover_{d.isoformat()}.tif"
            with tempfile.TemporaryDirectory(dir=out) as tmp:
                tmp_rgb = Path(tmp) / "rgb.tif"
                tmp_lc = Path(tmp) / "lc.tif"
                prof = dict(driver="GTiff", width=width, height=height, crs=corridor.crs, transform=transform, tiled=True,
                            blockxsize=512, blockysize=512, compress="ZSTD", zstd_level=1, nodata=0, BIGTIFF="IF_SAFER")
                jobs = [(_block_bounds(rc, minx, maxy, g, width, height), g, di, landcover) for rc in blocks]
                with rasterio.open(tmp_rgb, "w", count=3, dtype="uint8", photometric="RGB", **prof) as dst, \
                        (rasterio.open(tmp_lc, "w", count=1, dtype="uint8", **prof) if landcover else _Null()) as lcd:
                    for (r, c), (bx, rgb, lab) in zip(blocks, _run(jobs, pool, nproc, world)):
                        h, w = rgb.shape[1:]
                        inside = _inside(area, bx, h, w)
                        rgb[:, ~inside] = 0
                        win = Window(c, r, w, h)
                        dst.write(rgb, window=win)
                        if landcover:
                            lab[~inside] = 0
                            lcd.write(lab[None], window=win)
                        done += 1
                        if progress is not None:
                            progress(done, total)
                    dst.update_tags(**scene_tags(d, world.seed, g))
                _to_cog(tmp_rgb, tif, predictor=True)
                paths.append(tif)
                if landcover:
                    with rasterio.open(tmp_lc, "r+") as lcd:
                        lcd.update_tags(CAPTURE_DATE=d.isoformat(), PROVIDER="borderwatch-synth", LICENCE=LICENCE,
                                        CLASSES=json.dumps(LANDCOVER))
                    _to_cog(tmp_lc, lc_path, resampling="MODE")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    paths.append(_write_sites(world, stretch, (a, b), out / "truth" / "sites.geojson"))
    paths.append(_write_objects(world, area, (a, b), out / "truth" / "objects.geojson"))
    if landcover:
        paths.extend(out / "truth" / f"landcover_{d.isoformat()}.tif" for d in world.dates)
    return paths


_WORLD: SynthWorld | None = None


def _init_worker(world: SynthWorld) -> None:
    global _WORLD
    _WORLD = world


def _render_job(job, world: SynthWorld | None = None):
    bx, g, di, landcover = job
    world = world or _WORLD
    d = world.dates[di]
    if landcover:
        rgb, lab = world.render_with_landcover(bx, g, d)
    else:
        rgb, lab = world.render(bx, g, d), None
    return bx, rgb, lab


def _workers(workers: int | None, n_jobs: int) -> int:
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("workers", f"workers must be a positive integer, got {workers!r}")
    return max(1, min(workers, n_jobs))


def _pool(world: SynthWorld, n: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    return ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker, initargs=(world,))


def _run(jobs, pool, nproc, world):
    """Results in job order; at most 2 x nproc blocks in flight so memory stays flat."""
    if pool is None:
        for job in jobs:
            yield _render_job(job, world)
        return
    from collections import deque

    q: deque = deque()
    it = iter(jobs)
    for job in it:
        q.append(pool.submit(_render_job, job))
        if len(q) >= 2 * nproc:
            yield q.popleft().result()
    while q:
        yield q.popleft().result()


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _block_bounds(rc, minx, maxy, g, width, height):
    r, c = rc
    h = min(BLOCK_PX, height - r)
    w = min(BLOCK_PX, width - c)
    return (minx + c * g, maxy - (r + h) * g, minx + (c + w) * g, maxy - r * g)


def _block_box(rc, minx, maxy, g, width, height):
    r, c = rc
    h = min(BLOCK_PX, height - r)
    w = min(BLOCK_PX, width - c)
    return box(minx + c * g, maxy - (r + h) * g, minx + (c + w) * g, maxy - r * g)


def _inside(area, bx, h: int, w: int) -> np.ndarray:
    clip = area.intersection(box(*bx))
    if clip.is_empty:
        return np.zeros((h, w), bool)
    t = from_origin(bx[0], bx[3], (bx[2] - bx[0]) / w, (bx[3] - bx[1]) / h)
    return rasterize([clip], out_shape=(h, w), transform=t, fill=0, default_value=1, dtype="uint8").astype(bool)


def _to_cog(src: Path, dst: Path, predictor: bool = False, resampling: str = "AVERAGE") -> None:
    tmp = dst.with_suffix(".tif.part")
    with rasterio.Env(GDAL_CACHEMAX=256):
        rasterio.shutil.copy(src, tmp, driver="COG", compress="DEFLATE", level=3, predictor="YES" if predictor else "NO", blocksize=512,
                             overviews="AUTO", resampling=resampling, num_threads=str(os.cpu_count() or 1))
    os.replace(tmp, dst)


def _feature(geom, props) -> dict:
    return {"type": "Feature", "geometry": mapping(geom), "properties": props}


def _write_json(path: Path, feats: list[dict]) -> Path:
    return write_atomically(path, json.dumps({"type": "FeatureCollection", "features": feats}, indent=None))


def _write_sites(world: SynthWorld, stretch, km, path: Path) -> Path:
    c = world.corridor
    feats = []
    for s in world.sites(km):
        geom = c.to_lonlat(Polygon(s.pop("polygon")))
        props = {k: v for k, v in s.items() if k not in ("x", "y")}
        feats.append(_feature(geom, props))
    return _write_json(path, feats)


def _write_objects(world: SynthWorld, area, km, path: Path) -> Path:
    c = world.corridor
    feats = []
    for d in world.dates:
        for o in world.objects(d, (km[0] - 1, km[1] + 1)):
            poly = Polygon(o.pop("polygon"))
            if not area.contains(poly):
                continue
            props = {k: v for k, v in o.items() if k not in ("x", "y")}
            feats.append(_feature(c.to_lonlat(poly), props))
    return _write_json(path, feats)
