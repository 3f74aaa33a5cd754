"""Read (and write) labelled vehicle sets: DOTA, YOLO, YOLO-OBB, COCO JSON, xView GeoJSON.

Every reader returns ``list[LabelledImage]`` with boxes in that image's pixel
coordinates (see :mod:`.geometry` for the heading convention) and classes
already mapped through a :class:`~.classmap.ClassMap` (labels whose class the
map ignores are dropped; unknown names are an error naming the file and line).

Front convention: DOTA and YOLO-OBB polygons carry a heading only when the
data set says so (``front=True``): then the first point is the vehicle's
front-left corner and points run clockwise on screen, as DOTA does for the
heads of ships and planes. Otherwise only the axis is known (``has_front``
False, heading in [0, 180)).

Boxes at the image edge: corners up to ``tolerance_px`` (default 2 px) outside
the image are accepted as they are (rounding in labelling tools). A box that
reaches further out is, with ``on_outside="clip"`` (default), cut back along
its own axes to the part inside the image, flagged ``truncated`` and reported
with a warning -- crops of flight lines cut vehicles at the edge and those
are still real vehicles. ``on_outside="error"`` makes that an InputError. A
box whose centre lies outside the image is always an error: it means wrong
units or the wrong image, and clipping would hide that.

Any other bad line (malformed numbers, degenerate or self-intersecting
polygons, unknown class) raises :class:`~borderwatch.errors.InputError` with
``file:line``; ``on_invalid="skip"`` turns that into a warning and drops the
line (for big third-party sets with a few known-bad labels, e.g. xView).
"""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from shapely.geometry import box as shapely_box

from borderwatch.errors import InputError

from .classmap import XVIEW_CLASSES, ClassMap, UnknownClassError, normalize_name, resolve_class_map
from .geometry import OrientedBox, PolygonError, angle_diff, axis_of, heading_from_axis

__all__ = [
    "IMAGE_SUFFIXES",
    "Detection",
    "Label",
    "LabelledImage",
    "image_size",
    "read_coco",
    "read_dota",
    "read_names",
    "read_xview",
    "read_yolo",
    "write_dota",
    "write_yolo",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
OnOutside = Literal["clip", "error"]
OnInvalid = Literal["error", "skip"]


@dataclass(frozen=True)
class Label:
    """One labelled vehicle. ``box.angle_deg`` is a heading only when ``has_front``."""

    box: OrientedBox
    cls: str
    subclass: str | None = None
    has_front: bool = False
    difficult: bool = False
    truncated: bool = False
    source_name: str = ""


@dataclass(frozen=True)
class Detection:
    """One detector output in image pixel coordinates (the model always predicts a heading)."""

    box: OrientedBox
    score: float
    cls: str
    subclass: str | None = None
    has_front: bool = True


@dataclass
class LabelledImage:
    """An image with its labels. ``sequence``/``frame`` identify overlapping crops (see kit.py)."""

    path: Path
    width: int
    height: int
    labels: list[Label] = field(default_factory=list)
    gsd_m: float | None = None
    sequence: str | None = None
    frame: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The identity used to pair predictions with ground truth (the path as a string)."""
        return str(self.path)


# --------------------------------------------------------------------- helpers
class _BadLine(Exception):
    """Internal: a problem with one line; the caller adds file and line."""


def _where(path: Path, line: int | str | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) read from the file header where possible (PIL is lazy), else a full decode."""
    path = Path(path)
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - PIL cannot read it; let the fallbacks try
        pass
    try:
        import rasterio

        with rasterio.open(path) as ds:
            return int(ds.width), int(ds.height)
    except Exception:  # noqa: BLE001
        pass
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(path, "cannot read image size (not an image or unreadable)")
    return int(arr.shape[1]), int(arr.shape[0])


def _find_image(label_path: Path, image_dir: Path | None, stem: str | None = None) -> Path | None:
    stem = stem or label_path.stem
    dirs: list[Path] = []
    if image_dir is not None:
        dirs.append(Path(image_dir))
    dirs.append(label_path.parent)
    parts = list(label_path.parent.parts)
    for i in range(len(parts) - 1, -1, -1):  # YOLO labels/ <-> images/, DOTA labelTxt/ <-> images/
        if parts[i] in ("labels", "labelTxt", "labelTxt-v1.0", "labelTxt-v1.5", "labelTxt-v2.0"):
            dirs.append(Path(*parts[:i], "images", *parts[i + 1:]))
            break
    for d in dirs:
        for suf in IMAGE_SUFFIXES:
            for cand in (d / f"{stem}{suf}", d / f"{stem}{suf.upper()}"):
                if cand.is_file():
                    return cand
    return None


def _label_files(labels: str | Path | Iterable[str | Path], pattern: str = "*.txt") -> list[Path]:
    if isinstance(labels, (str, Path)):
        p = Path(labels)
        if p.is_dir():
            files = sorted(p.glob(pattern))
            return [f for f in files if f.name not in ("classes.txt",)]
        if p.is_file():
            return [p]
        raise InputError(p, "no such label file or folder")
    files = [Path(f) for f in labels]
    for f in files:
        if not f.is_file():
            raise InputError(f, "no such label file")
    return files


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a UTF-8 text file") from None


def _floats(tokens: Sequence[str], what: str) -> list[float]:
    try:
        vals = [float(t) for t in tokens]
    except ValueError:
        raise _BadLine(f"malformed {what}: expected numbers, got {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise _BadLine(f"malformed {what}: non-finite number")
    return vals


def _clip_to_image(box: OrientedBox, width: int, height: int) -> OrientedBox | None:
    """The part of ``box`` inside the image, as a box with the same heading (None if nothing left)."""
    part = box.to_polygon().intersection(shapely_box(0, 0, width, height))
    if part.is_empty or part.area <= 0:
        return None
    pts = np.asarray(part.exterior.coords) - np.array([box.cx, box.cy])
    f = pts @ np.array(box.forward)
    r = pts @ np.array(box.right)
    f0, f1, r0, r1 = f.min(), f.max(), r.min(), r.max()
    if f1 - f0 <= 1e-9 or r1 - r0 <= 1e-9:
        return None
    fm, rm = (f0 + f1) / 2, (r0 + r1) / 2
    cx = box.cx + fm * box.forward[0] + rm * box.right[0]
    cy = box.cy + fm * box.forward[1] + rm * box.right[1]
    return OrientedBox(cx, cy, f1 - f0, r1 - r0, box.angle_deg)


class _Builder:
    """Shared per-file logic: class mapping, edge policy, error wording."""

    def __init__(self, class_map: ClassMap, on_outside: OnOutside, tolerance_px: float, on_invalid: OnInvalid):
        if on_outside not in ("clip", "error"):
            raise InputError(None, f"on_outside must be 'clip' or 'error', not {on_outside!r}")
        if on_invalid not in ("error", "skip"):
            raise InputError(None, f"on_invalid must be 'error' or 'skip', not {on_invalid!r}")
        self.class_map = class_map
        self.on_outside = on_outside
        self.tol = float(tolerance_px)
        self.on_invalid = on_invalid

    def fail(self, path: Path, line: int | str | None, problem: str) -> None:
        if self.on_invalid == "skip":
            warnings.warn(f"{_where(path, line)}: {problem} (label skipped)", stacklevel=4)
            return
        raise InputError(_where(path, line), problem)

    def label(
        self,
        name: str,
        box: OrientedBox,
        *,
        has_front: bool,
        difficult: bool,
        width: int,
        height: int,
        path: Path,
        line: int | str | None,
    ) -> Label | None:
        """Map the class, apply the edge policy; None when the class is ignored."""
        try:
            target = self.class_map.lookup(name)
        except UnknownClassError as e:
            raise _BadLine(str(e)) from None
        if target is None:
            return None
        t = self.tol
        if not (-t <= box.cx <= width + t and -t <= box.cy <= height + t):
            raise _BadLine(f"box centre ({box.cx:.1f}, {box.cy:.1f}) outside the {width}x{height} image "
                           "(wrong units or wrong image?)")
        x0, y0, x1, y1 = box.bounds()
        truncated = False
        if x0 < -t or y0 < -t or x1 > width + t or y1 > height + t:
            if self.on_outside == "error":
                raise _BadLine(f"box ({x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}) extends beyond the "
                               f"{width}x{height} image by more than {t:g} px")
            clipped = _clip_to_image(box, width, height)
            if clipped is None:
                raise _BadLine("box lies outside the image")
            if not has_front and clipped.width > clipped.length:
                clipped = OrientedBox(clipped.cx, clipped.cy, clipped.width, clipped.length,
                                      clipped.angle_deg + 90.0)
            box = clipped if has_front else clipped.axis_only()
            truncated = True
            warnings.warn(f"{_where(path, line)}: box extends beyond the image; clipped to it", stacklevel=4)
        return Label(box, target.cls, target.subclass, has_front, difficult, truncated, name)

    def run(self, path: Path, line: int | str | None, fn: Any) -> Label | None:
        """Call ``fn()`` (which builds one label), turning problems into located errors."""
        try:
            return fn()
        except (_BadLine, PolygonError, ValueError) as e:
            self.fail(path, line, str(e))
            return None


def _builder(class_map: Any, on_outside: OnOutside, tolerance_px: float, on_invalid: OnInvalid) -> _Builder:
    return _Builder(resolve_class_map(class_map), on_outside, tolerance_px, on_invalid)


def _size_for(label_path: Path, image_dir: Path | None) -> tuple[Path, int, int]:
    img = _find_image(label_path, image_dir)
    if img is None:
        raise InputError(label_path, f"no image named {label_path.stem}{{{','.join(IMAGE_SUFFIXES)}}} "
                                     "next to it, in images/, or in image_dir")
    w, h = image_size(img)
    return img, w, h


def _read_text_labels(
    labels: str | Path | Iterable[str | Path],
    image_dir: str | Path | None,
    parse: Callable[[LabelledImage, Path, int, str], Label | None],
) -> list[LabelledImage]:
    """The loop shared by the one-file-per-image text formats (DOTA, YOLO).

    ``parse(item, path, line_no, line)`` handles one non-empty line and returns
    a label, or None for a header line or a skipped label.
    """
    out = []
    for path in _label_files(labels):
        img, w, h = _size_for(path, Path(image_dir) if image_dir else None)
        item = LabelledImage(img, w, h)
        for n, raw in enumerate(_read_lines(path), start=1):
            line = raw.strip()
            if line:
                lab = parse(item, path, n, line)
                if lab is not None:
                    item.labels.append(lab)
        out.append(item)
    return out


# ------------------------------------------------------------------------ DOTA
def read_dota(
    labels: str | Path | Iterable[str | Path],
    *,
    image_dir: str | Path | None = None,
    class_map: ClassMap | str | Path | Mapping[str, Any] | None = None,
    front: bool = False,
    on_outside: OnOutside = "clip",
    tolerance_px: float = 2.0,
    on_invalid: OnInvalid = "error",
) -> list[LabelledImage]:
    """DOTA txt: ``x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]`` in pixels, one box a line.

    Optional header lines ``imagesource:...`` and ``gsd:...`` (a number or
    ``null``). ``front=True`` reads the first point as the front-left corner.
    The image (same stem) is looked up in ``image_dir``, next to the file, or in
    the ``images/`` folder beside ``labelTxt/``; its header gives the size.
    """
    b = _builder(class_map, on_outside, tolerance_px, on_invalid)

    def parse(item: LabelledImage, path: Path, n: int, line: str) -> Label | None:
        low = line.lower()
        if low.startswith("imagesource:"):
            item.meta["imagesource"] = line.split(":", 1)[1].strip()
            return None
        if low.startswith("gsd:"):
            val = line.split(":", 1)[1].strip()
            if val.lower() not in ("", "null", "none", "nan"):
                try:
                    item.gsd_m = float(val)
                except ValueError:
                    b.fail(path, n, f"malformed gsd {val!r}")
            return None

        def one() -> Label | None:
            tok = line.split()
            if len(tok) not in (9, 10):
                raise _BadLine(f"expected 'x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]', got {len(tok)} fields")
            coords = _floats(tok[:8], "corner coordinates")
            difficult = False
            if len(tok) == 10:
                if tok[9] not in ("0", "1", "2"):
                    raise _BadLine(f"difficult flag must be 0 or 1, got {tok[9]!r}")
                difficult = tok[9] != "0"
            box = OrientedBox.from_corners(coords, front=front)
            return b.label(tok[8], box, has_front=front, difficult=difficult, width=item.width, height=item.height,
                           path=path, line=n)

        return b.run(path, n, one)

    return _read_text_labels(labels, image_dir, parse)


def write_dota(image: LabelledImage, path: str | Path) -> Path:
    """Write DOTA txt (first point = front-left corner; class = subclass if known, else class)."""
    path = Path(path)
    lines = []
    if image.gsd_m is not None:
        lines.append(f"gsd:{image.gsd_m:g}")
    for lab in image.labels:
        xy = " ".join(f"{v:.2f}" for v in lab.box.to_dota())
        lines.append(f"{xy} {lab.subclass or lab.cls} {int(lab.difficult)}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ YOLO
def read_names(source: str | Path | Sequence[str]) -> list[str]:
    """Class names by index from a list, a ``.names``/``.txt`` file (one a line) or a YOLO data YAML."""
    if not isinstance(source, (str, Path)):
        return [str(s) for s in source]
    p = Path(source)
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise InputError(p, f"cannot read names: {e}") from None
        names = data.get("names") if isinstance(data, Mapping) else None
        if isinstance(names, Mapping):
            try:
                idx = sorted(int(k) for k in names)
            except ValueError:
                raise InputError(p, "names keys must be integers") from None
            if idx != list(range(len(idx))):
                raise InputError(p, "names ids must run 0..n-1 without gaps")
            return [str(names[k] if k in names else names[str(k)]) for k in idx]
        if isinstance(names, list):
            return [str(n) for n in names]
        raise InputError(p, "no 'names' list or mapping in the YAML")
    return [ln.strip() for ln in _read_lines(p) if ln.strip()]


def read_yolo(
    labels: str | Path | Iterable[str | Path],
    names: str | Path | Sequence[str],
    *,
    obb: bool = False,
    image_dir: str | Path | None = None,
    class_map: ClassMap | str | Path | Mapping[str, Any] | None = None,
    front: bool = False,
    on_outside: OnOutside = "clip",
    tolerance_px: float = 2.0,
    on_invalid: OnInvalid = "error",
) -> list[LabelledImage]:
    """YOLO ``class cx cy w h`` or, with ``obb=True``, ``class x1 y1 ... x4 y4`` (all normalised 0-1).

    ``names`` gives the class name for each index. The image size comes from
    the image's header (same stem, next to the file, in ``images/`` beside
    ``labels/``, or in ``image_dir``). An empty label file is an image with no
    vehicles. ``front`` applies to OBB only (first point = front-left corner).
    """
    names_list = read_names(names)
    b = _builder(class_map, on_outside, tolerance_px, on_invalid)
    src = names if isinstance(names, (str, Path)) else None
    try:
        b.class_map.check(names_list)
    except UnknownClassError as e:
        raise InputError(src, f"names list: {e}") from None
    nfields = 9 if obb else 5

    def parse(item: LabelledImage, path: Path, n: int, line: str) -> Label | None:
        w, h = item.width, item.height

        def one() -> Label | None:
            tok = line.split()
            if len(tok) != nfields:
                fmt = "class x1 y1 x2 y2 x3 y3 x4 y4" if obb else "class cx cy w h"
                raise _BadLine(f"expected '{fmt}' ({nfields} fields), got {len(tok)}")
            try:
                ci = int(tok[0])
            except ValueError:
                raise _BadLine(f"class index must be an integer, got {tok[0]!r}") from None
            if not 0 <= ci < len(names_list):
                raise _BadLine(f"class index {ci} out of range 0..{len(names_list) - 1}")
            vals = _floats(tok[1:], "coordinates")
            if obb:
                pts = np.array(vals).reshape(4, 2) * np.array([w, h])
                box = OrientedBox.from_corners(pts, front=front)
                has_front = front
            else:
                cx, cy, bw, bh = vals
                if bw <= 0 or bh <= 0:
                    raise _BadLine(f"degenerate box: width {bw}, height {bh}")
                box = OrientedBox.from_cxcywh(cx * w, cy * h, bw * w, bh * h)
                has_front = False
            return b.label(names_list[ci], box, has_front=has_front, difficult=False, width=w, height=h,
                           path=path, line=n)

        return b.run(path, n, one)

    return _read_text_labels(labels, image_dir, parse)


def write_yolo(image: LabelledImage, path: str | Path, names: Sequence[str], *, obb: bool = False) -> Path:
    """Write YOLO (axis-aligned bounds of each box) or YOLO-OBB (front-left corner first).

    Each label's ``subclass`` is looked up in ``names`` first, then its ``cls``.
    """
    path = Path(path)
    index = {normalize_name(n): i for i, n in enumerate(names)}
    lines = []
    for lab in image.labels:
        ci = index.get(normalize_name(lab.subclass or ""), index.get(normalize_name(lab.cls)))
        if ci is None:
            raise InputError(path, f"class {lab.subclass or lab.cls!r} not in names {list(names)}")
        if obb:
            pts = lab.box.corners() / np.array([image.width, image.height])
            vals = " ".join(f"{v:.6f}" for v in pts.reshape(-1))
        else:
            x0, y0, x1, y1 = lab.box.bounds()
            vals = (f"{(x0 + x1) / 2 / image.width:.6f} {(y0 + y1) / 2 / image.height:.6f} "
                    f"{(x1 - x0) / image.width:.6f} {(y1 - y0) / image.height:.6f}")
        lines.append(f"{ci} {vals}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ COCO
def _heading_attr(ann: Mapping[str, Any], box_centre: tuple[float, float]) -> float | None:
    """Heading (pixel convention) from ``heading_deg`` or a ``front`` point [x, y], if the annotation has one."""
    attrs = ann.get("attributes") if isinstance(ann.get("attributes"), Mapping) else {}
    for src in (ann, attrs):
        if src.get("heading_deg") is not None:
            v = float(src["heading_deg"])
            if not math.isfinite(v):
                raise _BadLine("heading_deg is not a finite number")
            return v
    for src in (ann, attrs):
        fr = src.get("front")
        if fr is not None:
            if not (isinstance(fr, (list, tuple)) and len(fr) == 2):
                raise _BadLine("front must be a point [x, y] (the middle of the vehicle's front)")
            fx, fy = float(fr[0]) - box_centre[0], float(fr[1]) - box_centre[1]
            if fx == 0 and fy == 0:
                raise _BadLine("front point is the box centre")
            return math.degrees(math.atan2(fx, -fy))
    return None


def _box_from_bbox_and_heading(x: float, y: float, bw: float, bh: float, heading: float) -> OrientedBox | None:
    """Solve the rotated rectangle whose axis-aligned bounds are the bbox; None when ill-posed (near 45 deg)."""
    t = math.radians(heading)
    s, c = abs(math.sin(t)), abs(math.cos(t))
    det = s * s - c * c
    if abs(det) < 0.3:
        return None
    length = (bw * s - bh * c) / det
    width = (bh * s - bw * c) / det
    if length <= 0 or width <= 0:
        return None
    return OrientedBox(x + bw / 2, y + bh / 2, length, width, heading)


def read_coco(
    path: str | Path,
    *,
    image_dir: str | Path | None = None,
    class_map: ClassMap | str | Path | Mapping[str, Any] | None = None,
    on_outside: OnOutside = "clip",
    tolerance_px: float = 2.0,
    on_invalid: OnInvalid = "error",
) -> list[LabelledImage]:
    """COCO JSON: ``bbox`` [x, y, w, h] and optional polygon ``segmentation``.

    A 4-point polygon is the oriented box, a longer one is fitted with its
    minimum-area rectangle; without a polygon the bbox is used. A heading comes
    from ``heading_deg`` (pixel convention, 0 = up, clockwise) or ``front``
    ([x, y] of the front's middle), on the annotation or in its ``attributes``;
    it must lie within 45 degrees of the box's long axis. With only a bbox and a
    heading the rotated box is solved from the bbox; near 45 degrees that is
    ill-posed and the label keeps the bbox without a heading (with a warning).
    ``iscrowd`` or ``difficult`` annotations are marked difficult.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}", f"not valid JSON: {e.msg}") from None
    if not isinstance(data, Mapping) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise InputError(path, "not a COCO file (needs 'images' and 'annotations' lists)")
    b = _builder(class_map, on_outside, tolerance_px, on_invalid)
    cats = {c.get("id"): str(c.get("name")) for c in data.get("categories", []) if isinstance(c, Mapping)}
    base = Path(image_dir) if image_dir else path.parent
    images: dict[Any, LabelledImage] = {}
    for i, im in enumerate(data["images"]):
        where = f"images[{i}]"
        if not isinstance(im, Mapping) or "id" not in im or "file_name" not in im:
            raise InputError(_where(path, where), "image entry needs 'id' and 'file_name'")
        p = base / str(im["file_name"])
        if im.get("width") and im.get("height"):
            w, h = int(im["width"]), int(im["height"])
        elif p.is_file():
            w, h = image_size(p)
        else:
            raise InputError(_where(path, where), f"no width/height and image {p} not found")
        images[im["id"]] = LabelledImage(p, w, h)
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"

        def one(ann: Any = ann, where: str = where) -> tuple[Any, Label | None]:
            if not isinstance(ann, Mapping):
                raise _BadLine("annotation is not an object")
            item = images.get(ann.get("image_id"))
            if item is None:
                raise _BadLine(f"image_id {ann.get('image_id')!r} not in images")
            if ann.get("category_id") not in cats:
                raise _BadLine(f"category_id {ann.get('category_id')!r} not in categories")
            name = cats[ann["category_id"]]
            seg = ann.get("segmentation")
            poly = None
            if isinstance(seg, list) and seg:
                first = seg[0] if isinstance(seg[0], list) else seg
                poly = np.array(_floats([str(v) for v in first], "segmentation")).reshape(-1, 2) \
                    if len(first) % 2 == 0 else None
                if poly is None:
                    raise _BadLine("segmentation polygon has an odd number of coordinates")
            bbox = ann.get("bbox")
            if poly is not None:
                box = OrientedBox.from_corners(poly, front=False) if len(poly) == 4 else OrientedBox.from_polygon(poly)
            elif isinstance(bbox, list) and len(bbox) == 4:
                x, y, bw, bh = _floats([str(v) for v in bbox], "bbox")
                if bw <= 0 or bh <= 0:
                    raise _BadLine(f"degenerate bbox: width {bw}, height {bh}")
                box = OrientedBox.from_xyxy(x, y, x + bw, y + bh)
            else:
                raise _BadLine("annotation has neither a polygon segmentation nor a bbox [x, y, w, h]")
            heading = _heading_attr(ann, (box.cx, box.cy))
            has_front = heading is not None
            if heading is not None and poly is None:
                solved = _box_from_bbox_and_heading(*_floats([str(v) for v in bbox], "bbox"), heading)
                if solved is None:
                    warnings.warn(f"{_where(path, where)}: heading with only a bbox near 45 degrees; "
                                  "kept the bbox without a heading", stacklevel=3)
                    has_front = False
                else:
                    box = solved
            elif heading is not None:
                if angle_diff(axis_of(heading), box.axis_deg, period=180.0) > 45.0:
                    raise _BadLine(f"heading {heading:.1f} is across the box's long axis ({box.axis_deg:.1f}); "
                                   "heading must be 0 = up, clockwise")
                sign = 1 if angle_diff(box.axis_deg, heading) <= 90 else -1
                box = box.with_heading(heading_from_axis(box.axis_deg, sign))
            difficult = bool(ann.get("iscrowd")) or bool(ann.get("difficult"))
            lab = b.label(name, box, has_front=has_front, difficult=difficult, width=item.width,
                          height=item.height, path=path, line=where)
            return item, lab

        res = b.run(path, where, one)
        if res is not None:
            item, lab = res
            if lab is not None:
                item.labels.append(lab)
    return list(images.values())


# ----------------------------------------------------------------------- xView
def read_xview(
    path: str | Path,
    *,
    image_dir: str | Path | None = None,
    class_map: ClassMap | str | Path | Mapping[str, Any] | None = None,
    missing_images: Literal["error", "skip"] = "error",
    on_outside: OnOutside = "clip",
    tolerance_px: float = 2.0,
    on_invalid: OnInvalid = "error",
) -> list[LabelledImage]:
    """xView GeoJSON: features with ``bounds_imcoords`` "x0,y0,x1,y1", ``type_id`` and ``image_id``.

    ``type_id`` is named through :data:`~.classmap.XVIEW_CLASSES`, then mapped by
    the class map. Image sizes come from the image files in ``image_dir``
    (default: the GeoJSON's folder); ``missing_images="skip"`` leaves out images
    that are not there (xView is often used in part).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}", f"not valid JSON: {e.msg}") from None
    feats = data.get("features") if isinstance(data, Mapping) else None
    if not isinstance(feats, list):
        raise InputError(path, "not a GeoJSON FeatureCollection (no 'features' list)")
    b = _builder(class_map, on_outside, tolerance_px, on_invalid)
    base = Path(image_dir) if image_dir else path.parent
    by_image: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    for i, f in enumerate(feats):
        props = f.get("properties") if isinstance(f, Mapping) else None
        if not isinstance(props, Mapping) or "image_id" not in props:
            b.fail(path, f"features[{i}]", "feature without properties.image_id")
            continue
        by_image[str(props["image_id"])].append((i, props))
    out = []
    for image_id in sorted(by_image):
        img = base / image_id
        if not img.is_file():
            if missing_images == "skip":
                continue
            raise InputError(path, f"image {image_id} not found in {base}")
        w, h = image_size(img)
        item = LabelledImage(img, w, h)
        for i, props in by_image[image_id]:
            where = f"features[{i}]"

            def one(props: Mapping[str, Any] = props) -> Label | None:
                try:
                    tid = int(props.get("type_id"))
                except (TypeError, ValueError):
                    raise _BadLine(f"type_id {props.get('type_id')!r} is not an integer") from None
                if tid not in XVIEW_CLASSES:
                    raise _BadLine(f"type_id {tid} is not an xView class")
                bounds = str(props.get("bounds_imcoords", "")).split(",")
                if len(bounds) != 4:
                    raise _BadLine(f"bounds_imcoords must be 'x0,y0,x1,y1', got {props.get('bounds_imcoords')!r}")
                x0, y0, x1, y1 = _floats([s.strip() for s in bounds], "bounds_imcoords")
                box = OrientedBox.from_xyxy(x0, y0, x1, y1)
                return b.label(XVIEW_CLASSES[tid], box, has_front=False, difficult=False, width=w, height=h,
                               path=path, line=where)

            lab = b.run(path, where, one)
            if lab is not None:
                item.labels.append(lab)
        out.append(item)
    return out
