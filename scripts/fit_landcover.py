"""Fit (and score) the land-cover models shipped in borderwatch/analysis/landcover/: the MLP heads
(params.json) and the conv water net of the 3-10 m RGB path (water_cnn.onnx).

Recipe (reproducible; the MLP heads need numpy only, the conv net torch + onnx at fit time, never at run time):

    python scripts/fit_landcover.py fit  --naip DIR_WITH_NAIP_TIFS [--seeds 100-139] [--synth-dates D1,D2,...] [--out params.json]
    python scripts/fit_landcover.py fit-cnn --naip DIR_WITH_NAIP_TIFS --seed S --out net_S.onnx   # one 3-10 m conv water net
                                                                        # the shipped members: --channels 32,48,64 --epochs 180
                                                                        # [--device cuda] (a GPU: ~5 min; one CPU core: ~1.7 h)
                                                                        # [--part left|both]: crops from the left half (default) or whole width
                                                                        # [--water-aug P]: recolour the water of a crop with probability P (default 0: off)
                                                                        # [--water-colours NAMES]: which lake colours --water-aug draws (default: all)
    python scripts/fit_landcover.py ensemble --nets net_0.onnx,net_1.onnx,net_2.onnx --tag T --out water_cnn.onnx
                                                                        # the shipped file: mean p of three seeds (lc-mlp-cnn-4/5/6)
    python scripts/fit_landcover.py crops --naip DIR --landsat DIR   # test fixtures
    python scripts/fit_landcover.py eval --naip DIR_WITH_NAIP_TIFS --landsat DIR_WITH_LANDSAT_TIFS [--seeds 1000-1007]
                                         [--no-synth] [--cnn NET.onnx] [--dates 20190904]   # --dates: NAIP scenes to score
                                         [--params P.json] [--synth-dates D1,D2,...]   # synthetic scores per date

Training data
- synthetic: SynthWorld(load_corridor("yalu-upper"), seed) for seeds in --seeds (100-199 are the
  fitting seeds; 1000+ are held out for scoring), tiles of 256 m at 0.5 / 0.8 / 0.3 / 1.0 m GSD,
  half at random chainages near the river and half centred on truth sites (to see disturbed
  ground), on the world's two default dates (July and September) or on --synth-dates (tile k on
  date k modulo their number). Labels: the truth code at the centre of each coarse feature cell.
- real: the NAIP lakes series (RGBN, 5 m). Water labels from ndwi_water_reference (see
  reference.py). Only the left half (columns < W/2) of the TRAIN_DATES scenes is used for
  fitting (fit-cnn --part both, tried and not shipped, would use the whole width); scoring uses the right
  half of the other dates (and, for information, whole scenes).
Heads: water_rgb (water vs not, RGB features, synthetic + NAIP), land (classes 2..7, and 8 = ice when a
frozen date was rendered; synthetic only, RGB features; with --negatives-kit/--negatives-minsk also real street frames
as "not sandbar, not ice", scripts/landcover_negatives.py: tried, not shipped), water_nir (water vs not, RGB+NIR features, NAIP only); the conv water net
(fit-cnn) for RGB at 3-10 m. Dates 2010, 2014, 2016, 2018, 2020 are never fitted.

Shipped now (LANDCOVER_VERSION lc-mlp-cnn-7): the MLP heads of params.json (fit --seeds 100-139 --tiles 14 --keep 0.12
--epochs 10 --hidden-land 48 --synth-dates 2025-05-20,2025-07-31,2025-09-13,2025-10-25,2025-12-05,2026-01-15,2026-03-20
--nir-from <fit-20261125e params.json> --tag fit-20261127-seasons), and the water net:
three fits of fit-cnn --channels 32,48,64 --epochs 180 (seeds 0, 1, 2; on a GPU, --device cuda) merged by
`ensemble` (tag cnn-20261126-wide-ens3). Every recipe tried, every choice and every figure, with dates:
docs/landcover-fitting.md. Current figures: the model card (src/borderwatch/analysis/landcover/MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
from scipy import ndimage

from borderwatch.analysis.landcover.classify import classify_landcover
from borderwatch.analysis.landcover.codes import CODES, ICE, LANDCOVER_VERSION, SANDBAR
from borderwatch.analysis.landcover.features import RGB_FEATURES, coarse_features, factor_for
from borderwatch.analysis.landcover.model import PARAMS_FILE, Head, load_params
from borderwatch.analysis.landcover.reference import iou, iou_beyond_shore, ndwi_water_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_seeds(text: str) -> list[int]:
    """Shared argument parsing (evaluate_sites.parse_seeds), imported late: fit-cnn needs no corridor or sites code."""
    from evaluate_sites import parse_seeds as parse

    return parse(text)

TRAIN_DATES = ("20090818", "20120731", "20150926", "20170827", "20190904")
GSDS = (0.5, 0.8, 0.3, 1.0)
TILE_M = 256.0
PARTS = {"left": "left half", "both": "whole scene"}  # fit-cnn --part -> the net's naip_train_part


# -- data ---------------------------------------------------------------------------------
def synth_tiles(seed: int, n_tiles: int, gsds, rng, dates=None):
    """Yield (rgb, truth, gsd) tiles of one synthetic world seen on ``dates`` (default: the world's default
    dates, July and September); tile k is rendered on date k modulo their number."""
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    c = load_corridor("yalu-upper")
    w = SynthWorld(c, seed=seed, dates=dates)
    sites = w.sites()
    for k in range(n_tiles):
        gsd = gsds[k % len(gsds)]
        if k % 2 and sites:
            s = sites[rng.integers(len(sites))]
            x, y = s["x"] + rng.uniform(-80, 80), s["y"] + rng.uniform(-80, 80)
        else:
            p = c.point_at(rng.uniform(0.3, c.length_km - 0.3), rng.uniform(-500, 500))
            x, y = p.x, p.y
        d = w.dates[k % len(w.dates)]
        b = (x - TILE_M / 2, y - TILE_M / 2, x + TILE_M / 2, y + TILE_M / 2)
        rgb, lc = w.render_with_landcover(b, gsd, d)
        yield rgb, lc, gsd


def cells(img, truth, gsd, nir=False):
    """Coarse features (n, F) and the truth code at each coarse cell's centre."""
    f = factor_for(gsd)
    F = coarse_features(img, f, nir)
    h, w, nf = F.shape
    t = truth[f // 2 :: f, f // 2 :: f][:h, :w]
    F = F[: t.shape[0], : t.shape[1]]
    return F.reshape(-1, nf), t.ravel()


def naip_scenes(naip_dir: Path):
    import rasterio

    for p in sorted(naip_dir.glob("*.tif")):
        with rasterio.open(p) as ds:
            a = ds.read()
        yield p.stem.rsplit("_", 1)[-1], a


# -- training -----------------------------------------------------------------------------
def train_head(x, y, classes, w=None, hidden=32, epochs=12, seed=0, lr=3e-3, batch=2048, allowed=None):
    """Softmax MLP (one ReLU layer) with Adam on weighted cross-entropy; returns a Head.

    ``allowed``: optional (n, len(classes)) bool, the classes each cell may be (a partial label: a real street
    frame is known to hold no sandbar, not which land class each pixel is). Rows that allow every class say
    nothing; y is ignored where given. The loss is -log of the probability summed over the allowed classes,
    which for a one-hot row is the usual cross-entropy."""
    rng = np.random.default_rng(seed)
    x = x.astype(np.float32)
    mu, sd = x.mean(0), x.std(0) + 1e-4
    xs = (x - mu) / sd
    yi = np.searchsorted(np.array(classes), y)
    if allowed is None:
        allowed = np.zeros((len(y), len(classes)), bool)
        allowed[np.arange(len(y)), yi] = True
    allowed = np.asarray(allowed, bool)
    w = np.ones(len(y), np.float32) if w is None else w.astype(np.float32)
    w = w / w.mean()
    nf, k = x.shape[1], len(classes)
    P = {"w1": rng.normal(0, np.sqrt(2 / nf), (nf, hidden)).astype(np.float32), "b1": np.zeros(hidden, np.float32),
         "w2": rng.normal(0, np.sqrt(1 / hidden), (hidden, k)).astype(np.float32), "b2": np.zeros(k, np.float32)}
    m = {n: np.zeros_like(v) for n, v in P.items()}
    v2 = {n: np.zeros_like(v) for n, v in P.items()}
    t = 0
    for ep in range(epochs):
        order = rng.permutation(len(y))
        loss = 0.0
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            xb, ab, wb = xs[idx], allowed[idx], w[idx]
            hpre = xb @ P["w1"] + P["b1"]
            h = np.maximum(hpre, 0)
            z = h @ P["w2"] + P["b2"]
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            pa = np.where(ab, p, 0.0)
            mass = pa.sum(1)
            loss += float(-(wb * np.log(mass + 1e-9)).sum())
            g = p - pa / np.maximum(mass, 1e-30)[:, None]  # d(-log sum_allowed p)/dz: exactly p - onehot for a one-hot row
            g *= (wb / len(ab))[:, None]
            G = {"w2": h.T @ g, "b2": g.sum(0)}
            gh = (g @ P["w2"].T) * (hpre > 0)
            G["w1"] = xb.T @ gh + 1e-4 * P["w1"]
            G["b1"] = gh.sum(0)
            t += 1
            for n in P:
                m[n] = 0.9 * m[n] + 0.1 * G[n]
                v2[n] = 0.999 * v2[n] + 0.001 * G[n] ** 2
                P[n] -= lr * (m[n] / (1 - 0.9**t)) / (np.sqrt(v2[n] / (1 - 0.999**t)) + 1e-8)
        print(f"  epoch {ep + 1}/{epochs} loss {loss / len(y):.4f}", file=sys.stderr)
    return Head(mu=mu, sd=sd, classes=tuple(int(c) for c in classes), **P)


def synthetic_cells(args, rng) -> tuple[np.ndarray, np.ndarray]:
    """The fit's synthetic (features, truth) cells. With --cache FILE they are kept there with the random state
    after drawing them, so a variant fitted on the same worlds skips the rendering and draws the same NAIP sample."""
    key = json.dumps({"seeds": args.seeds, "tiles": args.tiles, "keep": args.keep, "dates": args.synth_dates,
                      "gsds": GSDS})
    cache = Path(args.cache) if getattr(args, "cache", None) else None
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                rng.bit_generator.state = json.loads(str(z["rng"]))
                return z["x"], z["y"]
        print(f"{cache} holds other synthetic cells: rendering", file=sys.stderr)
    xs, ys = [], []
    for sd in parse_seeds(args.seeds):
        for rgb, lc, gsd in synth_tiles(sd, args.tiles, GSDS, rng, parse_dates(args.synth_dates)):
            x, y = cells(rgb, lc, gsd)
            keep = (y > 0) & (rng.random(len(y)) < args.keep)
            xs.append(x[keep])
            ys.append(y[keep])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if cache is not None:
        np.savez(cache, x=x, y=y, key=key, rng=json.dumps(rng.bit_generator.state))
    return x, y


def negative_cells(args) -> np.ndarray:
    """Features of real street frames holding no water and no sandbar (scripts/landcover_negatives.py), at every
    fitting GSD, a random --negatives-keep share of their cells (a random stream of their own)."""
    from landcover_negatives import FOLDS, PLACES, frames

    places = tuple(PLACES) if args.negatives_places == "all" else FOLDS[args.negatives_places]
    rng = np.random.default_rng(2)
    dirs = {"kit": args.negatives_kit, "minsk": args.negatives_minsk}
    xs = []
    for gsd in GSDS:
        for _, _, rgb in frames(dirs, places, gsd):
            f = factor_for(gsd)
            x = coarse_features(rgb, f, False).reshape(-1, len(RGB_FEATURES))
            xs.append(x[rng.random(len(x)) < args.negatives_keep])
    return np.concatenate(xs)


def fit(args) -> None:
    rng = np.random.default_rng(1)
    seeds = parse_seeds(args.seeds)
    t0 = time.time()
    xs_syn, ys_syn = synthetic_cells(args, rng)
    print(f"synthetic cells {len(ys_syn)} from {len(seeds)} seeds in {time.time() - t0:.0f}s; "
          f"class counts {np.bincount(ys_syn, minlength=len(CODES)).tolist()}", file=sys.stderr)
    xn, yn = [], []
    for name, a in naip_scenes(Path(args.naip)):
        if name not in TRAIN_DATES:
            continue
        ref = ndwi_water_reference(a)
        half = a.shape[2] // 2
        x4, y4 = cells(a[:, :, :half], ref[:, :half].astype(np.uint8), 5.0, nir=True)
        keep = rng.random(len(y4)) < args.keep_naip
        xn.append(x4[keep])
        yn.append(y4[keep])
    xn, yn = np.concatenate(xn), np.concatenate(yn)
    n_rgb = xs_syn.shape[1]
    print(f"NAIP cells {len(yn)} (water {yn.mean():.2f})", file=sys.stderr)
    # water head: synthetic + NAIP, each half of the total weight
    xw = np.concatenate([xs_syn, xn[:, :n_rgb]])
    yw = np.concatenate([(ys_syn == 1).astype(int), yn.astype(int)])
    ww = np.concatenate([np.full(len(ys_syn), 0.5 / len(ys_syn)), np.full(len(yn), 0.5 / len(yn))])
    print("water_rgb", file=sys.stderr)
    water_rgb = train_head(xw, yw, (0, 1), ww, hidden=args.hidden_water, epochs=args.epochs)
    negatives = args.negatives_kit is not None
    xneg = negative_cells(args) if negatives else np.zeros((0, n_rgb), np.float32)
    share = args.negatives_weight if negatives else 0.0
    if negatives:
        print(f"real street cells {len(xneg)} (places {args.negatives_places}, weight {share})", file=sys.stderr)
    if args.nir_from:  # the NIR head fits NAIP only: keep a validated one rather than refit it on another sample
        donor = json.loads(Path(args.nir_from).read_text())
        water_nir, nir_source = donor["water_nir"], f"kept from {donor['version']}"
    else:
        print("water_nir", file=sys.stderr)
        water_nir, nir_source = train_head(xn, yn.astype(int), (0, 1), None, hidden=16, epochs=args.epochs).to_dict(), "fitted"
    land = ys_syn != 1
    yl = ys_syn[land]
    cnt = np.bincount(yl, minlength=len(CODES)).astype(float)
    wl = 1.0 / np.sqrt(np.maximum(cnt[yl], 1))
    land_classes = tuple(int(c) for c in np.flatnonzero(cnt))  # ice only when a frozen date was rendered
    print(f"land {land_classes}", file=sys.stderr)
    xl, allowed = xs_syn[land], None  # allowed None: every cell's one class (train_head)
    if negatives:  # real street cells: any land class but sandbar and ice (a partial label), their own weight share
        allowed = np.zeros((len(yl) + len(xneg), len(land_classes)), bool)
        allowed[np.arange(len(yl)), np.searchsorted(land_classes, yl)] = True
        allowed[len(yl):] = [c not in (SANDBAR, ICE) for c in land_classes]
        wl = np.concatenate([wl * (1 - share) / wl.sum(), np.full(len(xneg), share / len(xneg))])
        xl, yl = np.concatenate([xl, xneg]), np.concatenate([yl, np.full(len(xneg), land_classes[0])])
    land_head = train_head(xl, yl, land_classes, wl, hidden=args.hidden_land, epochs=args.epochs, allowed=allowed)
    out = {
        "version": args.tag,
        "meta": {"landcover_version": LANDCOVER_VERSION, "seeds": args.seeds, "tiles_per_seed": args.tiles,
                 "gsds": list(GSDS), "synth_dates": [str(d) for d in parse_dates(args.synth_dates) or ()] or "world default", "hidden": {"water_rgb": args.hidden_water, "water_nir": 16, "land": args.hidden_land}, "naip_train_dates": list(TRAIN_DATES), "naip_train_part": "left half",
                 "water_nir": nir_source, "recipe": "scripts/fit_landcover.py fit",
                 **({"real_negatives": {"places": args.negatives_places, "keep": args.negatives_keep, "weight": share,
                                        "cells": int(len(xneg)), "labels": "land: not sandbar, not ice"}}
                    if negatives else {})},
        "water_rgb": water_rgb.to_dict(), "water_nir": water_nir, "land": land_head.to_dict(),
    }
    Path(args.out).write_text(json.dumps(out, separators=(",", ":")))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes) in {time.time() - t0:.0f}s", file=sys.stderr)


# -- scoring ------------------------------------------------------------------------------
def parse_dates(text: str | None):
    """--synth-dates: comma-separated ISO dates, or None for the synthetic world's default dates."""
    return [date.fromisoformat(t.strip()) for t in text.split(",")] if text else None


def confusion(pred, truth, n=len(CODES)):
    m = truth > 0
    return np.bincount(truth[m].astype(int) * n + pred[m], minlength=n * n).reshape(n, n)


def prf(cm):
    rows = {}
    for c in range(1, cm.shape[0]):
        tp = cm[c, c]
        fp = cm[:, c].sum() - tp
        fn = cm[c, :].sum() - tp
        if tp + fn == 0 and tp + fp == 0:
            continue
        rows[CODES[c]] = {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
                          "iou": tp / max(tp + fp + fn, 1), "truth_share": (tp + fn) / cm.sum()}
    return rows


def evaluate(args) -> None:
    if args.params:
        import borderwatch.analysis.landcover.model as model

        model.PARAMS_FILE = Path(args.params)
    if args.cnn:
        import borderwatch.analysis.landcover.cnn as cnn

        cnn.CNN_FILE = Path(args.cnn)
        cnn.load_cnn.cache_clear()
    load_params.cache_clear()
    rng = np.random.default_rng(7)
    seeds = parse_seeds(args.seeds)
    report = {"method": None, "synthetic": {}, "naip": {}, "landsat": {}}
    synth_dates = parse_dates(args.synth_dates)
    from borderwatch.corridor import load_corridor

    yalu = load_corridor("yalu-upper")
    for gsd in () if args.no_synth else (0.5, 0.8):
        # one score over the world's default dates, or one per date asked for (the same tiles on each)
        for d in [None] if synth_dates is None else synth_dates:
            cm = np.zeros((len(CODES), len(CODES)), np.int64)
            tiles_rng = rng if d is None else np.random.default_rng(7)  # per date: the same tiles on every date
            ice = d is not None and yalu.may_freeze_on(d)  # river ice is offered in the freeze season only, as in a run
            for sd in seeds:
                for rgb, lc, g in synth_tiles(sd, args.tiles, (gsd,), tiles_rng, None if d is None else [d]):
                    res = classify_landcover(rgb, np.ones(lc.shape, bool), g, ice=ice)
                    report["method"] = res.method
                    cm += confusion(res.classes, lc)
            key = str(gsd) if d is None else f"{gsd} {d}"
            report["synthetic"][key] = {"seeds": args.seeds, "pixel_accuracy": float(np.trace(cm) / cm.sum()),
                                        "classes": prf(cm)}
    if args.naip:
        for name, a in naip_scenes(Path(args.naip)):
            if args.dates and name not in args.dates.split(","):
                continue
            ref = ndwi_water_reference(a)
            v = (a > 0).any(0)
            half = a.shape[2] // 2
            r_rgb = classify_landcover(a[:3], v, 5.0).water_mask
            r_nir = classify_landcover(a, v, 5.0, nir=True).water_mask
            r_tiles = np.zeros_like(r_rgb)
            for sl in tile_slices(ref.shape, 128):  # ~640 m tiles, as the pipeline would cut them
                r_tiles[sl] = classify_landcover(np.ascontiguousarray(a[:3][:, sl[0], sl[1]]), v[sl], 5.0).water_mask
            r_margin = np.zeros_like(r_rgb)
            for sl, outer, inner in margin_slices(ref.shape, 128, pipeline_margin_px()):  # what the pipeline reads
                r_margin[sl] = classify_landcover(np.ascontiguousarray(a[:3][:, outer[0], outer[1]]), v[outer], 5.0).water_mask[inner]
            report["naip"][name] = {
                "split": "train date" if name in TRAIN_DATES else "held-out date",
                "iou_rgb_right_half": iou(r_rgb[:, half:], ref[:, half:]),
                "iou_rgb_full": iou(r_rgb, ref), "iou_rgb_tiles128": iou(r_tiles, ref),
                "iou_rgb_tiles128_margin": iou(r_margin, ref),
                "iou_rgb_tiles128_beyond_shore": iou_beyond_shore(r_tiles, ref),  # secondary: 1 px shore band left out
                "iou_nir_right_half": iou(r_nir[:, half:], ref[:, half:]),
                # the 0.3-2 m path (MLP heads) on the scene interpolated to 2 m: real lake colours at the feature
                # scale of that path, without its texture; a check that it still finds real water, not a target
                "iou_rgb_2m_path": naip_fine_iou(a, ref, 2.0),
                "ref_water_share": float(ref.mean()),
            }
    if args.negatives_kit:
        from landcover_negatives import FOLDS, PLACES, false_shares

        places = tuple(PLACES) if args.negatives_places == "all" else FOLDS[args.negatives_places]
        report["real_streets"] = false_shares({"kit": args.negatives_kit, "minsk": args.negatives_minsk}, places)
    if args.landsat:
        import rasterio

        for p in sorted(Path(args.landsat).glob("RGB*.tif")):
            with rasterio.open(p) as ds:
                a = ds.read()
            v = (a > 0).any(0)
            ref, cloud = landsat_reference(a, v)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pred = classify_landcover(a, v, 300.0).water_mask
            m = v & ~cloud
            report["landsat"][p.name] = {"warning": "; ".join(str(c.message) for c in caught),
                                         "iou_vs_blue_rule": iou(pred & m, ref & m),
                                         "ref_water_share": float(ref[m].mean()), "pred_water_share": float(pred[m].mean())}
    print(json.dumps(report, indent=1, default=float))


def naip_fine_iou(a, ref, gsd: float, tile_m: float = 512.0) -> float:
    """Water IoU of the RGB path at ``gsd`` (the MLP heads at 0.3-2 m) on a 5 m NAIP scene interpolated to it, cut
    into tiles of ``tile_m`` as the pipeline would; the reference upsampled (nearest)."""
    import cv2

    s = 5.0 / gsd
    rgb = np.stack([cv2.resize(b, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR) for b in a[:3]])
    r = cv2.resize(ref.astype(np.uint8), (rgb.shape[2], rgb.shape[1]), interpolation=cv2.INTER_NEAREST).astype(bool)
    v = (rgb > 0).any(0)
    pred = np.zeros_like(r)
    for sl in tile_slices(r.shape, int(round(tile_m / gsd))):
        pred[sl] = classify_landcover(np.ascontiguousarray(rgb[:, sl[0], sl[1]]), v[sl], gsd).water_mask
    return iou(pred, r)


def tile_slices(shape, n):
    """Row/column slices of n x n tiles covering shape (edge tiles smaller)."""
    return [(slice(r, r + n), slice(c, c + n)) for r in range(0, shape[0], n) for c in range(0, shape[1], n)]


def pipeline_margin_px(gsd_m: float = 5.0) -> int:
    """Context the pipeline reads around a tile for land cover (pipeline.tasks: LANDCOVER_MARGIN_M = 32 m, rounded
    up to whole 8 px blocks: 8 px at 5 m); the tiled scores "with margin" classify each 128 px tile with it
    (clipped at the scene edge) and keep the tile's pixels."""
    from borderwatch.pipeline.tasks import AnalysisParams, read_margin_m

    return int(round(read_margin_m(AnalysisParams(gsd_m=gsd_m, landcover=True)) / gsd_m))


def margin_slices(shape, n, m):
    """(tile, tile with margin m clipped to shape, tile inside the margin window) slices of n x n tiles."""
    out = []
    for sl in tile_slices(shape, n):
        r0, c0 = max(sl[0].start - m, 0), max(sl[1].start - m, 0)
        r1, c1 = min(sl[0].stop + m, shape[0]), min(sl[1].stop + m, shape[1])
        h, w = min(sl[0].stop, shape[0]) - sl[0].start, min(sl[1].stop, shape[1]) - sl[1].start
        a, b = sl[0].start - r0, sl[1].start - c0
        out.append((sl, (slice(r0, r1), slice(c0, c1)), (slice(a, a + h), slice(b, b + w))))
    return out


#: fit-cnn --channels default: the widths (full, 1/2 and 1/4 scale) of the first nets (lc-mlp-cnn-3 to -5). The shipped
#: lc-mlp-cnn-6 members are --channels 32,48,64, which their metadata records (a default width is not recorded)
CHANNELS = (16, 24, 32)


def _torch_net(channels=CHANNELS):
    """The water net (cnn.py): a three-scale U-Net, reflect padding, dilated convolutions at 1/4 scale; fitted
    here with torch, exported to ONNX for onnxruntime. `channels`: its widths at full, 1/2 and 1/4 scale."""
    import torch.nn as nn
    import torch.nn.functional as F
    from torch import cat

    def cbr(i, o, d=1):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=d, dilation=d, padding_mode="reflect"), nn.BatchNorm2d(o), nn.ReLU())

    class Net(nn.Module):
        def __init__(self, c=(16, 24, 32)):
            super().__init__()
            a, b, d = c
            self.e1 = nn.Sequential(cbr(6, a), cbr(a, a))
            self.e2 = nn.Sequential(cbr(a, b), cbr(b, b))
            self.e3 = nn.Sequential(cbr(b, d), cbr(d, d, 2), cbr(d, d, 4))
            self.d2 = nn.Sequential(cbr(d + b, b))
            self.d1 = nn.Sequential(cbr(b + a, a))
            self.out = nn.Conv2d(a, 1, 1)

        def forward(self, x):
            x1 = self.e1(x)
            x2 = self.e2(F.max_pool2d(x1, 2))
            x3 = self.e3(F.max_pool2d(x2, 2))
            y = self.d2(cat([F.interpolate(x3, scale_factor=2, mode="nearest"), x2], 1))
            y = self.d1(cat([F.interpolate(y, scale_factor=2, mode="nearest"), x1], 1))
            return self.out(y)

    return Net(tuple(channels))


def _augment(rgb, rng, gain=(0.85, 1.18)):
    """Radiometric jitter between dates: overall gain, per-band gain (white balance), gamma, small offset."""
    x = rgb.astype(np.float32) / 255
    g = rng.uniform(0.7, 1.4) * rng.uniform(gain[0], gain[1], 3)
    x = np.clip(x ** rng.uniform(0.8, 1.25) * g[:, None, None] + rng.uniform(-0.04, 0.04, 3)[:, None, None], 0, 1)
    return (x * 255).astype(np.uint8)


#: fit-cnn --water-aug: plausible lake colours (R, G, B ranges, uint8 before the radiometric jitter), drawn per crop
WATER_COLOURS = {"algae green": ((70, 130), (100, 165), (55, 105)), "turbid brown": ((100, 155), (90, 140), (65, 105)),
                 "sky glint": ((140, 220),) * 3}
WATER_AUG_MAX = 0.6  # largest weight of the shift toward the drawn colour


def _water_recolour(rgb, water, rng, wmax=WATER_AUG_MAX, colours=tuple(WATER_COLOURS)):
    """Shift the reference-water pixels of a crop toward a random plausible lake colour (algae green, turbid
    brown, sky glint), in log colour (x * f ** w, f = target / the crop's median water colour, so ripples and
    mixed shore pixels keep their contrast), with w a smooth random field (a coarse grid of 2-4 cells a side,
    bilinear) up to wmax: the net must tell bright lakes from land by shape, texture and context, not colour.
    `colours`: the WATER_COLOURS names to draw from."""
    if water.sum() < 16:
        return rgb
    kind = colours[rng.integers(len(colours))]
    lo_hi = WATER_COLOURS[kind]
    if len(lo_hi) == 1:  # grey-white: one level, a slight tint
        target = rng.uniform(*lo_hi[0]) * rng.uniform(0.95, 1.05, 3)
    else:
        target = np.array([rng.uniform(a, b) for a, b in lo_hi])
    x = rgb.astype(np.float32)
    med = np.median(x[:, water], axis=1) + 4.0
    f = ((target + 4.0) / med).astype(np.float32)
    g = int(rng.integers(2, 5))
    h, w = water.shape
    coarse = rng.uniform(0.2, 1.0, (g, g)).astype(np.float32)
    rr, cc = np.meshgrid(np.linspace(0, g - 1, h), np.linspace(0, g - 1, w), indexing="ij")
    wt = ndimage.map_coordinates(coarse, [rr, cc], order=1) * np.float32(wmax) * water
    y = (x + 4.0) * f[:, None, None] ** wt[None] - 4.0
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def water_colours(names: str | None) -> tuple[str, ...]:
    """The --water-colours names (comma-separated; None or empty: all of WATER_COLOURS), checked."""
    if not names:
        return tuple(WATER_COLOURS)
    out = tuple(n.strip() for n in names.split(","))
    unknown = [n for n in out if n not in WATER_COLOURS]
    if unknown:
        raise SystemExit(f"--water-colours: unknown {unknown}; choose from {list(WATER_COLOURS)}")
    return out


def _export_cnn(net, tag, meta, out: Path) -> None:
    """The net as ONNX (batch norm folded by the exporter; any tile size) with its version and fitting record
    in the file's metadata, as cnn.load_cnn reads it."""
    import torch

    from borderwatch.analysis.landcover.cnn import FORMAT
    from borderwatch.onnxrt import export_torch

    export_torch(net, torch.zeros(1, 6, 128, 128), out, input_names=["x"], output_names=["z"],
                 dynamic_axes={"x": {2: "h", 3: "w"}, "z": {2: "h", 3: "w"}},
                 meta={"borderwatch.format": FORMAT, "borderwatch.version": tag, "borderwatch.meta": json.dumps(meta)})


def train_water_net(args):
    """Fit the conv water net on random crops of the TRAIN_DATES scenes (NDWI reference): their left half
    (--part left, the lc-mlp-cnn-3/4 recipe; the right half stays unfitted for scoring) or whole width (--part
    both). Crops are cut and jittered with numpy on the CPU whatever the device, so a fit on --device cuda draws
    the same crops as one on the CPU. Returns the fitted net (on the CPU, in eval mode) and its fitting record."""
    import torch
    import torch.nn.functional as F

    from borderwatch.analysis.landcover.cnn import prepare

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    data = [(a[:3].copy(), ndwi_water_reference(a)) for name, a in naip_scenes(Path(args.naip))
            if name in args.dates.split(",")]
    assert data and all(n in TRAIN_DATES for n in args.dates.split(",")), "fit only on TRAIN_DATES"
    channels = tuple(int(c) for c in args.channels.split(","))
    colours = water_colours(getattr(args, "water_colours", None))
    net = _torch_net(channels).to(dev)
    opt = torch.optim.AdamW(net.parameters(), args.lr, weight_decay=1e-4)
    steps = args.epochs * args.steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
    ones = {}
    t0 = time.time()
    for ep in range(args.epochs):
        net.train()
        total = 0.0
        for _ in range(args.steps):
            n = int(rng.choice([64, 96, 128]))
            xs, ys = [], []
            for _ in range(max(2, (128 * 128 * 8) // (n * n))):
                rgb, ref = data[rng.integers(len(data))]
                width = rgb.shape[2] // 2 if args.part == "left" else rgb.shape[2]  # left: the right half is never fitted
                r, c = rng.integers(0, rgb.shape[1] - n), rng.integers(0, width - n)
                t, y = rgb[:, r : r + n, c : c + n], ref[r : r + n, c : c + n]
                if args.water_aug > 0 and rng.random() < args.water_aug:  # off by default: the same random stream
                    t = _water_recolour(t, y, rng, colours=colours)
                t = _augment(t, rng)
                k = rng.integers(4)
                t, y = np.rot90(t, k, (1, 2)), np.rot90(y, k)
                if rng.random() < 0.5:
                    t, y = t[:, :, ::-1], y[:, ::-1]
                v = ones.setdefault(n, np.ones((n, n), bool))
                xs.append(prepare(np.ascontiguousarray(t), v))
                ys.append(y.astype(np.float32)[None])
            z = net(torch.from_numpy(np.stack(xs)).to(dev))
            loss = F.binary_cross_entropy_with_logits(z, torch.from_numpy(np.stack(ys)).to(dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"  epoch {ep + 1}/{args.epochs} loss {total / args.steps:.4f} ({time.time() - t0:.1f}s)", file=sys.stderr)
    net = net.cpu().eval()
    meta = {"recipe": "scripts/fit_landcover.py fit-cnn", "naip_train_dates": args.dates.split(","),
            "naip_train_part": PARTS[args.part], "epochs": args.epochs, "steps_per_epoch": args.steps, "lr": args.lr,
            "seed": args.seed, "landcover_version": LANDCOVER_VERSION}
    if channels != CHANNELS:  # recorded only when changed, so the shipped recipe's metadata is unchanged
        meta["channels"] = list(channels)
    if args.water_aug > 0:  # likewise
        meta["water_aug"] = {"p": args.water_aug, "max_weight": WATER_AUG_MAX,
                             "colours": {k: WATER_COLOURS[k] for k in colours}}
    meta["fit_seconds"] = round(time.time() - t0)
    meta["fit_device"] = str(args.device)
    return net, meta


def export_water_net(net, tag: str, meta: dict, out: Path, check_rgb: np.ndarray) -> None:
    """Write the fitted net as ONNX and check that onnxruntime gives torch's answer (same padding, pooling,
    folded batch norm) on a 100 x 120 px crop of `check_rgb` ((3, H, W) uint8)."""
    import torch

    from borderwatch.analysis.landcover.cnn import cnn_water_proba, load_cnn, prepare

    _export_cnn(net, tag, meta, out)
    load_cnn.cache_clear()
    rgb = np.ascontiguousarray(check_rgb[:3, :100, :120])
    with torch.no_grad():
        x = prepare(rgb, np.ones(rgb.shape[1:], bool))  # 100 x 120: no padding needed
        pt = torch.sigmoid(net(torch.from_numpy(x)[None]))[0, 0].numpy()
    diff = float(np.abs(cnn_water_proba(rgb, np.ones(rgb.shape[1:], bool), load_cnn(str(out))) - pt).max())
    print(f"wrote {out} ({out.stat().st_size} bytes); onnxruntime vs torch max |dp| {diff:.2e}", file=sys.stderr)
    assert diff < 1e-4, diff


def fit_cnn(args) -> None:
    """fit-cnn: train_water_net, then export_water_net (the shipped water_cnn.onnx unless --out)."""
    from borderwatch.analysis.landcover.cnn import CNN_FILE

    net, meta = train_water_net(args)
    first = next(a for name, a in naip_scenes(Path(args.naip)) if name in args.dates.split(","))
    export_water_net(net, args.tag, meta, Path(args.out or CNN_FILE), first)


def merge_nets(paths, tag: str, out: Path) -> None:
    """One ONNX file from several fitted water nets (same input): each member's p = sigmoid(z), their mean p,
    and the logit of that mean as the output z (cnn.WaterNet's contract, so run time is unchanged). One file,
    one onnxruntime session; the members' fitting records go into the metadata."""
    import onnx
    from onnx import TensorProto, compose, helper

    from borderwatch.onnxrt import write_metadata
    from borderwatch.analysis.landcover.cnn import FORMAT

    members, nodes, inits, metas = [], [], [], []
    for i, p in enumerate(paths):
        m = onnx.load(str(p))
        props = {q.key: q.value for q in m.metadata_props}
        if props.get("borderwatch.format") != FORMAT:
            raise SystemExit(f"{p}: not a water net file")
        metas.append({"version": props["borderwatch.version"], **json.loads(props.get("borderwatch.meta", "{}"))})
        m = compose.add_prefix(m, f"m{i}_")
        members.append(m)
        nodes.append(helper.make_node("Identity", ["x"], [f"m{i}_x"]))
        nodes.extend(m.graph.node)
        inits.extend(m.graph.initializer)
        nodes.append(helper.make_node("Sigmoid", [f"m{i}_z"], [f"m{i}_p"]))
    n = len(members)
    nodes += [helper.make_node("Sum", [f"m{i}_p" for i in range(n)], ["psum"]),
              helper.make_node("Mul", ["psum", "inv_n"], ["pmean"]),
              helper.make_node("Clip", ["pmean", "p_lo", "p_hi"], ["p"]),
              helper.make_node("Sub", ["one", "p"], ["q"]),
              helper.make_node("Log", ["p"], ["logp"]), helper.make_node("Log", ["q"], ["logq"]),
              helper.make_node("Sub", ["logp", "logq"], ["z"])]
    inits += [helper.make_tensor(k, TensorProto.FLOAT, [], [v])
              for k, v in (("inv_n", 1.0 / n), ("p_lo", 1e-7), ("p_hi", 1 - 1e-7), ("one", 1.0))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, "h", "w"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1, "h", "w"])
    graph = helper.make_graph(nodes, "water_net_ensemble", [x], [z], inits)
    model = helper.make_model(graph, opset_imports=members[0].opset_import, producer_name="borderwatch")
    model.ir_version = members[0].ir_version
    onnx.checker.check_model(model)
    onnx.save_model(model, str(out))
    meta = {"recipe": "scripts/fit_landcover.py fit-cnn (per member) + ensemble", "combine": "mean of p",
            "members": metas, "naip_train_dates": sorted({d for m in metas for d in m.get("naip_train_dates", [])}),
            "naip_train_part": " + ".join(sorted({m.get("naip_train_part", "left half") for m in metas})),
            "landcover_version": LANDCOVER_VERSION}
    write_metadata(out, {"borderwatch.format": FORMAT, "borderwatch.version": tag, "borderwatch.meta": json.dumps(meta)})
    print(f"wrote {out} ({out.stat().st_size} bytes): mean p of {n} nets", file=sys.stderr)


def ensemble(args) -> None:
    """Merge fitted nets into one file and check it against the mean of the members' p."""
    from borderwatch.analysis.landcover.cnn import cnn_water_proba, load_cnn

    paths = args.nets.split(",")
    out = Path(args.out)
    merge_nets(paths, args.tag, out)
    load_cnn.cache_clear()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (3, 60, 84), dtype=np.uint8)
    v = np.ones(rgb.shape[1:], bool)
    want = np.mean([cnn_water_proba(rgb, v, load_cnn(p)) for p in paths], 0)
    diff = float(np.abs(cnn_water_proba(rgb, v, load_cnn(str(out))) - want).max())
    print(f"merged vs mean of members max |dp| {diff:.2e}", file=sys.stderr)
    assert diff < 1e-4, diff


def landsat_reference(a, v):
    """Landsat RGB has no NIR: reference water = blue above red by > 12 DN (clear sea is blue/cyan,
    land green/brown), clouds (all bands > 170) excluded. A colour rule, independent of the MLP."""
    r, g, b = (a[i].astype(np.int16) for i in range(3))
    cloud = (r > 170) & (g > 170) & (b > 170)
    return (b - r > 12) & v & ~cloud, cloud


def crops(args) -> None:
    """Write the small real-pixel test fixtures (tests/analysis/landcover/data/), chosen by a fixed
    rule on the reference alone (never on the classifier's output)."""
    import rasterio
    from PIL import Image

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = 128
    want = {"20180716": 0.4, "20200831": 0.4, "20160816": 0.0, "20190904": 0.2}  # date -> target water share
    for name, a in naip_scenes(Path(args.naip)):
        if name not in want:
            continue
        ref = ndwi_water_reference(a)
        half = a.shape[2] // 2  # right half: never used for fitting
        best = min(((abs(ref[r : r + n, c : c + n].mean() - want[name]), r, c)
                    for r in range(0, a.shape[1] - n, 64) for c in range(half, a.shape[2] - n, 64)))
        _, r, c = best
        stem = f"naip_{name}_r{r}_c{c}"
        Image.fromarray(np.ascontiguousarray(a[:, r : r + n, c : c + n].transpose(1, 2, 0)), "RGBA").save(out / f"{stem}_rgbn.png", optimize=True)
        Image.fromarray(ref[r : r + n, c : c + n].astype(np.uint8) * 255).save(out / f"{stem}_water.png", optimize=True)
        print(stem, float(ref[r : r + n, c : c + n].mean()))
    with rasterio.open(Path(args.landsat) / "RGB.byte.tif") as ds:
        a = ds.read()
    v = (a > 0).all(0)
    ref, cloud = landsat_reference(a, v)
    best = min(((abs(ref[r : r + n, c : c + n].mean() - 0.5) + cloud[r : r + n, c : c + n].mean(), r, c)
                for r in range(0, a.shape[1] - n, 32) for c in range(0, a.shape[2] - n, 32)
                if v[r : r + n, c : c + n].all()))
    _, r, c = best
    stem = f"landsat_RGB_r{r}_c{c}"
    Image.fromarray(np.ascontiguousarray(a[:, r : r + n, c : c + n].transpose(1, 2, 0))).save(out / f"{stem}_rgb.png", optimize=True)
    Image.fromarray(ref[r : r + n, c : c + n].astype(np.uint8) * 255).save(out / f"{stem}_water.png", optimize=True)
    print(stem, float(ref[r : r + n, c : c + n].mean()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--naip", required=True)
    f.add_argument("--seeds", default="100-139")
    f.add_argument("--tiles", type=int, default=6)
    f.add_argument("--keep", type=float, default=0.25)
    f.add_argument("--keep-naip", type=float, default=0.1)
    f.add_argument("--epochs", type=int, default=8)
    f.add_argument("--hidden-water", type=int, default=16)
    f.add_argument("--hidden-land", type=int, default=24)
    f.add_argument("--synth-dates", metavar="DATES", help="comma-separated ISO dates the synthetic worlds are seen on "
                   "(tile k on date k modulo their number; default: the world's default dates, July and September)")
    f.add_argument("--tag", default=date.today().strftime("fit-%Y%m%d"))
    f.add_argument("--nir-from", metavar="PARAMS", help="copy the water_nir head from this params file instead of "
                   "refitting it (it fits NAIP only; a refit on another random sample moved 2010 from 0.71 to 0.50)")
    f.add_argument("--out", default=str(PARAMS_FILE))
    f.add_argument("--cache", metavar="FILE.npz", help="keep the synthetic cells here (reused when the settings match)")
    f.add_argument("--negatives-kit", metavar="DIR", help="KIT AIS Munich frames: real streets with no water or sandbar "
                   "(scripts/landcover_negatives.py), fitted into the land head as not sandbar; with --negatives-minsk "
                   "(tried, not shipped: it cost synthetic crossing sites, docs/landcover-fitting.md)")
    f.add_argument("--negatives-minsk", metavar="DIR", help="Minsk drone frames (as --negatives-kit)")
    f.add_argument("--negatives-places", default="all", help="which places of the street frames: all, or a fold (a, b)")
    f.add_argument("--negatives-keep", type=float, default=0.25, help="share of the street frames' cells drawn")
    f.add_argument("--negatives-weight", type=float, default=0.05, help="the street cells' share of the land head's "
                   "weight")
    e = sub.add_parser("eval")
    e.add_argument("--naip")
    e.add_argument("--landsat")
    e.add_argument("--seeds", default="1000-1007")
    e.add_argument("--tiles", type=int, default=4)
    e.add_argument("--params", help="parameters to score instead of the shipped params.json")
    e.add_argument("--cnn", help="conv water net to score instead of the shipped water_cnn.onnx")
    e.add_argument("--no-synth", action="store_true", help="skip the synthetic scores (NAIP / Landsat only)")
    e.add_argument("--synth-dates", metavar="DATES", help="score the synthetic tiles on each of these ISO dates "
                   "(comma-separated; default: once, over the world's default dates)")
    e.add_argument("--negatives-kit", metavar="DIR", help="score the false water and sandbar on real street frames "
                   "(scripts/landcover_negatives.py); with --negatives-minsk")
    e.add_argument("--negatives-minsk", metavar="DIR")
    e.add_argument("--negatives-places", default="all", help="all, or a fold of places (a, b)")
    e.add_argument("--dates", help="comma-separated NAIP dates to score (default: all), e.g. 20190904 for the "
                   "development protocol")
    n = sub.add_parser("fit-cnn")
    n.add_argument("--naip", required=True)
    n.add_argument("--dates", default=",".join(TRAIN_DATES), help="NAIP dates to fit on (a subset of TRAIN_DATES)")
    n.add_argument("--epochs", type=int, default=60)
    n.add_argument("--steps", type=int, default=50, help="batches per epoch (each ~131k px)")
    n.add_argument("--lr", type=float, default=3e-3)
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--threads", type=int, default=1)
    n.add_argument("--channels", default=",".join(map(str, CHANNELS)),
                   help="the net's widths at full, 1/2 and 1/4 scale (default: the first nets'; the shipped ones: 32,48,64)")
    n.add_argument("--device", default="cpu", help="torch device to fit on, e.g. cuda (crops are cut on the CPU)")
    n.add_argument("--part", choices=tuple(PARTS), default="left",
                   help="scene columns the crops come from: left half (default) or both halves")
    n.add_argument("--water-aug", type=float, default=0.0, metavar="P",
                   help="recolour the reference water of a crop toward a random lake colour with probability P "
                   "(default 0: off)")
    n.add_argument("--water-colours", metavar="NAMES",
                   help="with --water-aug: the lake colours to draw from, comma-separated (default: all of "
                   + ", ".join(WATER_COLOURS) + ")")
    n.add_argument("--tag", default=date.today().strftime("cnn-%Y%m%d"))
    n.add_argument("--out", help="default: the shipped water_cnn.onnx")
    m = sub.add_parser("ensemble", help="merge fitted water nets into one ONNX file (mean p)")
    m.add_argument("--nets", required=True, help="comma-separated water net files (fit-cnn --out)")
    m.add_argument("--tag", required=True)
    m.add_argument("--out", required=True)
    c = sub.add_parser("crops")
    c.add_argument("--naip", required=True)
    c.add_argument("--landsat", required=True)
    c.add_argument("--out-dir", default="tests/analysis/landcover/data")
    a = ap.parse_args(argv)
    if a.cmd in ("fit", "eval") and (a.negatives_kit is None) != (a.negatives_minsk is None):
        ap.error("--negatives-kit and --negatives-minsk go together (the street frames of both data sets)")
    {"fit": fit, "fit-cnn": fit_cnn, "ensemble": ensemble, "eval": evaluate, "crops": crops}[a.cmd](a)


if __name__ == "__main__":
    main()
