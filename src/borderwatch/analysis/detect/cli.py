"""``borderwatch detect``, ``train`` and ``evaluate`` (click commands; the main group adds them).

``detect`` needs only onnxruntime; ``train`` needs the optional torch extra.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from borderwatch.errors import InputError

__all__ = ["detect_cmd", "evaluate_cmd", "train_cmd", "load_labelled", "write_detections"]

FORMATS = ("dota", "yolo", "yolo-obb", "coco", "xview", "kit")
GEO_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img")


#: ``--no-screen`` for every command that runs the bundled detector (detect, evaluate, run)
no_screen_option = click.option(
    "--no-screen", is_flag=True,
    help="Run the detector on every pixel instead of only where its screen (first pass) fires; slower.")


# ------------------------------------------------------------------ helpers
def _detector(model: str | None, class_map: str | None, score: float | None, screen: bool = True, jpeg: bool = False):
    """The bundled/own-format detector or an external one; ``score`` None: the model's operating point;
    ``screen`` False: run the bundled detector on every pixel (no cascade first pass); ``jpeg``: the bundled
    model's variant for JPEG-compressed imagery."""
    from .runtime import FROM_MODEL, Detector

    if model and class_map:
        from .external import ExternalDetector

        return ExternalDetector(model, class_map, **({} if score is None else {"score_threshold": score}))
    if class_map and not model:
        raise InputError("--class-map", "a class map is for an external --model; the bundled model needs none")
    kw = {"score_threshold": FROM_MODEL if score is None else score, "screen": FROM_MODEL if screen else None}
    return Detector(model, **kw) if model else Detector.load_default(jpeg=jpeg, **kw)


def _is_jpeg(path: Path) -> bool:
    """A JPEG file, or a raster with JPEG compression (unreadable files are left to the reader's own error)."""
    from borderwatch.errors import SceneError
    from borderwatch.imagery.handles import jpeg_compressed, open_raster

    try:
        with open_raster(str(path)) as ds:
            return jpeg_compressed(ds)
    except SceneError:
        return False


def _is_georeferenced(path: Path) -> bool:
    if path.suffix.lower() not in GEO_SUFFIXES:
        return False
    import rasterio

    try:
        with rasterio.open(path) as ds:
            return ds.crs is not None and not ds.transform.is_identity
    except Exception:  # noqa: BLE001
        return False


def _geod_heading(transformer, x: float, y: float, heading_grid: float) -> float:
    """Bearing from true north of a map-grid heading at (x, y) (drops the meridian convergence)."""
    from pyproj import Geod

    t = math.radians(heading_grid)
    lon0, lat0 = transformer.transform(x, y)
    lon1, lat1 = transformer.transform(x + math.sin(t), y + math.cos(t))
    az, _, _ = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    return az % 360.0


def detections_to_records(dets, image: str, *, transform=None, crs=None, gsd_m: float = 1.0,
                          model: str = "") -> list[dict[str, Any]]:
    """Plain records: pixel coordinates (no transform) or EPSG:4326 lon/lat (with transform + crs)."""
    from .sliced import to_map

    recs = []
    to_ll = None
    if transform is not None:
        from pyproj import Transformer

        to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    for d in dets:
        rec: dict[str, Any] = {
            "image": image, "class": d.cls, "subclass": d.subclass, "score": round(float(d.score), 4),
            "heading_conf": round(float(getattr(d, "heading_conf", 1.0 if d.has_front else 0.0)), 3),
            "has_front": bool(d.has_front), "model": model,
        }
        if to_ll is None:
            poly = d.box.corners().tolist()
            rec.update(coords="pixel", cx=round(d.box.cx, 2), cy=round(d.box.cy, 2),
                       length_m=round(d.box.length * gsd_m, 2), width_m=round(d.box.width * gsd_m, 2),
                       heading_deg=round(d.box.angle_deg, 1), polygon=[[round(x, 2), round(y, 2)] for x, y in poly])
        else:
            m = to_map(d, transform, gsd_m)
            lon, lat = to_ll.transform(m["x"], m["y"])
            xs, ys = zip(*m["polygon"])
            plon, plat = to_ll.transform(list(xs), list(ys))
            rec.update(coords="EPSG:4326", cx=round(lon, 7), cy=round(lat, 7), length_m=round(m["length_m"], 2),
                       width_m=round(m["width_m"], 2),
                       heading_deg=round(_geod_heading(to_ll, m["x"], m["y"], m["heading_deg"]), 1),
                       polygon=[[round(a, 7), round(b, 7)] for a, b in zip(plon, plat)])
        recs.append(rec)
    return recs


def write_detections(records: list[dict[str, Any]], out: str | Path) -> Path:
    """GeoJSON (polygons; pixel or lon/lat as each record says) or CSV (polygon as WKT)."""
    out = Path(out)
    suf = out.suffix.lower()
    if suf not in (".geojson", ".json", ".csv"):
        raise InputError(out, "output must end in .geojson, .json or .csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suf == ".csv":
        cols = ["image", "class", "subclass", "score", "coords", "cx", "cy", "length_m", "width_m", "heading_deg",
                "heading_conf", "has_front", "model", "polygon"]
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in records:
                ring = r["polygon"] + [r["polygon"][0]]
                w.writerow({**{k: r.get(k) for k in cols},
                            "polygon": "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"})
        return out
    feats = []
    for r in records:
        props = {k: v for k, v in r.items() if k != "polygon"}
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [r["polygon"] + [r["polygon"][0]]]}})
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
    if records and all(r["coords"] == "pixel" for r in records):
        fc["coordinates"] = "pixel (x right, y down) of each image; not georeferenced"
    out.write_text(json.dumps(fc), encoding="utf-8")
    return out


def _read_plain(path: Path) -> np.ndarray:
    from .runtime import _read_image

    return _read_image(path)


def load_labelled(fmt: str, labels: str | Path, *, names: str | None = None, class_map: str | None = None,
                  image_dir: str | None = None, front: bool = False) -> list:
    """Labelled images in one of :data:`FORMATS` ('kit' = a KIT AIS folder)."""
    from . import labels as L
    from .kit import load_kit_ais

    fmt = fmt.lower()
    if fmt == "dota":
        return L.read_dota(labels, image_dir=image_dir, class_map=class_map, front=front)
    if fmt in ("yolo", "yolo-obb"):
        if not names:
            raise InputError("--names", "YOLO labels need --names (a .names/.txt list or a data YAML)")
        return L.read_yolo(labels, names, obb=fmt == "yolo-obb", image_dir=image_dir, class_map=class_map, front=front)
    if fmt == "coco":
        return L.read_coco(labels, image_dir=image_dir, class_map=class_map)
    if fmt == "xview":
        return L.read_xview(labels, image_dir=image_dir, class_map=class_map)
    if fmt == "kit":
        return load_kit_ais(labels, class_map=class_map)
    raise InputError("--format", f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


# ------------------------------------------------------------------ detect
@click.command("detect")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--gsd", type=float, default=None, help="Metres per pixel of plain images (PNG/JPEG screenshots).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output .geojson or .csv (one row per vehicle).")
@click.option("--model", default=None, type=click.Path(exists=True, dir_okay=False),
              help="ONNX model (default: the bundled one); with --class-map an external YOLO-OBB export.")
@click.option("--class-map", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YAML class map of an external --model.")
@click.option("--score", type=float, default=None,
              help="Score threshold (default: the model's operating point, 0.3 for external models).")
@click.option("--stretch", is_flag=True, help="Accept 16-bit images by a linear stretch to 8 bits (with a warning).")
@no_screen_option
def detect_cmd(images, gsd, out_path, model, class_map, score, stretch, no_screen) -> None:
    """Detect vehicles and heavy equipment in IMAGES; write oriented boxes with headings.

    A georeferenced GeoTIFF gives lon/lat (EPSG:4326) output, heading from true
    north. A plain PNG/JPEG needs --gsd and gives pixel coordinates (heading
    from the image's up direction). JPEG-compressed images (a JPEG file, or a
    GeoTIFF with JPEG compression) are read by the bundled model's JPEG variant
    unless --model is given; each record names the model that made it.
    """
    from .sliced import detect_raster

    det = _detector(model, class_map, score, screen=not no_screen)
    jpeg_det = None  # the bundled model's JPEG variant, loaded for the first JPEG image
    records: list[dict[str, Any]] = []
    for img in images:
        p = Path(img)
        use = det
        if not model and _is_jpeg(p):
            jpeg_det = jpeg_det or _detector(None, None, score, screen=not no_screen, jpeg=True)
            use = jpeg_det
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if _is_georeferenced(p):
                dets, transform, crs, g = detect_raster(p, use, stretch=stretch)
                records += detections_to_records(dets, p.name, transform=transform, crs=crs, gsd_m=g, model=use.name)
            else:
                if gsd is None:
                    raise InputError(p, "not a georeferenced raster: give its metres per pixel with --gsd")
                dets = use.detect_array(_read_plain(p), gsd, stretch=stretch, source=p)
                records += detections_to_records(dets, p.name, gsd_m=gsd, model=use.name)
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        click.echo(f"{p.name}: {sum(1 for r in records if r['image'] == p.name)} detections", err=True)
    write_detections(records, out_path)
    click.echo(f"wrote {len(records)} detections to {out_path}")


# ------------------------------------------------------------------ evaluate
def _format_result(res) -> str:
    lines = [f"{'class':16s} {'AP50':>6s} {'true':>6s} {'pred':>6s} {'prec':>6s} {'recall':>6s}"]
    for c, r in res.per_class.items():
        f = (lambda v: "  -   " if v is None else f"{v:6.3f}")
        lines.append(f"{c:16s} {f(r.ap)} {r.n_true:6d} {r.n_pred:6d} {f(r.precision)} {f(r.recall)}")
    lines.append(f"mAP50 {res.mean_ap if res.mean_ap is None else round(res.mean_ap, 3)}; "
                 f"count {res.count.pred} predicted / {res.count.true} true")
    errs = [g.rel_error for g in res.count_per_group.values() if g.rel_error is not None]
    if errs:
        lines.append(f"count error per image: median {np.median(errs):.3f}, mean {np.mean(errs):.3f}, "
                     f"90th pct {np.percentile(errs, 90):.3f} over {len(errs)} groups")
    h = res.heading
    if h.n:
        lines.append(f"heading error over {h.n} matches: median {h.median_deg:.1f} deg, 90th pct {h.p90_deg:.1f} deg, "
                     f"flipped {100 * h.flip_share:.1f}%")
    else:
        lines.append("heading error: no labels with a front")
    if res.extra.get("hbb"):
        lines.append("(axis-aligned labels: predictions scored by their axis-aligned bounds)")
    return "\n".join(lines)


def result_dict(res) -> dict[str, Any]:
    errs = [g.rel_error for g in res.count_per_group.values() if g.rel_error is not None]
    return {
        "per_class": {c: vars(r) for c, r in res.per_class.items()},
        "mean_ap": res.mean_ap,
        "count": vars(res.count),
        "count_error_per_group": {"n": len(errs), "median": float(np.median(errs)) if errs else None,
                                  "mean": float(np.mean(errs)) if errs else None,
                                  "p90": float(np.percentile(errs, 90)) if errs else None},
        "heading": vars(res.heading), "iou": res.iou, "score_threshold": res.score_threshold, "extra": res.extra,
    }


@click.command("evaluate")
@click.argument("labels", type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Label format.")
@click.option("--names", default=None, help="YOLO class names (.names/.txt or data YAML).")
@click.option("--labels-class-map", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YAML map from the labels' class names to borderwatch classes (default: built-in).")
@click.option("--image-dir", default=None, type=click.Path(exists=True, file_okay=False))
@click.option("--front", is_flag=True, help="DOTA/YOLO-OBB polygons start at the vehicle's front-left corner.")
@click.option("--gsd", type=float, default=None, help="Metres per pixel for images without a GSD in their labels.")
@click.option("--resample-to", type=float, default=None, help="Resample images and labels to this GSD first.")
@click.option("--holdout", type=float, default=None,
              help="Score only the sequence-held-out block (fraction, as split_by_sequence) of the set.")
@click.option("--holdout-run", multiple=True,
              help="Score only the whole run (consecutive frames) holding this image, e.g. MOS74; repeatable.")
@click.option("--model", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--class-map", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YAML class map of an external --model.")
@click.option("--iou", type=float, default=0.5, show_default=True)
@click.option("--score", type=float, default=None,
              help="Operating point for counts/precision (default: the model's, 0.3 for external models).")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Also write results as JSON.")
@click.option("--jpeg-variant", is_flag=True,
              help="Score the bundled model's variant for JPEG-compressed imagery (what run and detect use there).")
@no_screen_option
def evaluate_cmd(labels, fmt, names, labels_class_map, image_dir, front, gsd, resample_to, holdout, holdout_run, model,
                 class_map, iou, score, json_out, jpeg_variant, no_screen) -> None:
    """Score a detector on a labelled set: AP50 per class, count error, heading error (median, 90th pct).

    Count errors are per image (a synthetic evaluation image covers one site).
    """
    from .kit import split_by_sequence
    from .runtime import evaluate_detector

    if jpeg_variant and model:
        raise InputError("--jpeg-variant", "the JPEG variant is a bundled model; give either it or --model")
    images = load_labelled(fmt, labels, names=names, class_map=labels_class_map, image_dir=image_dir, front=front)
    if holdout is not None and holdout_run:
        raise InputError("--holdout-run", "give either --holdout or --holdout-run, not both")
    if holdout is not None:
        images = split_by_sequence(images, holdout).test
    elif holdout_run:
        images = split_by_sequence(images, holdout_run, whole_runs=True).test
    if not images:
        raise InputError(labels, "no labelled images found")
    det = _detector(model, class_map, score, screen=not no_screen, jpeg=jpeg_variant)
    score = det.score_threshold if score is None else score  # detections down to 0.05 are scored for AP
    res, _, _ = evaluate_detector(det, images, gsd_m=gsd, resample_to=resample_to, iou=iou, score_threshold=score)
    click.echo(f"{len(images)} images, model {det.name}")
    click.echo(_format_result(res))
    if json_out:
        Path(json_out).write_text(json.dumps(result_dict(res), indent=2, default=str), encoding="utf-8")


# ------------------------------------------------------------------ train
@click.command("train")
@click.argument("labels", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Label format of LABELS.")
@click.option("--names", default=None, help="YOLO class names (.names/.txt or data YAML).")
@click.option("--labels-class-map", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--image-dir", default=None, type=click.Path(exists=True, file_okay=False))
@click.option("--front", is_flag=True, help="DOTA/YOLO-OBB polygons start at the vehicle's front-left corner.")
@click.option("--gsd", type=float, default=None, help="Metres per pixel for images without a GSD.")
@click.option("--synth-seeds", default="100:140", show_default=True,
              help="Synthetic training worlds START:END (seeds below 1000); '' for none.")
@click.option("--minutes", type=float, default=30.0, show_default=True)
@click.option("--init", "init_model", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Fine-tune from this PyTorch state dict (model.pt).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="ONNX model to write.")
def train_cmd(labels, fmt, names, labels_class_map, image_dir, front, gsd, synth_seeds, minutes, init_model,
              out_path) -> None:
    """Train (or fine-tune) the oriented detector on labelled sets plus synthetic worlds; write an ONNX model.

    Needs the optional torch extra. Real images are resampled to 0.3 m first
    and trained at the model GSD with scale, rotation, flip and colour
    augmentation. For reproducible bundled-model training see
    scripts/train_detector.py.
    """
    try:
        import torch
    except ImportError:
        raise InputError("train", "training needs PyTorch: pip install 'borderwatch[train]'") from None
    from .export import export_onnx
    from .model import OrientedCenterNet, load_compatible
    from .train import read_rgb, sample_from_labelled, synth_samples, train

    real = []
    if labels and not fmt:
        raise InputError("--format", "give the label format of LABELS")
    for lab in labels:
        for im in load_labelled(fmt, lab, names=names, class_map=labels_class_map, image_dir=image_dir, front=front):
            g = im.gsd_m or gsd
            if g is None:
                raise InputError(im.path, "image has no GSD; pass --gsd")
            import cv2

            src = read_rgb(im.path)
            f = g / 0.3 if g < 0.3 else 1.0
            img = cv2.resize(src, (round(src.shape[1] * f), round(src.shape[0] * f)), interpolation=cv2.INTER_AREA)
            real.append(sample_from_labelled(im, img, g / f, f))
    synth = []
    if synth_seeds:
        a, b = (int(v) for v in synth_seeds.split(":"))
        if b > 1000:
            raise InputError("--synth-seeds", "training seeds must stay below 1000 (>= 1000 are for evaluation)")
        synth = synth_samples(range(a, b), log=lambda m: click.echo(m, err=True))
    if not real and not synth:
        raise InputError("train", "nothing to train on: give LABELS and/or --synth-seeds")
    init = None
    if init_model:
        init = OrientedCenterNet()
        load_compatible(init, torch.load(init_model))  # older models gain the axis head
    net = train(synth or real, real, minutes=minutes, real_share=0.3 if (real and synth) else 0.0,
                log=lambda m: click.echo(m, err=True), init=init)
    out = Path(out_path)
    torch.save(net.state_dict(), out.with_suffix(".pt"))
    export_onnx(net, out, version="custom")
    click.echo(f"wrote {out} ({net.train_info['steps']} steps)")
