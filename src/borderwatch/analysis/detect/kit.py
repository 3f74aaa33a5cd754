"""The KIT AIS Munich vehicle set (YOLO labels) and leak-free splits of overlapping crops.

KIT AIS images are crops of airborne flight lines, about 0.13 m per pixel,
named ``MOS<number>.png``; consecutive numbers are overlapping crops of one
flight line. In the copy checked while writing this (MOS74-93, MOS155-179)
neighbouring frames are shifted by only a few pixels, and frames ten numbers
apart still overlap, so a random image split leaks test vehicles into
training. :func:`split_by_sequence` holds out a contiguous block and keeps the
rest of that run (or, with ``buffer=k``, k frames either side) out of training.
With ``whole_runs=True`` the rest of the run is held out too (scored), which
tests on a street the model has never seen rather than on a few frames.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from borderwatch.errors import InputError

from .classmap import ClassMap
from .labels import LabelledImage, read_yolo

__all__ = ["KIT_AIS_GSD_M", "KIT_AIS_NAMES", "SequenceSplit", "load_kit_ais", "sequence_key", "split_by_sequence"]

KIT_AIS_NAMES: tuple[str, ...] = ("car", "truck", "bus", "minibus", "cyclist")
KIT_AIS_GSD_M = 0.13

_KEY = re.compile(r"^(.*?)(\d+)$")


def sequence_key(path: str | Path) -> tuple[str, int] | None:
    """(prefix, number) from a file stem like ``MOS155``; None when the stem has no trailing number."""
    m = _KEY.match(Path(path).stem)
    return (m.group(1), int(m.group(2))) if m else None


def load_kit_ais(
    folder: str | Path,
    *,
    class_map: ClassMap | str | Path | Mapping[str, Any] | None = None,
    names: Sequence[str] | str | Path | None = None,
) -> list[LabelledImage]:
    """All labelled images of a KIT AIS folder (``*.txt`` beside ``*.png``), sorted by sequence.

    Class names come from ``aerial.names`` in the folder if present, else
    :data:`KIT_AIS_NAMES`. Boxes are axis-aligned without a heading. Each image
    gets ``gsd_m`` 0.13 and its ``sequence`` (file-name prefix) and ``frame``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "not a folder")
    if names is None:
        names = folder / "aerial.names" if (folder / "aerial.names").is_file() else KIT_AIS_NAMES
    files = [p for p in sorted(folder.glob("*.txt")) if p.name not in ("classes.txt",)]
    if not files:
        raise InputError(folder, "no YOLO label files (*.txt) found")
    images = read_yolo(files, names, class_map=class_map)
    for im in images:
        im.gsd_m = KIT_AIS_GSD_M
        key = sequence_key(im.path)
        if key is not None:
            im.sequence, im.frame = key
    images.sort(key=lambda im: (im.sequence or "", im.frame if im.frame is not None else -1, im.key))
    return images


@dataclass
class SequenceSplit:
    """Train / held-out test, plus the frames kept out of both because they overlap the test block."""

    train: list[LabelledImage]
    test: list[LabelledImage]
    excluded: list[LabelledImage]


def _runs(images: Sequence[LabelledImage]) -> list[list[LabelledImage]]:
    """Maximal runs of consecutive frame numbers with the same prefix, in order."""
    keyed = []
    for im in images:
        if im.sequence is not None and im.frame is not None:
            keyed.append(((im.sequence, im.frame), im))
        else:
            key = sequence_key(im.path)
            keyed.append(((key if key else (im.key, 0)), im))
    keyed.sort(key=lambda t: (t[0][0], t[0][1], t[1].key))
    runs: list[list[LabelledImage]] = []
    prev: tuple[str, int] | None = None
    for key, im in keyed:
        if prev is None or key[0] != prev[0] or key[1] - prev[1] > 1:
            runs.append([])
        runs[-1].append(im)
        prev = key
    return runs


def split_by_sequence(
    images: Sequence[LabelledImage],
    holdout: float | Collection[str] = 0.2,
    *,
    buffer: int | None = None,
    whole_runs: bool = False,
) -> SequenceSplit:
    """Hold out a contiguous block of frames so that no neighbour of a test image is trained on.

    ``holdout`` is either a fraction of all images (the block is taken from
    the end of the last runs in (prefix, number) order) or a collection of
    image names/stems/paths to hold out. ``buffer=None`` (default) keeps every
    other frame of a run that has a test frame out of training (safe when a
    whole run views the same ground); ``buffer=k`` excludes only the ``k``
    frames on either side of each test frame. ``whole_runs=True`` moves every
    frame of a run that has a test frame into the test set (nothing is excluded).
    """
    if buffer is not None and buffer < 0:
        raise InputError(None, f"buffer must be >= 0, not {buffer}")
    runs = _runs(images)
    ordered = [im for run in runs for im in run]
    if isinstance(holdout, float | int) and not isinstance(holdout, bool):
        if not 0 < holdout < 1:
            raise InputError(None, f"holdout fraction must be between 0 and 1, not {holdout}")
        n = min(max(1, math.ceil(holdout * len(ordered) - 1e-9)), len(ordered) - 1) if len(ordered) > 1 else 0
        test_ids = {id(im) for im in ordered[len(ordered) - n:]} if n else set()
    else:
        wanted = {str(h) for h in holdout}
        test_ids = {id(im) for im in ordered if {im.key, im.path.name, im.path.stem} & wanted}
        found = {s for im in ordered for s in (im.key, im.path.name, im.path.stem) if s in wanted}
        missing = wanted - found
        if missing:
            raise InputError(None, f"holdout names not among the images: {', '.join(sorted(missing))}")
    excluded_ids: set[int] = set()
    for run in runs:
        pos = [i for i, im in enumerate(run) if id(im) in test_ids]
        if not pos:
            continue
        if whole_runs:
            test_ids.update(id(im) for im in run)
            continue
        for i, im in enumerate(run):
            if id(im) in test_ids:
                continue
            if buffer is None or min(abs(i - p) for p in pos) <= buffer:
                excluded_ids.add(id(im))
    return SequenceSplit(
        train=[im for im in ordered if id(im) not in test_ids and id(im) not in excluded_ids],
        test=[im for im in ordered if id(im) in test_ids],
        excluded=[im for im in ordered if id(im) in excluded_ids],
    )
