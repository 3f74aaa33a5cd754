"""A small convolutional water net for coarse RGB imagery (3-10 m, e.g. NAIP at 5 m), run with onnxruntime.

At 5 m, algae-green or wind-rippled lakes and dark crops share their pixel colour; what tells them apart is
the neighbourhood: smooth water inside a shore ring against row texture and straight field edges. A small
U-Net (three scales, 32/48/64 channels, ~220k weights, receptive field ~100 px) learns that from the NAIP train dates
(scripts/fit_landcover.py fit-cnn, with torch); at run time it needs only onnxruntime + numpy (no torch).
Fits of the same recipe with different seeds differ by up to 0.03-0.06 IoU on a date, so the shipped file
holds three of them (seeds 0, 1, 2; scripts/fit_landcover.py ensemble) and answers the mean of their
probabilities, as one ONNX graph with the single net's input and output (a water logit). On the development
date the mean of three scored 0.861 against 0.836-0.859 for its members (about 3x the net's time per tile).
Four times the weights of the first nets (16/24/32 channels) and three times the steps, fitted on a GPU, gained
0.014 on the development protocol and 0.017 on the held-out dates (lc-mlp-cnn-6, docs/landcover-fitting.md).
The ONNX file (water_cnn.onnx, ~2.7 MB) carries its version and fitting record (each member's) in its metadata.
Its probability is then averaged with its own mean over each Felzenszwalb segment of the tile
(SEGMENT_WEIGHT), which snaps the answer to the colour edges of the shore, and the shore's own pixels are
re-decided by the tile's water and land colours (refine_shore). MODEL_CARD.md says what it was fitted on and how
well it does.

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
#: left out of a development fit (2019; see docs/landcover-fitting.md), never on the held-out dates.
SEGMENT_WEIGHT = 0.5


def segment_smooth(p: np.ndarray, labels: np.ndarray, valid: np.ndarray, weight: float = SEGMENT_WEIGHT) -> np.ndarray:
    """(1 - weight) * p + weight * (mean of p over the pixel's segment, valid pixels only)."""
    n = int(labels.max()) + 1
    s = labels[valid]
    m = np.bincount(s, p[valid], n) / np.maximum(np.bincount(s, minlength=n), 1)
    out = ((1.0 - weight) * p + weight * m[labels]).astype(np.float32)
    out[~valid] = 0.0
    return out


#: shore refinement: pixels the answer is this sure of (p <= SURE or p >= 1 - SURE) teach the tile's two colours;
#: the pixels within SHORE_BAND_PX of the answer's shore take SHORE_WEIGHT of the colours' verdict. Chosen on the
#: development protocol only (docs/landcover-fitting.md: 2019 and the unfitted right halves of the train dates).
SHORE_SURE, SHORE_BAND_PX, SHORE_WEIGHT = 0.2, 1, 0.5
#: fewest sure pixels of each side before a tile's colours are trusted (else the answer is left as it is)
SHORE_MIN_PX = 30


def refine_shore(p: np.ndarray, rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """p(water) with its shoreline re-decided by this tile's own water and land colours.

    The net works at 1/4 scale and its edge is soft: at 5 m it leaves a one-pixel rim of lake as land (most of its
    misses on NAIP lie within 2 px of the shore). The tile itself says what its water and its land look like today:
    a Gaussian in log colour for each, fitted on the pixels the net is sure of (scipy), decides the rim pixels.
    """
    sure_w, sure_l = (p >= 1.0 - SHORE_SURE) & valid, (p <= SHORE_SURE) & valid
    if np.count_nonzero(sure_w) < SHORE_MIN_PX or np.count_nonzero(sure_l) < SHORE_MIN_PX:
        return p
    water = (p > 0.5) & valid
    # the shore's pixels on both sides; the tile edge and nodata are no shore (eroded as if water lay beyond)
    rim = (ndimage.binary_dilation(water, iterations=SHORE_BAND_PX)
           & ~ndimage.binary_erosion(water | ~valid, iterations=SHORE_BAND_PX, border_value=1) & valid)
    if not rim.any():
        return p
    from scipy.stats import multivariate_normal

    lg = np.log(rgb[:3].astype(np.float64) + 4.0)
    ll = []
    for side in (sure_w, sure_l):
        x = lg[:, side].T
        cov = np.cov(x, rowvar=False) + np.eye(3) * 1e-4  # a floor: flat lakes have near-zero colour spread
        ll.append(multivariate_normal(x.mean(axis=0), cov).logpdf(lg[:, rim].T))
    verdict = 1.0 / (1.0 + np.exp(-np.clip(ll[0] - ll[1], -50.0, 50.0)))
    out = p.copy()
    out[rim] = ((1.0 - SHORE_WEIGHT) * p[rim] + SHORE_WEIGHT * verdict).astype(np.float32)
    return out


def water_proba(rgb: np.ndarray, valid: np.ndarray, net: WaterNet | None = None) -> np.ndarray:
    """(H, W) float32 p(water) on the 3-10 m RGB path: the net, smoothed with the tile's segments, its shore
    re-decided by the tile's colours."""
    from borderwatch.analysis.landcover.regions import segment

    p = segment_smooth(cnn_water_proba(rgb, valid, net), segment(rgb, valid), valid)
    return refine_shore(p, rgb, valid)
