"""Real aerial frames with no river in them: what the land cover must not call water or a sandbar.

The land heads of the 0.3-2 m path were fitted on synthetic scenes; the only real pixels they saw are NAIP's
(5 m, water only). On real street scenes at 0.5 m they read dark asphalt as water and paving as sandbar (a
third of some Minsk frames was "water"), which beside a river town could add false "river" and false
evidence. The KIT Munich and Minsk drone frames hold no river, lake or gravel bar (checked by eye), so every
pixel in them is known to be neither water nor sandbar: a partial label. The frames are grouped by place, and
the places into two folds, so a fit on one fold can be scored on the other.

    python scripts/landcover_negatives.py --kit DIR --minsk DIR [--params P.json]   # false shares per place
    python scripts/landcover_negatives.py --kit DIR --minsk DIR --fixtures tests/analysis/landcover/data
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from borderwatch.analysis.detect.kit import KIT_AIS_GSD_M
from borderwatch.analysis.detect.lanes import (
    MINSK_CROSSROADS, MINSK_CROSSROADS_GREY, MINSK_JUNCTION, MINSK_TRAM_STREET, MUNICH_ROAD, resample_frame,
)

#: place -> (data set, file glob, GSD in metres or None: from the frame's labelled cars). Frames of one place
#: overlap, so they are never split between folds. GSDs are those the front-check scenes measured.
PLACES: dict[str, tuple[str, str, float | None]] = {
    "munich_crossing": ("kit", "MOS[789]?.png", KIT_AIS_GSD_M),  # MOS74-93 (684 x 547 px): a crossing among trees
    "munich_road": ("kit", "MOS1[5-7]?.png", MUNICH_ROAD.gsd_m),  # MOS155-179 (1764 x 430 px): a divided road
    "minsk_junction": ("minsk", "DJI_0005-*.jpg", MINSK_JUNCTION.gsd_m),
    "minsk_tram_street": ("minsk", "DJI_0762-*.jpg", MINSK_TRAM_STREET.gsd_m),
    "minsk_crossroads": ("minsk", "DJI-00760-*.jpg", MINSK_CROSSROADS.gsd_m),
    "minsk_crossroads_grey": ("minsk", "DJI_0013-*.jpg", MINSK_CROSSROADS_GREY.gsd_m),  # the same crossroads, another day
    "minsk_stills": ("minsk", "DJI_00[0-9][0-9].JPG", None),  # 4000 x 2250 stills at 2.5-12 cm
}
#: stills taken at a slant, with the horizon and sky in view: no one GSD, and the sky is not ground
OBLIQUE = frozenset({"DJI_0028.JPG", "DJI_0030.JPG"})
#: two folds of places (fixed before any fit): a crossroads seen on two days stays in one fold
FOLDS = {
    "a": ("munich_crossing", "minsk_junction", "minsk_crossroads", "minsk_crossroads_grey"),
    "b": ("munich_road", "minsk_tram_street", "minsk_stills"),
}
#: a labelled car is about this long (m): the GSD of a frame without a fixed one
CAR_LENGTH_M = 4.5


def frame_gsd(image: Path, width: int, height: int) -> float:
    """GSD (m) of a frame from the median long side of its labelled cars (YOLO boxes, class 0)."""
    a = np.loadtxt(image.with_suffix(".txt"), ndmin=2)
    cars = a[a[:, 0] == 0] if a.size else a
    if not len(cars):
        raise ValueError(f"{image}: no labelled car to measure its GSD from")
    return CAR_LENGTH_M / float(np.median(np.maximum(cars[:, 3] * width, cars[:, 4] * height)))


def frames(dirs: dict[str, Path], places, gsd: float) -> Iterator[tuple[str, str, np.ndarray]]:
    """(place, file name, (3, H, W) uint8 RGB resampled to ``gsd`` as the pipeline would) for every frame of places."""
    import cv2

    for place in places:
        source, pattern, fixed = PLACES[place]
        paths = sorted(p for p in Path(dirs[source]).glob(pattern) if p.name not in OBLIQUE)
        if not paths:
            raise FileNotFoundError(f"no frames {pattern} in {dirs[source]} (place {place})")
        for p in paths:
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"{p}: not an image cv2 can read")
            g0 = fixed if fixed is not None else frame_gsd(p, bgr.shape[1], bgr.shape[0])
            small = resample_frame(np.ascontiguousarray(bgr[:, :, ::-1]), g0 / gsd)
            yield place, p.name, np.ascontiguousarray(small.transpose(2, 0, 1))


def false_shares(dirs: dict[str, Path], places, gsds=(0.5, 0.8)) -> dict:
    """Per place and GSD: the share of pixels classify_landcover calls water, and sandbar (both false here),
    and the worst frame's water share."""
    from borderwatch.analysis.landcover.classify import classify_landcover
    from borderwatch.analysis.landcover.codes import SANDBAR, WATER

    out: dict = {}
    for gsd in gsds:
        for place in places:
            n = water = bar = 0
            worst = 0.0
            for _, _, rgb in frames(dirs, (place,), gsd):
                c = classify_landcover(rgb, np.ones(rgb.shape[1:], bool), gsd).classes
                n += c.size
                water += int(np.count_nonzero(c == WATER))
                bar += int(np.count_nonzero(c == SANDBAR))
                worst = max(worst, float(np.mean(c == WATER)))
            out.setdefault(place, {})[str(gsd)] = {"water": round(water / n, 4), "sandbar": round(bar / n, 4),
                                                   "worst_frame_water": round(worst, 4), "px": n}
    return out


#: test fixtures (tests/analysis/landcover/data/street_*): the first frame, at 0.5 m, of the place of each data set
#: where the heads fitted without street frames (fit-20261127-seasons) read the most water
FIXTURE_PLACES = ("munich_road", "minsk_crossroads")


def write_fixtures(dirs: dict[str, Path], out_dir: Path, gsd: float = 0.5) -> None:
    """Write street_<place>_<frame>_<gsd>m.png: the first frame of each FIXTURE_PLACES place, resampled to gsd."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    for place in FIXTURE_PLACES:
        _, name, rgb = next(frames(dirs, (place,), gsd))
        path = out_dir / f"street_{place}_{Path(name).stem}_{gsd:g}m.png"
        Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0))).save(path, optimize=True)
        print(path, rgb.shape)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", required=True, help="KIT AIS Munich folder (MOS*.png with YOLO labels)")
    ap.add_argument("--minsk", required=True, help="Minsk drone folder (DJI*.jpg with YOLO labels)")
    ap.add_argument("--params", help="land-cover parameters to score instead of the shipped params.json")
    ap.add_argument("--places", default=",".join(PLACES), help="comma-separated places (default: all)")
    ap.add_argument("--fixtures", metavar="DIR", help="write the test fixtures there instead of scoring")
    args = ap.parse_args(argv)
    dirs = {"kit": Path(args.kit), "minsk": Path(args.minsk)}
    if args.fixtures:
        write_fixtures(dirs, Path(args.fixtures))
        return
    if args.params:
        import borderwatch.analysis.landcover.model as model

        model.PARAMS_FILE = Path(args.params)
        model.load_params.cache_clear()
    print(json.dumps(false_shares(dirs, args.places.split(",")), indent=1))


if __name__ == "__main__":
    main()
