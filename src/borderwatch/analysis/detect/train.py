"""Training data, augmentation and the training loop for the bundled detector (needs torch).

Samples are images at a known GSD with oriented boxes in their pixels. Every
training chip is cut from a sample by one affine warp that resamples it to the
model GSD with a random scale (standing in for a 0.3-0.6 m source), rotation
and flip; boxes, centres and headings go through the same affine, so a flipped
car keeps its front (a mirror changes the heading h to -h, see
:func:`warp_boxes`). Labels without a front (axis-aligned KIT boxes) train the
centre, and the size and axis where the box shape gives them; their heading
loss is masked. Sets whose labels miss vehicles (``Sample.exhaustive`` False,
e.g. the Minsk drone frames) train positives only: their heatmap's negative
loss is kept only close to labelled vehicles, so an unlabelled car elsewhere
is not taught as background.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from .classmap import CLASSES
from .labels import LabelledImage
from .modelspec import MODEL_GSD_M, STRIDE, SUBCLASSES
from .sliced import resample_rgb

__all__ = [
    "Sample",
    "calibration_chips",
    "estimate_gsd",
    "hard_cases",
    "kit_samples",
    "real_samples",
    "synth_samples",
    "synth_eval_set",
    "warp_boxes",
    "make_chip",
    "make_targets",
    "train",
]

CLS_INDEX = {c: i for i, c in enumerate(CLASSES)}
SUB_INDEX = {s: i for i, s in enumerate(SUBCLASSES)}
#: Axis-aligned labels whose long/short side ratio is below this are diagonal or
#: square-ish: their size and axis are unknown from the box, so both are masked.
MIN_AXIS_RATIO = 1.35


@dataclass
class Sample:
    """An RGB image (H, W, 3) uint8 at ``gsd_m`` with boxes in its pixels.

    ``boxes`` is (n, 5): cx, cy, length, width, heading (degrees, pixel convention).
    ``has_axis`` False: only the centre is known (size/heading masked);
    ``has_front`` False: the heading is known up to 180 degrees.
    ``exhaustive`` False: not every vehicle is labelled (no background loss far from labels).
    """

    image: np.ndarray
    gsd_m: float
    boxes: np.ndarray
    cls: np.ndarray
    sub: np.ndarray
    has_front: np.ndarray
    has_axis: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)
    exhaustive: bool = True

    @property
    def n(self) -> int:
        return len(self.boxes)


def _empty_sample(image: np.ndarray, gsd: float, source: str) -> Sample:
    return Sample(image, gsd, np.zeros((0, 5)), np.zeros(0, int), np.zeros(0, int), np.zeros(0, bool),
                  np.zeros(0, bool), source)


def sample_from_labelled(im: LabelledImage, image: np.ndarray, gsd_m: float, scale: float = 1.0) -> Sample:
    """A :class:`Sample` from a labelled image whose pixels were resized by ``scale``."""
    rows = []
    for lab in im.labels:
        b = lab.box
        ratio = b.length / b.width
        has_axis = lab.has_front or ratio >= MIN_AXIS_RATIO or not _is_hbb(lab)
        rows.append((b.cx * scale, b.cy * scale, b.length * scale, b.width * scale, b.angle_deg,
                     CLS_INDEX[lab.cls], SUB_INDEX.get(lab.subclass or "", -1), lab.has_front, has_axis))
    if not rows:
        return _empty_sample(image, gsd_m, str(im.path))
    a = np.array([r[:5] for r in rows], float)
    return Sample(image, gsd_m, a, np.array([r[5] for r in rows]), np.array([r[6] for r in rows]),
                  np.array([r[7] for r in rows], bool), np.array([r[8] for r in rows], bool), str(im.path))


def _is_hbb(lab) -> bool:
    return abs(lab.box.angle_deg % 90.0) < 1e-6


def read_rgb(path: str | Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read image {path}")
    return img[:, :, ::-1].copy()


def real_samples(images: Sequence[LabelledImage], gsd_m: float = 0.3, *, exhaustive: bool = True) -> list[Sample]:
    """Labelled images (each with its ``gsd_m``) resampled (area average) to ``gsd_m``."""
    out = []
    for im in images:
        if not im.gsd_m:
            raise ValueError(f"{im.path}: no GSD")
        src = read_rgb(im.path)
        s = im.gsd_m / gsd_m
        img = cv2.resize(src, (round(src.shape[1] * s), round(src.shape[0] * s)), interpolation=cv2.INTER_AREA)
        smp = sample_from_labelled(im, img, gsd_m, s)
        # the rounded size sets the real scale per axis (e.g. 684 -> 296 px is 0.4327, not 0.4333):
        # centres follow it so boxes stay on their vehicles across the whole image
        smp.boxes[:, 0] *= img.shape[1] / src.shape[1] / s
        smp.boxes[:, 1] *= img.shape[0] / src.shape[0] / s
        smp.exhaustive = exhaustive
        out.append(smp)
    return out


def kit_samples(images: Sequence[LabelledImage], gsd_m: float = 0.3) -> list[Sample]:
    """KIT AIS images resampled (area average) from their ~0.13 m to ``gsd_m``."""
    return real_samples([im if im.gsd_m else _with_gsd(im, 0.13) for im in images], gsd_m)


def _with_gsd(im: LabelledImage, gsd_m: float) -> LabelledImage:
    from dataclasses import replace

    return replace(im, gsd_m=gsd_m)


def estimate_gsd(im: LabelledImage, car_length_m: float = 4.5, min_ratio: float = 1.6) -> float | None:
    """Metres per pixel of an image without one, from the median length of its labelled cars.

    Only car boxes with a clear long axis (side ratio >= ``min_ratio``; axis-aligned
    labels of diagonal cars are squarish and too long) are used, or all cars
    when fewer than three are that clear. None when the image has no car.
    """
    cars = [lab.box for lab in im.labels if "car" in (lab.subclass, lab.source_name)]
    if not cars:
        return None
    clear = [b.length for b in cars if b.length / max(b.width, 1e-9) >= min_ratio]
    lengths = clear if len(clear) >= 3 else [b.length for b in cars]
    return car_length_m / float(np.median(lengths))


# ---------------------------------------------------------------- synthetic data
def _world_truth(world, d: date) -> tuple[np.ndarray, list[dict]]:
    objs = world.objects(d)
    xy = np.array([[o["x"], o["y"]] for o in objs]).reshape(-1, 2)
    return xy, objs


def _synth_chip(world, d, xy, objs, cx, cy, size_m, gsd) -> Sample:
    """Render a north-up window and put its vehicles (not distractors) in pixel coordinates."""
    half = size_m / 2
    bounds = (cx - half, cy - half, cx + half, cy + half)
    img = world.render(bounds, gsd, d).transpose(1, 2, 0).copy()
    h, w = img.shape[:2]
    inside = np.nonzero((np.abs(xy[:, 0] - cx) < half + 12) & (np.abs(xy[:, 1] - cy) < half + 12))[0]
    rows = []
    for i in inside:
        o = objs[i]
        if o["class"] not in CLS_INDEX:
            continue
        px, py = (o["x"] - bounds[0]) / gsd, (bounds[3] - o["y"]) / gsd
        if not (0 <= px < w and 0 <= py < h):
            continue
        rows.append((px, py, o["length_m"] / gsd, o["width_m"] / gsd, o["heading_deg"] % 360.0,
                     CLS_INDEX[o["class"]], SUB_INDEX.get(o["subclass"], -1)))
    s = _empty_sample(img, gsd, f"synth:{world.seed}:{d}:{cx:.0f},{cy:.0f}")
    if rows:
        a = np.array(rows, float)
        s = Sample(img, gsd, a[:, :5], a[:, 5].astype(int), a[:, 6].astype(int), np.ones(len(a), bool),
                   np.ones(len(a), bool), s.source)
    return s


def synth_samples(
    seeds: Iterable[int],
    *,
    chips_per_date: int = 24,
    background_per_date: int = 6,
    background_spread_m: float = 250.0,
    size_m: float = 92.0,
    gsd_range: tuple[float, float] = (0.3, 0.6),
    store_gsd: float = MODEL_GSD_M,
    corridor=None,
    rng: np.random.Generator | None = None,
    log: Callable[[str], None] | None = None,
    hard_per_date: int = 0,
    hard_gsd_range: tuple[float, float] | None = None,
    dates: Sequence[date] | None = None,
) -> list[Sample]:
    """Chips around vehicles (class-balanced) and random background of synthetic worlds.

    Each chip is rendered at a random GSD in ``gsd_range`` and resampled to
    ``store_gsd`` as the detector resamples real scenes (area average down,
    bilinear up: a 0.8 m scene reaches the model enlarged, softer than any
    0.3-0.5 m one).
    Background chips are centred up to ``background_spread_m`` from the river
    line along each axis.
    ``hard_per_date`` more chips per world and date go to the cases that turn
    a site's direction share (see :func:`hard_cases`), rendered at a GSD in
    ``hard_gsd_range`` (default ``gsd_range``). With 0 (the default) every
    chip is drawn as before the option existed.
    ``dates``: each world's capture dates (default: SynthWorld's two summer
    ones); autumn and snow dates teach the detector harvested fields, long
    shadows and snow, which it otherwise never sees.
    """
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    rng = rng or np.random.default_rng(0)
    corridor = corridor or load_corridor("yalu-upper")
    line = corridor.line if hasattr(corridor, "line") else None
    out: list[Sample] = []
    for seed in seeds:
        world = SynthWorld(corridor, seed=int(seed), dates=dates)
        for d in world.dates:
            xy, objs = _world_truth(world, d)
            by_cls: dict[str, list[int]] = {}
            for i, o in enumerate(objs):
                by_cls.setdefault(o["class"], []).append(i)
            centres = []
            kinds = [k for k in ("small_vehicle", "large_vehicle", "heavy_equipment", "distractor") if by_cls.get(k)]
            for j in range(chips_per_date):
                k = kinds[j % len(kinds)]
                i = by_cls[k][rng.integers(len(by_cls[k]))]
                centres.append(xy[i] + rng.uniform(-25, 25, 2))
            for _ in range(background_per_date):
                if line is not None:
                    p = line.interpolate(float(rng.uniform(0, line.length)))
                    centres.append(np.array([p.x, p.y]) + rng.uniform(-background_spread_m, background_spread_m, 2))
            for cx, cy in centres:
                g = float(rng.uniform(*gsd_range))
                out.append(_resampled_chip(world, d, xy, objs, float(cx), float(cy), size_m, g, store_gsd))
            groups = [g for g in hard_cases(objs).values() if len(g)] if hard_per_date else []
            for j in range(hard_per_date if groups else 0):
                g = groups[j % len(groups)]
                cx, cy = xy[g[rng.integers(len(g))]] + rng.uniform(-HARD_OFFSET_M, HARD_OFFSET_M, 2)
                out.append(_resampled_chip(world, d, xy, objs, float(cx), float(cy), size_m,
                                           float(rng.uniform(*(hard_gsd_range or gsd_range))), store_gsd))
        if log:
            log(f"synthetic seed {seed}: {len(out)} chips")
    return out


def _resampled_chip(world, d, xy, objs, cx, cy, size_m, gsd, store_gsd) -> Sample:
    """A chip rendered at ``gsd`` and brought to ``store_gsd`` by the runtime's own resampling."""
    s = _synth_chip(world, d, xy, objs, cx, cy, size_m, gsd)
    if abs(gsd - store_gsd) > 1e-6:
        n0 = s.image.shape[0]
        n = max(1, round(n0 * gsd / store_gsd))
        s.image = resample_rgb(s.image, n, n)  # as the runtime brings a scene to the model's GSD
        s.boxes[:, :4] *= n / n0
        s.gsd_m = store_gsd
    return s


#: A hard-case chip's centre lies up to this far (metres, along each axis) from its case.
HARD_OFFSET_M = 15.0
#: Small vehicles closer than their length plus this (centre to centre, metres) to
#: another vehicle count as queued.
QUEUE_GAP_M = 7.0


def hard_cases(objs: Sequence[dict]) -> dict[str, np.ndarray]:
    """Indices of the objects a site's direction share is most often wrong on.

    Found on the development benches (seeds below 1000): small vehicles queued
    nose to tail, read as one large vehicle; vehicles in the water or on a
    bridge deck, missed; boats, taken for vehicles. ``queued``, ``afloat``
    (water or bridge) and ``boat``.
    """
    from scipy.spatial import cKDTree

    veh = np.array([i for i, o in enumerate(objs) if o["class"] in CLS_INDEX], int)
    queued = np.zeros(0, int)
    if len(veh) >= 2:
        xy = np.array([[objs[i]["x"], objs[i]["y"]] for i in veh])
        nearest = cKDTree(xy).query(xy, k=2)[0][:, 1]  # the closest other vehicle
        small = np.array([objs[i]["class"] == "small_vehicle" for i in veh])
        reach = np.array([objs[i]["length_m"] for i in veh]) + QUEUE_GAP_M
        queued = veh[small & (nearest < reach)]
    return {
        "queued": queued,
        "afloat": np.array([i for i in veh if objs[i]["on"] in ("water", "bridge")], int),
        "boat": np.array([i for i, o in enumerate(objs) if o["subclass"] == "boat"], int),
    }


#: Class map for the DOTA files of :func:`synth_eval_set` (subclass names as DOTA classes).
SYNTH_CLASS_MAP = "extends_default: true\ntruck_trailer: {class: large_vehicle, subclass: truck_trailer}\n"


def synth_eval_set(
    seeds: Iterable[int],
    out_dir: str | Path,
    *,
    gsd_m: float = 0.5,
    margin_m: float = 30.0,
    corridor=None,
    dates: Sequence[date] | None = None,
) -> list[LabelledImage]:
    """Held-out synthetic sites as PNG + DOTA (front-first) files; one image per site and date.

    Each image covers one crossing site's vehicles plus a margin; ``meta['site']``
    names the site for per-site count errors. Distractors are in the image but
    not in the labels. ``dates``: the worlds' capture dates (default: SynthWorld's
    two), e.g. an autumn or winter date to see how the season changes the answer.
    """
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    from .geometry import OrientedBox
    from .labels import Label

    corridor = corridor or load_corridor("yalu-upper")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "classes.yaml").write_text(SYNTH_CLASS_MAP, encoding="utf-8")
    result = []
    for seed in seeds:
        world = SynthWorld(corridor, seed=int(seed), dates=dates)
        for d in world.dates:
            objs = world.objects(d)
            xy = np.array([[o["x"], o["y"]] for o in objs]).reshape(-1, 2)
            sites: dict[str, list[int]] = {}
            for i, o in enumerate(objs):
                if o["site_id"] and o["class"] in CLS_INDEX:
                    sites.setdefault(o["site_id"], []).append(i)
            for sid, idx in sorted(sites.items()):
                pts = xy[idx]
                x0, y0 = pts.min(0) - margin_m
                x1, y1 = pts.max(0) + margin_m
                x0, x1 = (x0 + x1) / 2 - max(x1 - x0, 64) / 2, (x0 + x1) / 2 + max(x1 - x0, 64) / 2
                y0, y1 = (y0 + y1) / 2 - max(y1 - y0, 64) / 2, (y0 + y1) / 2 + max(y1 - y0, 64) / 2
                img = world.render((x0, y0, x1, y1), gsd_m, d).transpose(1, 2, 0)
                h, w = img.shape[:2]
                labels = []
                inside = np.nonzero((xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1))[0]
                for i in inside:
                    o = objs[i]
                    if o["class"] not in CLS_INDEX:
                        continue
                    box = OrientedBox((o["x"] - x0) / gsd_m, (y1 - o["y"]) / gsd_m, o["length_m"] / gsd_m,
                                      o["width_m"] / gsd_m, o["heading_deg"])
                    if not (0 <= box.cx < w and 0 <= box.cy < h):
                        continue
                    bx0, by0, bx1, by1 = box.bounds()
                    cut = bx0 < 0 or by0 < 0 or bx1 > w or by1 > h  # cut by the edge: difficult (not scored)
                    labels.append(Label(box, o["class"], o["subclass"], True, cut, cut, o["subclass"]))
                name = f"s{seed}_{d.isoformat()}_{sid}"
                path = out_dir / f"{name}.png"
                cv2.imwrite(str(path), img[:, :, ::-1])
                item = LabelledImage(path, w, h, labels, gsd_m=gsd_m, meta={"site": f"{seed}:{d}:{sid}"})
                _write_dota_front(item, out_dir / f"{name}.txt")
                result.append(item)
    return result


def _write_dota_front(item: LabelledImage, path: Path) -> None:
    lines = [f"gsd:{item.gsd_m:g}"]
    for lab in item.labels:
        lines.append(" ".join(f"{v:.2f}" for v in lab.box.to_dota()) + f" {lab.subclass or lab.cls} {int(lab.difficult)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ augmentation
def warp_boxes(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Boxes (n, 5) through a 2x3 affine ``m`` (source -> destination pixels).

    The heading follows the forward vector through the linear part, so a
    mirror (det < 0) turns heading h into its mirror image; length and width
    scale with the lengths of the transformed axis vectors.
    """
    if not len(boxes):
        return boxes.copy()
    out = boxes.copy()
    lin = m[:, :2]
    out[:, 0:2] = boxes[:, 0:2] @ lin.T + m[:, 2]
    h = np.radians(boxes[:, 4])
    fwd = np.stack([np.sin(h), -np.cos(h)], 1) @ lin.T
    rgt = np.stack([np.cos(h), np.sin(h)], 1) @ lin.T
    out[:, 2] = boxes[:, 2] * np.linalg.norm(fwd, axis=1)
    out[:, 3] = boxes[:, 3] * np.linalg.norm(rgt, axis=1)
    out[:, 4] = np.degrees(np.arctan2(fwd[:, 0], -fwd[:, 1])) % 360.0
    return out


def _affine(src_centre, dst_size, scale, angle_deg, flip) -> np.ndarray:
    """Source -> chip affine: move ``src_centre`` to the chip centre, scale, rotate clockwise, mirror."""
    t = math.radians(angle_deg)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])  # clockwise on screen (y down)
    f = np.diag([-1.0, 1.0]) if flip else np.eye(2)
    lin = scale * (r @ f)
    c = np.array([dst_size / 2, dst_size / 2]) - lin @ np.asarray(src_centre, float)
    return np.hstack([lin, c[:, None]])


def _photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float32)
    if rng.random() < 0.8:
        gain = rng.uniform(0.7, 1.3) * rng.uniform(0.9, 1.1, 3)
        x = (x - 110) * rng.uniform(0.75, 1.25) + 110
        x = x * gain + rng.uniform(-20, 20)
    if rng.random() < 0.3:
        grey = x.mean(2, keepdims=True)
        x = grey + (x - grey) * rng.uniform(0.3, 1.4)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.25:  # haze: blend towards a bright grey-blue veil
        a = rng.uniform(0.1, 0.45)
        x = x * (1 - a) + a * np.array([200, 205, 215], np.float32) * rng.uniform(0.85, 1.05)
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(1, 6), x.shape).astype(np.float32)
    return np.clip(x, 0, 255)


def make_chip(s: Sample, size: int, rng: np.random.Generator, *, scale_jitter: float = 0.12,
              free_rotation: float = 0.5, target_gsd: float = MODEL_GSD_M,
              zero_border: float = 0.0, jpeg: float = 0.0) -> tuple[np.ndarray, Sample]:
    """One augmented (size x size) chip at the model GSD from sample ``s`` and its boxes.

    ``zero_border``: the share of chips whose outside-the-image part is black
    (zeros, as the runtime pads tiles at an image edge) instead of mirrored,
    and whose centre may sit anywhere in the image, so the chip can straddle
    the image edge. A mirrored border also shows unlabelled mirror images of
    vehicles near the edge; zeros do not. Default 0: every chip mirrored and
    kept inside the image (as v0.2.x were trained; the random draws are then
    unchanged).

    ``jpeg``: the share of chips whose source pixels are first saved as JPEG (quality
    JPEG_QUALITY, colour at half resolution: 4:2:0, as every JPEG file and Google Earth
    export has it) at the source's own GSD, so blocks and blurred colour land on the
    vehicles as in such imagery. Default 0: no JPEG and unchanged random draws.
    """
    scale = s.gsd_m / target_gsd * math.exp(rng.uniform(-scale_jitter, scale_jitter))
    h, w = s.image.shape[:2]
    if s.n and rng.random() < 0.7:
        c = s.boxes[rng.integers(s.n), :2] + rng.uniform(-0.35, 0.35, 2) * size / scale
    else:
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    zero = zero_border > 0 and bool(rng.random() < zero_border)
    if zero:
        c = np.clip(c, [0.0, 0.0], [w, h])
    else:
        c = np.clip(c, [min(w / 2, size / 2 / scale), min(h / 2, size / 2 / scale)],
                    [max(w / 2, w - size / 2 / scale), max(h / 2, h - size / 2 / scale)])
    angle = float(rng.uniform(0, 360)) if rng.random() < free_rotation else 90.0 * int(rng.integers(4))
    m = _affine(c, size, scale, angle, bool(rng.random() < 0.5))
    source = s.image
    if jpeg > 0 and rng.random() < jpeg:
        source = _jpeg_under(source, m, size, int(rng.integers(*JPEG_QUALITY, endpoint=True)))
    interp = cv2.INTER_AREA if scale < 0.9 else cv2.INTER_LINEAR
    chip = cv2.warpAffine(source, _pixel_index_affine(m), (size, size), flags=interp,
                          borderMode=cv2.BORDER_CONSTANT if zero else cv2.BORDER_REFLECT101, borderValue=0)
    boxes = warp_boxes(s.boxes, m)
    keep = (boxes[:, 0] >= 0) & (boxes[:, 0] < size) & (boxes[:, 1] >= 0) & (boxes[:, 1] < size) if len(boxes) else \
        np.zeros(0, bool)
    out = Sample(chip, target_gsd, boxes[keep], s.cls[keep], s.sub[keep], s.has_front[keep], s.has_axis[keep],
                 s.source, exhaustive=s.exhaustive)
    img = _photometric(chip, rng)
    if zero:  # nodata stays black through the colour jitter, as the runtime's padding does
        inside = cv2.warpAffine(np.ones((h, w), np.uint8), _pixel_index_affine(m), (size, size),
                                flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        img = img * inside[:, :, None]
    return img, out


#: JPEG qualities drawn for ``make_chip(jpeg=...)`` (inclusive): from a heavily compressed web tile to a careful export
JPEG_QUALITY = (50, 95)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """An RGB uint8 image saved as JPEG and read back (libjpeg through OpenCV: 4:2:0 chroma)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def _jpeg_under(image: np.ndarray, m: np.ndarray, size: int, quality: int) -> np.ndarray:
    """A copy of ``image`` whose part under a chip (affine ``m``, source -> chip; 8 px of margin) went through JPEG."""
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], float) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 8, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 8, 0, [w, h])
    out = image.copy()
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = jpeg_roundtrip(image[y0:y1, x0:x1], quality)
    return out


def _pixel_index_affine(m: np.ndarray) -> np.ndarray:
    """The matrix for ``cv2.warpAffine`` of an affine ``m`` between continuous pixel coordinates.

    Labels put pixel i's centre at i + 0.5 (its left edge at i); OpenCV puts it
    at i. Handing ``m`` to OpenCV unchanged shifts the image against its boxes by
    0.5 - lin @ (0.5, 0.5) px, which depends on the rotation (up to 1 px, 0.5 px
    on average): the first model learned centres 0.5 px up-left of the truth.
    """
    out = m.astype(float).copy()
    out[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return out


#: Regression is also trained on the cells around a centre where the vehicle's
#: heat Gaussian is at least this high (weighted by it; where Gaussians overlap
#: the higher one owns the cell): a peak off the centre -- one cell off, or a
#: second peak along a long truck -- then predicts the whole box around the
#: true centre, so NMS can remove it, instead of reading untrained values.
NEIGHBOUR_MIN_HEAT = 0.2
#: Non-exhaustive samples keep the heatmap's negative loss within this many
#: vehicle lengths of a labelled centre (and drop it elsewhere).
PARTIAL_NEG_RADIUS = 1.0


def make_targets(s: Sample, size: int, n_sub: int = len(SUBCLASSES)) -> dict[str, np.ndarray]:
    """CenterNet targets on the (size/STRIDE)^2 output grid.

    Heat: an oriented Gaussian per vehicle (sigma a fifth of its length/width in
    cells, at least 0.6) peaking at 1 on its centre cell. Regression targets
    (log length, log width, sin h, cos h, offset x, y, subclass, sin 2h, cos 2h)
    sit on the centre cell (weight 1) and its close neighbours (weight = heat),
    with masks (weights) for what the label knows: centre, axis (size and
    axis), front, subclass. ``negw`` weights the heatmap's negative loss (1
    everywhere unless the sample is not exhaustively labelled).
    """
    g = size // STRIDE
    heat = np.zeros((3, g, g), np.float32)
    reg = np.zeros((9, g, g), np.float32)
    mask = np.zeros((4, g, g), np.float32)  # centre, axis(size), front, sub
    negw = np.ones((g, g), np.float32) if s.exhaustive else np.zeros((g, g), np.float32)
    reg[6] = -1
    yy, xx = np.mgrid[0:g, 0:g].astype(np.float32)
    order = list(np.argsort(-s.boxes[:, 2] * s.boxes[:, 3])) if s.n else []
    owner = np.full((g, g), -1, np.int64)  # which vehicle's regression a non-centre cell learns
    owner_w = np.zeros((g, g), np.float32)
    centres = []
    for i in order:
        cx, cy, L, W, hd = s.boxes[i]
        ux, uy = cx / STRIDE, cy / STRIDE
        ix, iy = min(max(int(ux), 0), g - 1), min(max(int(uy), 0), g - 1)
        t = math.radians(hd)
        f = np.array([math.sin(t), -math.cos(t)])
        dx, dy = xx - ix, yy - iy
        a = dx * f[0] + dy * f[1]
        b = -dx * f[1] + dy * f[0]
        has_axis = bool(s.has_axis[i])
        sa = max(0.6, L / STRIDE / 5) if has_axis else max(0.6, min(L, W) / STRIDE / 5)
        sb = max(0.6, W / STRIDE / 5) if has_axis else sa
        gauss = np.exp(-0.5 * ((a / sa) ** 2 + (b / sb) ** 2))
        np.maximum(heat[int(s.cls[i])], gauss, out=heat[int(s.cls[i])])
        heat[int(s.cls[i]), iy, ix] = 1.0
        take = (gauss >= NEIGHBOUR_MIN_HEAT) & (gauss > owner_w)
        owner[take] = i
        owner_w[take] = gauss[take]
        centres.append((i, ix, iy))
        if not s.exhaustive:
            r = PARTIAL_NEG_RADIUS * max(L, W) / STRIDE + 1.0
            negw[(xx - ux) ** 2 + (yy - uy) ** 2 <= r * r] = 1.0
    for i, ix, iy in centres:  # centre cells always learn their own vehicle (small boxes last)
        owner[iy, ix] = i
        owner_w[iy, ix] = 1.0
    jy, jx = np.nonzero(owner >= 0)
    if len(jy):
        i = owner[jy, jx]
        w = owner_w[jy, jx]
        bx = s.boxes[i]
        t = np.radians(bx[:, 4])
        reg[:, jy, jx] = np.stack([np.log(np.maximum(bx[:, 2], 1.0)), np.log(np.maximum(bx[:, 3], 1.0)), np.sin(t),
                                   np.cos(t), bx[:, 0] / STRIDE - jx, bx[:, 1] / STRIDE - jy, s.sub[i],
                                   np.sin(2 * t), np.cos(2 * t)])
        mask[:, jy, jx] = np.stack([w, w * s.has_axis[i], w * s.has_front[i], w * (s.sub[i] >= 0)])
    return {"heat": heat, "reg": reg, "mask": mask, "negw": negw}


# ------------------------------------------------------------------------ training
def _loss(out, heat, reg, mask, negw=None, n_sub: int = len(SUBCLASSES), *, front_sign: float = 0.0,
          front_class_weight: Sequence[float] | None = None):
    """Total loss and its parts.

    ``front_sign`` > 0 adds a front/rear term where the front is known: a
    logistic loss on the predicted heading vector projected on the true
    heading, ``softplus(-FRONT_SIGN_GAIN * hv . tv)``. The L1 heading loss
    barely separates "front" from "rear" on small boxes; this term scores the
    choice itself. ``front_class_weight`` (one weight per class) weights it
    per cell by the class whose target heat is highest there.
    """
    import torch
    import torch.nn.functional as F

    pred = torch.sigmoid(out[:, :3]).clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1).float()
    neg = 1 - pos
    if negw is not None:
        neg = neg * negw[:, None]
    pos_l = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_l = torch.log(1 - pred) * pred ** 2 * (1 - heat) ** 4 * neg
    npos = pos.sum().clamp(min=1)
    l_heat = -(pos_l.sum() + neg_l.sum()) / npos

    m_c, m_ax, m_fr, m_sub = mask[:, 0], mask[:, 1], mask[:, 2], mask[:, 3]
    n_c = m_c.sum().clamp(min=1)
    n_ax = m_ax.sum().clamp(min=1)
    l_size = ((out[:, 3:5] - reg[:, 0:2]).abs().sum(1) * m_ax).sum() / n_ax
    l_off = ((out[:, 7:9] - reg[:, 4:6]).abs().sum(1) * m_c).sum() / n_c
    hv, tv = out[:, 5:7], reg[:, 2:4]
    full = (hv - tv).abs().sum(1)
    axis_only = torch.minimum(full, (hv + tv).abs().sum(1))
    l_head = ((full * m_fr + axis_only * (m_ax - m_fr).clamp(min=0))).sum() / n_ax
    sub_t = reg[:, 6].long().clamp(min=0)
    ce = F.cross_entropy(out[:, 9:9 + n_sub], sub_t, reduction="none")
    l_sub = (ce * m_sub).sum() / m_sub.sum().clamp(min=1)
    total = l_heat + l_size + l_off + l_head + 0.2 * l_sub
    parts = {"heat": l_heat.item(), "size": l_size.item(), "off": l_off.item(), "head": l_head.item(),
             "sub": l_sub.item()}
    if out.shape[1] >= 11 + n_sub:  # axis head: (sin 2h, cos 2h), known wherever the axis is
        l_axis = ((out[:, 9 + n_sub:11 + n_sub] - reg[:, 7:9]).abs().sum(1) * m_ax).sum() / n_ax
        total = total + l_axis
        parts["axis"] = l_axis.item()
    if front_sign > 0:
        w = m_fr
        if front_class_weight is not None:
            cw = torch.as_tensor(np.asarray(front_class_weight, np.float32), device=heat.device)
            if cw.shape != (heat.shape[1],):
                raise ValueError("front_class_weight needs one weight per class")
            w = w * cw[heat.argmax(1)]
        proj = (hv * tv).sum(1)
        l_front = (F.softplus(-FRONT_SIGN_GAIN * proj) * w).sum() / w.sum().clamp(min=1)
        total = total + front_sign * l_front
        parts["front"] = l_front.item()
    return total, parts


#: Gain of the front/rear logistic term: a unit heading vector on the right end costs 0.05, on the wrong end 3.05.
FRONT_SIGN_GAIN = 3.0


def budget_fraction(t0: float, minutes: float, step: int, max_steps: int | None) -> float:
    """How much of a training budget is spent (wall time since ``t0``, or steps when ``max_steps`` is given)."""
    frac = (time.time() - t0) / (minutes * 60.0)
    return max(frac, step / max_steps) if max_steps is not None else frac


def cosine_lr(lr: float, frac: float, step: int, warmup: int) -> float:
    """Cosine decay from ``lr`` to 2 % of it over the budget, after a linear warm-up of ``warmup`` steps."""
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))) * min(1.0, (step + 1) / warmup)


def file_logger(out_dir: Path) -> Callable[[str], None]:
    """A log function: time-stamped lines to stdout and appended to ``out_dir/train.log``."""
    logf = open(Path(out_dir) / "train.log", "a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    return log


@dataclass
class _BatchMaker:
    """Draws one training batch (chips and CenterNet targets) from the sample sets.

    A plain object of numpy data, so DataLoader workers (``workers`` > 0) can
    each run one with their own random stream.
    """

    synth: Sequence[Sample]
    real: Sequence[Sample]
    n_real: int
    p_real: np.ndarray | None
    batch: int
    chip: int
    zero_border: float
    seed: int = 0
    jpeg: float = 0.0

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        xs, ts = [], []
        for j in range(self.batch):
            if j < self.n_real:
                k = rng.choice(len(self.real), p=self.p_real) if self.p_real is not None else rng.integers(len(self.real))
                s = self.real[k]
            else:
                s = self.synth[rng.integers(len(self.synth))]
            img, cs = make_chip(s, self.chip, rng, zero_border=self.zero_border, jpeg=self.jpeg)
            xs.append(img.transpose(2, 0, 1))
            ts.append(make_targets(cs, self.chip))
        x = np.stack(xs).astype(np.float32)
        return x, {k: np.stack([t[k] for t in ts]) for k in ("heat", "reg", "mask", "negw")}

    def __iter__(self):
        """Endless batches for a DataLoader worker: its stream is (seed, worker id)."""
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        while True:
            yield self(rng)


def calibration_chips(synth: Sequence[Sample], real: Sequence[Sample], *, n: int = 256, chip: int = 128,
                      real_share: float = 0.3, seed: int = 0) -> np.ndarray:
    """(n, 3, chip, chip) float32 training chips, mixed as batches are: for :func:`.export.load_onnx_weights`."""
    n_real = int(round(n * real_share)) if real else 0
    return _BatchMaker(synth, real, n_real, None, n, chip, 0.0)(np.random.default_rng([seed, 1]))[0]


def _batches(maker: _BatchMaker, rng: np.random.Generator, workers: int):
    """Batches from this process (``workers`` 0: the stream of ``rng``) or from worker processes."""
    if workers <= 0:
        while True:
            yield maker(rng)
    import torch.utils.data

    class _Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(maker)

    # fork: the workers share the samples already in memory (no pickling of thousands of chips, and the
    # local stream class needs none); Python 3.14 no longer forks by default on Linux
    loader = torch.utils.data.DataLoader(_Stream(), batch_size=None, num_workers=workers, prefetch_factor=4,
                                         persistent_workers=True, multiprocessing_context="fork")
    yield from loader


def train(
    synth: Sequence[Sample],
    real: Sequence[Sample],
    *,
    minutes: float = 30.0,
    max_steps: int | None = None,
    batch: int = 24,
    chip: int = 128,
    real_share: float = 0.3,
    lr: float = 3e-3,
    width: int = 16,
    seed: int = 0,
    threads: int = 2,
    log: Callable[[str], None] = print,
    init=None,
    real_weights: Sequence[float] | None = None,
    front_sign: float = 0.0,
    front_class_weight: Sequence[float] | None = None,
    zero_border: float = 0.0,
    device: str = "cpu",
    workers: int = 0,
    jpeg: float = 0.0,
):
    """Train an :class:`~.model.OrientedCenterNet` for ``minutes`` (or ``max_steps``); returns the net.

    Batches mix real and synthetic chips (``real_share`` of each batch real;
    real samples drawn with probabilities proportional to ``real_weights``,
    default uniform). The learning rate follows a cosine schedule over the
    time budget. ``front_sign`` and ``front_class_weight``: see :func:`_loss`
    (default off, as v0.2.0 was trained). ``zero_border``, ``jpeg``: see :func:`make_chip`.
    ``device``: where the network runs (``"cuda"`` on a GPU machine); the
    returned net is on the CPU. ``workers`` > 0 makes chips in that many
    worker processes (each with its own random stream from ``seed``): the
    network is small, so on a GPU the chips are the bottleneck. With 0 (the
    default) the chips are drawn in this process exactly as before.
    """
    import torch

    from .model import OrientedCenterNet

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    net = init if init is not None else OrientedCenterNet(width=width)
    net = net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    n_real = int(round(batch * real_share)) if real else 0
    p_real = None
    if real and real_weights is not None:
        w = np.asarray(real_weights, float)
        if w.shape != (len(real),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("real_weights needs one non-negative weight per real sample")
        p_real = w / w.sum()
    maker = _BatchMaker(synth, real, n_real, p_real, batch, chip, zero_border, seed, jpeg)
    batches = _batches(maker, rng, workers)
    t0 = time.time()
    step = 0
    net.train()
    while (frac := budget_fraction(t0, minutes, step, max_steps)) < 1.0:
        for gparam in opt.param_groups:
            gparam["lr"] = cosine_lr(lr, frac, step, warmup=100)
        xb, tb = next(batches)
        x = torch.as_tensor(xb).to(device, non_blocking=True)
        out = net(x)
        stacked = (torch.as_tensor(tb[k]).to(device, non_blocking=True) for k in ("heat", "reg", "mask", "negw"))
        loss, parts = _loss(out, *stacked, n_sub=net.n_sub, front_sign=front_sign,
                            front_class_weight=front_class_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            log(f"step {step} t={time.time() - t0:.0f}s loss={loss.item():.3f} "
                + " ".join(f"{k}={v:.3f}" for k, v in parts.items()))
    net = net.to("cpu").eval()
    net.train_info = {"steps": step, "seconds": time.time() - t0, "batch": batch, "chip": chip,
                      "device": device, "workers": workers}
    return net
