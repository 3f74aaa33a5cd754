"""How much of the corridor each capture date covers, and where the holes are.

Gaps are reported as chainage intervals (km from this corridor's origin, as
tile chainages are) so a reader can say "no imagery for km 12.3-14.0 on
2023-05-14" without a map.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.ops import substring

from borderwatch.errors import InputError
from borderwatch.imagery.scene import Scene

#: A chainage bin covered less than this is part of a gap.
GAP_BELOW = 0.5


@dataclass(frozen=True)
class DateCoverage:
    """One capture date: the covered share of the watched area and the uncovered stretches."""

    date: dt.date
    share: float  # 0..1 of corridor.area covered by the union of the footprints
    gaps: tuple[tuple[float, float], ...]  # (km from, km to), merged, in river order
    scene_ids: tuple[str, ...]

    @property
    def scene_count(self) -> int:
        return len(self.scene_ids)

    @property
    def gap_km(self) -> float:
        return sum(b - a for a, b in self.gaps)


def coverage_by_date(scenes: list[Scene], corridor, step_km: float = 0.1) -> list[DateCoverage]:
    """Per capture date (oldest first), the corridor coverage of that date's scenes."""
    if not step_km or step_km <= 0:
        raise InputError("step_km", f"chainage step must be positive, not {step_km!r}")
    by_date: dict[dt.date, list[Scene]] = defaultdict(list)
    for s in scenes:
        by_date[s.capture_date].append(s)
    area = corridor.area
    edges, bins = _chainage_bins(corridor, step_km)
    bin_area = shapely.area(bins)
    out = []
    for day in sorted(by_date):
        group = by_date[day]
        cover = shapely.union_all([corridor.from_lonlat(shapely.from_wkt(s.footprint_wkt)) for s in group])
        share = float(shapely.intersection(area, cover).area / area.area) if area.area else 0.0
        covered = np.divide(
            shapely.area(shapely.intersection(bins, cover)), bin_area,
            out=np.zeros(len(bins)), where=bin_area > 0,
        )
        out.append(DateCoverage(day, min(share, 1.0), _gaps(edges, covered < GAP_BELOW), tuple(s.scene_id for s in group)))
    return out


def _chainage_bins(corridor, step_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (km) and the watched-area polygon of each bin, both banks."""
    length = corridor.line.length
    n = max(1, math.ceil(length / (step_km * 1000.0) - 1e-9))
    edges = np.minimum(np.arange(n + 1) * step_km, length / 1000.0)
    edges[-1] = length / 1000.0
    polys = []
    for a, b in zip(edges[:-1], edges[1:]):
        piece = substring(corridor.line, a * 1000.0, b * 1000.0)
        if piece.length <= 0:
            polys.append(shapely.Polygon())
            continue
        left = piece.buffer(corridor.left_width_m, single_sided=True)
        right = piece.buffer(-corridor.right_width_m, single_sided=True)
        polys.append(shapely.intersection(shapely.union(left, right), corridor.area))
    return edges, np.array(polys, dtype=object)


def _gaps(edges: np.ndarray, empty: np.ndarray) -> tuple[tuple[float, float], ...]:
    gaps: list[list[float]] = []
    for i, e in enumerate(empty):
        if not e:
            continue
        a, b = float(edges[i]), float(edges[i + 1])
        if gaps and abs(gaps[-1][1] - a) < 1e-9:
            gaps[-1][1] = b
        else:
            gaps.append([a, b])
    return tuple((round(a, 3), round(b, 3)) for a, b in gaps)
