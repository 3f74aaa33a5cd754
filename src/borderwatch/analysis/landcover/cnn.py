"""A small convolutional water net for coarse RGB imagery (3-10 m, e.g. NAIP at 5 m), run with onnxruntime.

At 5 m, algae-green or wind-rippled lakes and dark crops share their pixel colour; what tells them apart is
the neighbourhood: smooth water inside a shore ring against row texture and straight field edges. A tiny
U-Net (three scales, ~56k weights, receptive field ~100 px) learns that from the NAIP train dates
(scripts/fit_landcover.py fit-cnn, with torch); at run time it needs only onnxruntime + numpy (no torch).
Fits of the same recipe with different seeds differ by up to 0.03-0.06 IoU on a date, so the shipped file
holds three of them (seeds 0, 1, 2; scripts/fit_landcover.py ensemble) and answers the mean of their
probabilities, as one ONNX graph with the single net's input and output (a water logit). On the development
date the mean of three scored 0.861 against 0.836-0.859 for its members (about 3x the net's time per tile).
The ONNX file (water_cnn.onnx, ~0.74 MB) carries its version and fitting record (each member's) in its metadata.
Its probability is then averaged with its own mean over each Felzenszwalb segment of the tile
(SEGMENT_WEIGHT), which snaps the answer to the colour edges of the shore.

Input per pixel: R, G, B / 255 and log colour minus the tile's median log colour (a per-tile white balance:
real scenes drift in brightness and colour from date to date; the fit adds random gain / gamma on top).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from borderwatch.errors import InputError
from borderwatch.onnxrt import cpu_session

CNN_FILE = Path(__file__).with_name("water_cnn.onnx")
FORMAT = "borderwatch-water-cnn/1"

#: smallest side the net runs on: two 2x poolings, then a dilation-4 reflect-padded convolution at 1/4 scale
#: (edge slivers of a tiling are padded up to it)
MIN_PX = 20
#: the tile is padded to a multiple of this (two poolings)
MULTIPLE = 4


@dataclass(frozen=True)
class WaterNet:
    version: str
    meta: dict
    session: object  # onnxruntime.InferenceSession: (1, 6, H, W) float32 -> (1, 1, H, W) water logit

    def logit(self, x: np.ndarray) -> np.ndarray:
        """(6, H, W) input, H and W multiples of MULTIPLE and >= MIN_PX -> (H, W) water logit."""
        return self.session.run(None, {"x": x[None]})[0][0, 0]


@lru_cache(maxsize=2)
def load_cnn(path: str | None = None) -> WaterNet:
    """The net of water_cnn.onnx (or `path`) as one single-threaded onnxruntime session: tiles are the unit of
    parallel work (pipeline executors), and threads inside a tile only spin on a busy machine."""
    p = Path(path) if path else CNN_FILE
    session = cpu_session(p, 1, what="land-cover water net file")
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("borderwatch.format") != FORMAT:
        raise InputError(p, f"not a land-cover water net file (format {meta.get('borderwatch.format')!r})")
    return WaterNet(meta["borderwatch.version"], json.loads(meta.get("borderwatch.meta", "{}")), session)


def prepare(rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(3, H, W) uint8 -> (6, H, W) float32 net input; invalid pixels take their nearest valid pixel's colour."""
    x = rgb[:3].astype(np.float32)
    if not valid.all():
        _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
        x = x[:, iy, ix]
    lg = np.log(x + np.float32(4.0))
    med = np.median(lg[:, valid], axis=1).astype(np.float32)
    return np.concatenate([x * np.float32(1 / 255) - np.float32(0.4), lg - med[:, None, None]])


def cnn_water_proba(rgb: np.ndarray, valid: np.ndarray, net: WaterNet | None = None) -> np.ndarray:
    """(H, W) float32 p(water) of the net alone for a (3, H, W) uint8 tile (0 outside valid)."""
    net = net or load_cnn()
    h, w = valid.shape
    x = prepare(rgb, valid)
    ph = max(-(-h // MULTIPLE) * MULTIPLE, MIN_PX) - h
    pw = max(-(-w // MULTIPLE) * MULTIPLE, MIN_PX) - w
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="reflect" if min(h, w) > max(ph, pw) else "edge")
    z = net.logit(np.ascontiguousarray(x))[:h, :w]
    p = (1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))).astype(np.float32)
    p[~valid] = 0.0
    return p


#: share of the segment-mean in the final p(water) (0 = the net alone). Of 0 / 0.5 / 1, 0.5 was taken on a date
#: left out of a development fit (2019; see scripts/fit_landcover.py), never on the held-out dates.
SEGMENT_WEIGHT = 0.5


def segment_smooth(p: np.ndarray, labels: np.ndarray, valid: np.ndarray, weight: float = SEGMENT_WEIGHT) -> np.ndarray:
    """(1 - weight) * p + weight * (mean of p over the pixel's segment, valid pixels only)."""
    n = int(labels.max()) + 1
    s = labels[valid]
    m = np.bincount(s, p[valid], n) / np.maximum(np.bincount(s, minlength=n), 1)
    out = ((1.0 - weight) * p + weight * m[labels]).astype(np.float32)
    out[~valid] = 0.0
    return out


def water_proba(rgb: np.ndarray, valid: np.ndarray, net: WaterNet | None = None) -> np.ndarray:
    """(H, W) float32 p(water) on the 3-10 m RGB path: the net, smoothed with the tile's segments."""
    from borderwatch.analysis.landcover.regions import segment

    return segment_smooth(cnn_water_proba(rgb, valid, net), segment(rgb, valid), valid)
