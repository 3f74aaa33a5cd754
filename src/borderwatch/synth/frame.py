"""The river frame: a smoothed copy of the corridor line with fast (x, y) <-> (s, o) maps.

``s`` is metres along the *parent* line (absolute, so a stretch and its whole
corridor key the same ground alike) and ``o`` the signed offset, + = left bank.
The line is smoothed so normals turn continuously and objects placed by
(s, o) land where the renderer draws the matching ground.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.ops import substring

from borderwatch.corridor.model import Corridor

PIECE_M = 10_000.0  # the frame's ends snap to this grid on the parent line
MARGIN_M = 6_000.0
STEP_M = 20.0


def _chaikin(xy: np.ndarray, iters: int) -> np.ndarray:
    for _ in range(iters):
        a, b = xy[:-1], xy[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        mid = np.empty((2 * len(a), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.vstack([xy[:1], mid, xy[-1:]])
    return xy


def _resample(xy: np.ndarray, step: float) -> np.ndarray:
    seg = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(cum[-1] // step) + 1)
    at = np.arange(n) * step
    if at[-1] < cum[-1] - 1e-6:
        at = np.append(at, cum[-1])
    return np.column_stack([np.interp(at, cum, xy[:, 0]), np.interp(at, cum, xy[:, 1])])


class RiverFrame:
    """Along/across coordinates of a corridor's river (see module doc)."""

    def __init__(self, corridor: Corridor):
        parent = corridor.parent_line if corridor.parent_line is not None else corridor.line
        base_km = corridor.chainage_offset_km if corridor.parent_line is not None else 0.0
        start = base_km * 1000.0
        end = start + corridor.line.length
        p0 = max(0.0, math.floor((start - MARGIN_M) / PIECE_M) * PIECE_M)
        p1 = min(parent.length, math.ceil((end + MARGIN_M) / PIECE_M) * PIECE_M)
        piece = substring(parent, p0, p1)
        xy = _resample(np.asarray(piece.coords)[:, :2], 100.0)
        xy = _chaikin(xy, 4)
        xy = _resample(xy, STEP_M)
        self.xy = xy
        self.s0 = p0
        d = np.diff(xy, axis=0)
        self.seglen = np.hypot(d[:, 0], d[:, 1])
        self.dir = d / self.seglen[:, None]
        self.cum = np.concatenate([[0.0], np.cumsum(self.seglen)]) + p0
        self.line = LineString(xy)
        shapely.prepare(self.line)
        from scipy.spatial import cKDTree

        self._tree = cKDTree(0.5 * (xy[:-1] + xy[1:]))
        # the corridor's own span on this frame (absolute s)
        sa, _ = self.project(np.array([corridor.line.coords[0][0]]), np.array([corridor.line.coords[0][1]]))
        sb, _ = self.project(np.array([corridor.line.coords[-1][0]]), np.array([corridor.line.coords[-1][1]]))
        self.span = (float(min(sa[0], sb[0])), float(max(sa[0], sb[0])))

    @property
    def s_min(self) -> float:
        return float(self.cum[0])

    @property
    def s_max(self) -> float:
        return float(self.cum[-1])

    def project(self, x: np.ndarray, y: np.ndarray, k: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """(s, o) of points: s absolute metres along the frame, o + to the left.

        Exact distances to the k segments with the nearest midpoints (segments are
        20 m, so the nearest segment is among them); each point's answer depends on
        that point alone, never on the window it came with.
        """
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        k = min(k, len(self.seglen))
        _, cand = self._tree.query(np.column_stack([x, y]), k=k)
        cand = cand.reshape(len(x), k)
        ax = self.xy[cand, 0]
        ay = self.xy[cand, 1]
        tx = self.dir[cand, 0]
        ty = self.dir[cand, 1]
        ln = self.seglen[cand]
        dx = x[:, None] - ax
        dy = y[:, None] - ay
        t = np.clip(dx * tx + dy * ty, 0.0, ln)
        dist = np.hypot(dx - t * tx, dy - t * ty)
        # ties (a point level with a vertex) go to the lower segment index, whatever the order
        key = dist + cand * 1e-9
        j = np.argmin(key, axis=1)
        rows = np.arange(len(x))
        c = cand[rows, j]
        dj = dist[rows, j]
        cross = tx[rows, j] * dy[rows, j] - ty[rows, j] * dx[rows, j]
        s = self.cum[c] + t[rows, j]
        return s, np.where(cross >= 0, dj, -dj)

    def _seg(self, s):
        s = np.clip(np.asarray(s, dtype=np.float64), self.cum[0], self.cum[-1])
        i = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.seglen) - 1)
        return s, i

    def tangent(self, s) -> tuple[np.ndarray, np.ndarray]:
        """Unit tangent at s, blended between segments so it turns smoothly."""
        s, i = self._seg(s)
        t = (s - self.cum[i]) / self.seglen[i]
        j = np.clip(i + np.where(t >= 0.5, 1, -1), 0, len(self.seglen) - 1)
        w = np.abs(t - 0.5)
        dx = self.dir[i, 0] * (1 - w) + self.dir[j, 0] * w
        dy = self.dir[i, 1] * (1 - w) + self.dir[j, 1] * w
        n = np.hypot(dx, dy)
        return dx / n, dy / n

    def to_xy(self, s, o) -> tuple[np.ndarray, np.ndarray]:
        """World (x, y) of frame coordinates (s, o)."""
        s, i = self._seg(s)
        t = s - self.cum[i]
        px = self.xy[i, 0] + self.dir[i, 0] * t
        py = self.xy[i, 1] + self.dir[i, 1] * t
        tx, ty = self.dir[i, 0], self.dir[i, 1]  # the segment's own normal: exact inverse of project
        o = np.asarray(o, dtype=np.float64)
        return px - ty * o, py + tx * o

    def bearing(self, s) -> np.ndarray:
        """Compass bearing (0 = north, clockwise) of the downstream direction at s."""
        tx, ty = self.tangent(s)
        return np.degrees(np.arctan2(tx, ty)) % 360.0
