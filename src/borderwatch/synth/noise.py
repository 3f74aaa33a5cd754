"""Hash-based value noise keyed on absolute coordinates, so any window is seamless.

Everything here is a pure function of (coordinates, seed, channel): no state, no
RNG streams, so two windows that share ground compute identical numbers.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint32(0x9E3779B1)
_M2 = np.uint32(0x85EBCA77)
_M3 = np.uint32(0xC2B2AE3D)
_M4 = np.uint32(0x27D4EB2F)


def _u32(a) -> np.ndarray:
    return (np.asarray(a, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32)


def hash2(ix, iy, key: int) -> np.ndarray:
    """uint32 hash of two integer arrays and a key (seed/channel mix)."""
    with np.errstate(over="ignore"):
        h = _u32(ix) * _M1 ^ _u32(iy) * _M2 ^ np.uint32((key * 0xC2B2AE3D) & 0xFFFFFFFF)
        h ^= h >> np.uint32(15)
        h *= _M4
        h ^= h >> np.uint32(13)
        h *= _M2
        h ^= h >> np.uint32(16)
    return h


def rand2(ix, iy, key: int) -> np.ndarray:
    """Uniform float32 in [0, 1) from integer coordinates."""
    return (hash2(ix, iy, key) >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def key(seed: int, channel: int) -> int:
    """Mix a world seed and a channel number into one 32-bit key."""
    h = hash2(np.array([seed]), np.array([channel]), 0x5EED)[0]
    return int(h)


def _smooth(t):
    return t * t * (3.0 - 2.0 * t)


def vnoise2(u, v, k: int) -> np.ndarray:
    """Smooth value noise in [0, 1) at float coordinates (lattice spacing 1)."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    iu = np.floor(u)
    iv = np.floor(v)
    fu = _smooth((u - iu).astype(np.float32))
    fv = _smooth((v - iv).astype(np.float32))
    iu = iu.astype(np.int64)
    iv = iv.astype(np.int64)
    a = rand2(iu, iv, k)
    b = rand2(iu + 1, iv, k)
    c = rand2(iu, iv + 1, k)
    d = rand2(iu + 1, iv + 1, k)
    top = a + (b - a) * fu
    bot = c + (d - c) * fu
    return top + (bot - top) * fv


def fbm2(u, v, k: int, octaves: int = 4, gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise, normalised to about [0, 1]."""
    total = np.zeros(np.broadcast(np.asarray(u), np.asarray(v)).shape, dtype=np.float32)
    amp, norm, f = 1.0, 0.0, 1.0
    for o in range(octaves):
        total += np.float32(amp) * vnoise2(np.asarray(u) * f, np.asarray(v) * f, k + 7919 * o)
        norm += amp
        amp *= gain
        f *= 2.0
    return total / np.float32(norm)


def vnoise1(t, k: int) -> np.ndarray:
    """Smooth 1-D value noise in [0, 1) (lattice spacing 1)."""
    t = np.asarray(t, dtype=np.float64)
    it = np.floor(t)
    f = _smooth(t - it)
    it = it.astype(np.int64)
    a = rand2(it, 0, k).astype(np.float64)
    b = rand2(it + 1, 0, k).astype(np.float64)
    return a + (b - a) * f


def fbm1(t, k: int, octaves: int = 3) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    total = np.zeros_like(t)
    amp, norm, f = 1.0, 0.0, 1.0
    for o in range(octaves):
        total += amp * vnoise1(t * f, k + 104729 * o)
        norm += amp
        amp *= 0.5
        f *= 2.0
    return total / norm


class Upsampler:
    """Separable bilinear upsampling from a world-aligned lattice to a pixel window.

    The lattice has spacing ``cell`` metres with nodes at integer multiples of
    ``cell``; pixel weights come from absolute pixel-centre coordinates, so the
    result for a pixel never depends on the window it was rendered in.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray, cell: float, smooth: bool = False):
        ux = xs / cell
        uy = ys / cell
        self.ix0 = int(np.floor(ux.min()))
        self.iy0 = int(np.floor(uy.min()))
        fx = np.floor(ux)
        fy = np.floor(uy)
        self.cx = (fx - self.ix0).astype(np.intp)
        self.cy = (fy - self.iy0).astype(np.intp)
        wx = (ux - fx).astype(np.float32)
        wy = (uy - fy).astype(np.float32)
        if smooth:
            wx, wy = _smooth(wx), _smooth(wy)
        self.wx, self.wy = wx, wy
        self.nx = int(self.cx.max()) + 2
        self.ny = int(self.cy.max()) + 2
        self.cell = cell

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Integer lattice indices (ix, iy) of the nodes, as 2-D arrays (ny, nx)."""
        ix = np.arange(self.ix0, self.ix0 + self.nx, dtype=np.int64)
        iy = np.arange(self.iy0, self.iy0 + self.ny, dtype=np.int64)
        return np.meshgrid(ix, iy)

    def node_xy(self) -> tuple[np.ndarray, np.ndarray]:
        ix, iy = self.nodes()
        return ix * self.cell, iy * self.cell

    def up(self, lat: np.ndarray) -> np.ndarray:
        """Upsample a (ny, nx) lattice field to (H, W) float32 pixels."""
        lat = np.asarray(lat, dtype=np.float32)
        a = lat[:, self.cx]
        b = lat[:, self.cx + 1]
        rows = a + (b - a) * self.wx  # (ny, W)
        top = rows[self.cy]
        bot = rows[self.cy + 1]
        bot -= top
        bot *= self.wy[:, None]
        bot += top
        return bot

    def noise(self, k: int) -> np.ndarray:
        """Value noise in [0, 1) with this lattice's spacing, at every pixel."""
        ix, iy = self.nodes()
        return self.up(rand2(ix, iy, k))
