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
from borderwatch.imagery.handles import dataset_for, jpeg_compressed
from borderwatch.imagery.scene import Scene
from borderwatch.imagery.snow import snow_share

#: Bump when analyse_tile's output changes meaning: old results are then recomputed.
TILE_ANALYSIS_VERSION = "tile-stats-20"  # 20: JPEG-compressed scenes read by the detector's JPEG variant

#: Metres read around a tile for detection and land cover. A vehicle (or a piece of
#: crossing evidence) belongs to the tile that holds its centre (its landing point);
#: the margin (longer than half a truck with trailer, as wide as a landing apron) lets
#: it be seen whole even when it straddles the tile edge, so nothing is cut or counted twice.
DETECTION_MARGIN_M = 24.0
LANDCOVER_MARGIN_M = 32.0
#: ...but never fewer pixels than this: the coarse water net (3-10 m, analysis.landcover.cnn) needs the context
#: (at 5 m, 32 m is 8 px; 16 px scored better on the development protocol, see docs/landcover-fitting.md)
LANDCOVER_CONTEXT_PX = 16


#: AnalysisParams.front_calibration values
FRONT_CALIBRATIONS = ("real", "none")


@dataclass(frozen=True)
class AnalysisParams:
    """Everything that changes a tile's result, besides its pixels."""

    gsd_m: float = 0.5
    tile_m: float = 512.0
    # Off by default until the bundled detector meets its accuracy targets (see its model card).
    detect: bool = False
    model: str = "bundled"  # "bundled" or the path of a borderwatch ONNX detector
    score_threshold: float | None = None  # None: the detector's own operating point (stored in the model)
    # The bundled detector's screen (a cheap first pass; the detector runs only where it fires). False:
    # the detector runs on every pixel (slower; differs only near the score threshold, see the model card).
    screen: bool = True
    # Which probability the bundled detector's front check reports as heading_conf: "real" (its calibration
    # on real streets, the default: what real imagery needs) or "none" (the network's own, fitted on synthetic
    # vehicles; for the synthetic test worlds, where fronts are far easier than on real imagery).
    front_calibration: str = "real"
    # Land cover per tile (shares in the stats, distance to water for detections). Off by
    # default: validated on synthetic scenes, not yet on real RGB imagery (its tests say how far).
    landcover: bool = False

    def __post_init__(self):
        if self.front_calibration not in FRONT_CALIBRATIONS:
            raise ValueError(f"front_calibration must be one of {FRONT_CALIBRATIONS}, got {self.front_calibration!r}")

    def key(self) -> str:
        d = asdict(self)
        # the defaults: stores made before these options existed keep their key (the detector's name, in the
        # run's versions, says whether a screen ran and which front check)
        if d["screen"]:
            del d["screen"]
        if d["front_calibration"] == "real":
            del d["front_calibration"]
        return _digest(d)


def versions(params: AnalysisParams | None = None) -> dict:
    """Software and model versions that a result depends on (stored with every run)."""
    out = {"borderwatch": __version__, "tile_analysis": TILE_ANALYSIS_VERSION}
    if params is not None and params.landcover:
        from borderwatch.analysis.landcover import LANDCOVER_VERSION

        out["landcover"] = LANDCOVER_VERSION
    if params is not None and params.detect:
        det = detector_for(params.model, params.screen, params.front_calibration)
        out["detector"] = det.name
        out["detector_sha256"] = det.sha256
        if params.model == "bundled":  # JPEG-compressed scenes are read by its JPEG variant (tile stats say which ran)
            jpeg = detector_for(params.model, params.screen, params.front_calibration, jpeg=True)
            out["detector_jpeg"] = jpeg.name
            out["detector_jpeg_sha256"] = jpeg.sha256
    return out


_DETECTORS: dict = {}


def detector_for(model: str, screen: bool = True, front_calibration: str = "real", jpeg: bool = False):
    """The detector for ``model`` (with its screen unless ``screen`` is False; the bundled front check
    calibrated for real imagery unless ``front_calibration`` is "none"), loaded once per process (workers
    keep theirs between tiles). ``jpeg``: the imagery is JPEG-compressed, so the bundled model's JPEG variant
    answers; a model file of the user's own is used as it is."""
    jpeg = jpeg and model == "bundled"
    key = (model, screen, front_calibration, jpeg)
    if key not in _DETECTORS:
        from borderwatch.analysis.detect.front import FrontModel
        from borderwatch.analysis.detect.runtime import FROM_MODEL, Detector

        threads = 1 if _in_dask_worker() else None  # one thread per worker process; all cores in-process
        kw = {"threads": threads, "screen": FROM_MODEL if screen else None}
        if model == "bundled":
            front = FrontModel.load_default(calibrated=front_calibration == "real", jpeg=jpeg)
            det = Detector.load_default(jpeg=jpeg, **kw, front=front)
        else:
            det = Detector(model, **kw)
        det.sha256 = hashlib.sha256(det.path.read_bytes()).hexdigest()
        _DETECTORS[key] = det
    return _DETECTORS[key]


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def versions_key(params: AnalysisParams | None = None) -> str:
    return _digest(versions(params))


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
    # grid bearing of the corridor line at the tile: the fences' fallback direction, and everyone's where no line is near
    river_bearing_deg: float | None = None
    # the corridor line near the tile (corridor CRS): the river's direction at a point, by which decks, bar routes,
    # ford traces and ice roads are judged on a bend
    river_line_wkb: bytes | None = None
    # the date lies in the corridor's freeze season: land cover may read river ice. Not part of the result key (it
    # follows from the corridor and the date); each tile's stats record it as river_ice_considered.
    river_may_freeze: bool = False


@dataclass(frozen=True)
class TileResult:
    """What one tile on one date gave. Detection polygons are in the corridor CRS."""

    tile: Tile
    date: dt.date
    stats: dict
    detections: tuple[dict, ...] = ()
    evidence: tuple[dict, ...] = ()  # crossing evidence (analysis.crossings), geometry in the corridor CRS


def analyse_tile(task: TileTask) -> TileResult:
    """Coverage, nodata share and band statistics of one tile on one date; land cover and
    detections when the parameters ask for them.

    Only pixels inside the watched corridor count: the share of the watched
    area that has imagery is what tells a reporter where a date has gaps.
    The tile is read with a margin when detecting (see DETECTION_MARGIN_M).
    """
    import time

    import shapely
    from rasterio.crs import CRS

    from borderwatch.imagery.reader import read_tile

    clock = [time.perf_counter()]
    timing: dict[str, float] = {}

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timing[stage] = round(now - clock[0], 4)
        clock[0] = now

    params = task.params
    gsd = params.gsd_m
    minx, miny, maxx, maxy = task.tile.bounds
    margin = read_margin_m(params)
    crs = CRS.from_wkt(task.crs_wkt)
    img = read_tile(list(task.scenes), (minx - margin, miny - margin, maxx + margin, maxy + margin), crs, gsd)
    lap("read")
    m = int(round(margin / gsd))
    inner = (slice(m, img.valid.shape[0] - m), slice(m, img.valid.shape[1] - m))
    h, w = img.valid[inner].shape
    transform = from_origin(minx, maxy, (maxx - minx) / w, (maxy - miny) / h)
    watched_geom = shapely.from_wkb(task.watched_wkb)
    watched = ~geometry_mask([watched_geom], out_shape=(h, w), transform=transform) if not watched_geom.is_empty else np.zeros((h, w), bool)
    n_watched = int(watched.sum())
    valid = img.valid[inner] & watched
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
    # the detail the pixels hold: read at 0.5 m, a 5 m image is still 5 m (its coarsest scene in this tile)
    source_gsd = max((s.gsd_m for s in task.scenes if s.scene_id in img.scene_ids), default=None)
    if source_gsd is not None:
        stats["source_gsd_m"] = round(float(source_gsd), 3)
    if n_valid:
        pixels = img.data[(slice(None), *inner)]
        stats.update(pixel_stats(pixels, valid))
        # snow, ice or cloud: the register flags dates where car counts are doubtful (sites.register)
        snow = snow_share(pixels, valid)
        if snow is not None:
            stats["snow_share"] = round(snow, 4)
        lap("stats")
    water = zones = None
    evidence: tuple[dict, ...] = ()
    outer_transform = from_origin(minx - margin, maxy + margin, gsd, gsd)
    if params.landcover and n_valid:
        from borderwatch.analysis.landcover import CODES, classify_landcover

        lc = classify_landcover(img.data, img.valid, gsd, ice=task.river_may_freeze)
        inner_classes = np.where(watched, lc.classes[inner], 0)
        counts = np.bincount(inner_classes.ravel(), minlength=len(CODES))
        stats["landcover"] = {name: round(float(counts[code]) / n_valid, 4) for code, name in CODES.items() if code and counts[code]}
        stats["landcover_method"] = lc.method
        stats["river_ice_considered"] = task.river_may_freeze  # in the corridor's freeze season (Corridor.freeze_season)
        water = lc.water_mask
        lap("landcover")
        from borderwatch.analysis.crossings import resolves_crossings

        if resolves_crossings(max(gsd, source_gsd or 0.0)):
            evidence, zones = _crossing_evidence(img.data, img.valid, lc.classes, outer_transform, gsd, task.tile.bounds,
                                                 watched_geom, task.river_bearing_deg, task.river_line_wkb)
            stats["evidence"] = len(evidence)
            lap("evidence")
        else:  # analysed or imaged too coarse for tracks and decks: the land cover (water) stands, no evidence (register warns)
            stats["evidence"] = None
    detections: tuple[dict, ...] = ()
    if params.detect and n_valid:
        jpeg = any(jpeg_compressed(dataset_for(s)) for s in task.scenes)  # half-resolution colour: the JPEG variant
        det = detector_for(params.model, params.screen, params.front_calibration, jpeg=jpeg)
        detections = tuple(_detect(img, outer_transform, gsd, params, det, valid_inner=valid, inner_transform=transform,
                                   watched_geom=watched_geom))
        stats["detector"] = det.name
        if water is not None and detections:
            _add_distance_to_water(detections, water, outer_transform, gsd, zones)
            _add_built_up_around(detections, lc.classes, outer_transform, gsd)
        if zones is not None:
            for d in detections:
                d["ground"] = zones.ground_at(d["x"], d["y"])
        stats["detections"] = len(detections)
        lap("detect")
    stats["seconds"] = timing  # per stage, for benchmarks and for finding slow tiles
    return TileResult(task.tile, task.date, stats, detections, evidence)


def pixel_stats(data: np.ndarray, valid: np.ndarray) -> dict:
    """Per-band mean and standard deviation, and the 5th/50th/95th percentiles of grey brightness (the mean of the
    first three bands), over the ``valid`` pixels of a (bands, H, W) image.

    8-bit imagery is summarised from histograms: exact, and several times faster than copying a tile's pixels out
    as floats (which cost about as much as the land cover on the 81 km bench).
    """
    if data.dtype != np.uint8:
        px = data[:, valid].astype(np.float64)
        grey = px[:3].mean(axis=0)
        return {"band_mean": [round(float(v), 2) for v in px.mean(axis=1)],
                "band_std": [round(float(v), 2) for v in px.std(axis=1)],
                "brightness_p5_p50_p95": [round(float(v), 1) for v in np.percentile(grey, [5, 50, 95])]}
    n = int(np.count_nonzero(valid))
    levels = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for band in data:
        h = np.bincount(band[valid], minlength=256)
        m = float(h @ levels) / n
        means.append(round(m, 2))
        stds.append(round(float(np.sqrt(h @ (levels - m) ** 2 / n)), 2))
    total = data[0].astype(np.uint16) + data[1] + data[2]  # grey x 3, exact in 0..765
    cum = np.cumsum(np.bincount(total[valid], minlength=766))
    out = []
    for q in (5, 50, 95):  # np.percentile's linear interpolation between order statistics
        pos = (n - 1) * q / 100.0
        i = int(np.floor(pos))
        a, b = (int(np.searchsorted(cum, k, side="right")) for k in (i, min(i + 1, n - 1)))
        out.append(round((a + (pos - i) * (b - a)) / 3.0, 1))
    return {"band_mean": means, "band_std": stds, "brightness_p5_p50_p95": out}


def _crossing_evidence(image, valid, classes, transform, gsd: float, bounds, watched_geom, river_bearing_deg: float | None,
                       river_line_wkb: bytes | None = None):
    """Crossing evidence anchored in this tile (not its margin) and inside the watched area:
    land-cover evidence and ford traces on the land-cover grid, fences at full resolution."""
    import shapely
    from affine import Affine

    from borderwatch.analysis.crossings import coarse_classes, find_evidence, find_fences, find_ford_traces, find_ice_roads
    from borderwatch.analysis.landcover.features import factor_for
    from borderwatch.corridor.model import bearing_near

    line = shapely.from_wkb(river_line_wkb) if river_line_wkb else None
    bearing_at = (lambda x, y: bearing_near(line, x, y)) if line is not None and not line.is_empty else None

    f = factor_for(gsd)
    minx, miny, maxx, maxy = bounds

    def owns(x: float, y: float) -> bool:
        return minx <= x < maxx and miny < y <= maxy and bool(shapely.contains_xy(watched_geom, x, y))

    grid, grid_transform, cell = coarse_classes(classes, f), transform * Affine.scale(f), gsd * f
    found, zones = find_evidence(grid, grid_transform, cell, owns=owns, along_deg=river_bearing_deg, bearing_at=bearing_at,
                                 line=line)
    found += find_ford_traces(image, grid, grid_transform, cell, zones.river, along_deg=river_bearing_deg,
                              bearing_at=bearing_at, owns=owns)
    found += find_ice_roads(image, grid, grid_transform, cell, zones.river, along_deg=river_bearing_deg,
                            bearing_at=bearing_at, owns=owns)
    found += find_fences(image, valid, transform, gsd, zones.river, grid_transform, along_deg=river_bearing_deg, owns=owns, clip=bounds)
    out = tuple(
        {"kind": e.kind, "score": e.score, "x": e.x, "y": e.y, "details": e.details, "geometry_wkb": shapely.to_wkb(e.geometry)}
        for e in found
    )
    return out, zones


def _add_distance_to_water(detections, water: np.ndarray, transform, gsd: float, zones=None) -> None:
    """Metres from each detection's centre to the nearest water pixel in the tile and its margin.

    With the river's zones (crossing evidence was read) only the river's water counts: a town's dark streets read as
    water, or a pond, are not where a machine stands "at the water". Water beyond the margin is not seen, so a
    detection with no water in view gets None (unknown), never a made-up distance.
    """
    import cv2

    if zones is not None:
        from borderwatch.analysis.crossings import fine_cells
        from borderwatch.analysis.landcover.features import factor_for

        water = water & fine_cells(zones.river, factor_for(gsd), water.shape)

    if not water.any():
        for d in detections:
            d["dist_water_m"] = None
        return
    dist = cv2.distanceTransform((~water).astype(np.uint8), cv2.DIST_L2, 5) * gsd
    inv = ~transform
    h, w = water.shape
    for d in detections:
        col, row = inv * (d["x"], d["y"])
        c, r = min(max(int(col), 0), w - 1), min(max(int(row), 0), h - 1)
        d["dist_water_m"] = round(float(dist[r, c]), 1)


#: how far around a detection its surroundings are read: a car among buildings is a town's traffic, a truck on a
#: field or a bar is not (sites.clues.STREET_BUILT_UP: cars queued in a town street make no landing queue)
SURROUNDINGS_M = 25.0


def _add_built_up_around(detections, classes: np.ndarray, transform, gsd: float) -> None:
    """The share of built-up ground within SURROUNDINGS_M of each detection's centre, vehicles left out.

    A vehicle reads as built-up itself, so every detection's footprint (1 m wider, for its shadow's edge) is left out
    of the count; what remains says whether it stands among buildings or on open ground. None where nothing around
    it is known (nodata).
    """
    import shapely
    from rasterio.features import rasterize

    from borderwatch.analysis.landcover.codes import BUILT_UP

    feet = [shapely.from_wkb(d["polygon_wkb"]).buffer(1.0) for d in detections]
    vehicles = rasterize(((f, 1) for f in feet), out_shape=classes.shape, transform=transform, all_touched=True,
                         dtype=np.uint8).astype(bool)
    known = (classes > 0) & ~vehicles
    built = (classes == BUILT_UP) & known
    r = int(round(SURROUNDINGS_M / gsd))
    yy, xx = np.ogrid[-r:r + 1, -r:r + 1]
    disc = xx * xx + yy * yy <= r * r
    inv = ~transform
    h, w = classes.shape
    for d in detections:
        col, row = inv * (d["x"], d["y"])
        c, rw = int(np.floor(col)), int(np.floor(row))
        r0, r1, c0, c1 = max(rw - r, 0), min(rw + r + 1, h), max(c - r, 0), min(c + r + 1, w)
        if r0 >= r1 or c0 >= c1:
            d["built_up_around"] = None
            continue
        inside = disc[r0 - rw + r:r1 - rw + r, c0 - c + r:c1 - c + r]
        n = int((known[r0:r1, c0:c1] & inside).sum())
        d["built_up_around"] = round(float((built[r0:r1, c0:c1] & inside).sum()) / n, 3) if n else None


def read_margin_m(params: AnalysisParams) -> float:
    """Metres read around a tile: the margin rounded to whole 8-px blocks (the model's and the land-cover grid's)."""
    landcover = max(LANDCOVER_MARGIN_M, LANDCOVER_CONTEXT_PX * params.gsd_m) if params.landcover else 0.0
    want = max(DETECTION_MARGIN_M if params.detect else 0.0, landcover)
    if not want:
        return 0.0
    px = int(np.ceil(want / params.gsd_m / 8.0)) * 8
    return px * params.gsd_m


def _detect(img, outer_transform, gsd, params: AnalysisParams, det, *, valid_inner, inner_transform,
            watched_geom) -> list[dict]:
    """Detections by ``det`` (detector_for) whose centre lies in this tile, on valid pixels of the watched area."""
    import shapely

    from borderwatch.analysis.detect.sliced import to_map

    side = max(img.valid.shape)
    chip = int(np.ceil(side * gsd / det.gsd_m / det.multiple)) * det.multiple
    found = det.detect_array(img.data[:3], gsd, score_threshold=params.score_threshold, tile=max(chip, 2 * 64 + det.multiple))
    inv = ~inner_transform
    h, w = valid_inner.shape
    out = []
    for d in found:
        rec = to_map(d, outer_transform, gsd)
        col, row = inv * (rec["x"], rec["y"])
        c, r = int(np.floor(col)), int(np.floor(row))
        if not (0 <= c < w and 0 <= r < h) or not valid_inner[r, c]:
            continue  # centred in the margin (a neighbour's), in nodata, or outside the corridor
        if not shapely.contains_xy(watched_geom, rec["x"], rec["y"]):
            continue
        out.append({
            "polygon_wkb": shapely.to_wkb(shapely.Polygon(rec["polygon"])),
            "x": rec["x"], "y": rec["y"],
            "class": d.cls, "subclass": d.subclass, "score": round(float(d.score), 4),
            "length_m": round(rec["length_m"], 2), "width_m": round(rec["width_m"], 2),
            "heading_grid_deg": round(float(rec["heading_deg"]), 1),
            "heading_conf": round(float(getattr(d, "heading_conf", 0.0)), 3),
        })
    return out
