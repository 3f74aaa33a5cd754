"""Cut a corridor into square tiles of a fixed UTM grid, ordered by chainage.

The grid is anchored at multiples of the tile size in the corridor CRS, so a
tile's id is stable across runs, stretches and dates: the same ground always
has the same id, which is what results are keyed by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import box

from borderwatch.corridor.model import Corridor

DEFAULT_TILE_M = 512.0


@dataclass(frozen=True)
class Tile:
    """One square window of the corridor grid (the unit of parallel work)."""

    tile_id: str
    index: int  # position in river order (0 = nearest the origin)
    epsg: int
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy in the corridor CRS
    chainage_km: float  # chainage of the tile centre
    offset_m: float  # signed offset of the tile centre (+ = left bank)
    corridor_share: float  # fraction of the tile inside the watched area

    @property
    def size_m(self) -> float:
        return self.bounds[2] - self.bounds[0]

    def shape_at(self, gsd_m: float) -> tuple[int, int]:
        """(height, width) in pixels at a ground sample distance."""
        n = int(round(self.size_m / gsd_m))
        return n, n

    @property
    def geometry(self):
        return box(*self.bounds)


def tile_corridor(corridor: Corridor, tile_m: float = DEFAULT_TILE_M) -> list[Tile]:
    """All grid tiles that touch the corridor's watched area, in river order."""
    if tile_m <= 0:
        raise ValueError("tile size must be positive")
    area = corridor.area
    minx, miny, maxx, maxy = area.bounds
    ix0, iy0 = math.floor(minx / tile_m), math.floor(miny / tile_m)
    ix1, iy1 = math.ceil(maxx / tile_m), math.ceil(maxy / tile_m)
    ixs, iys = np.meshgrid(np.arange(ix0, ix1), np.arange(iy0, iy1))
    ixs, iys = ixs.ravel(), iys.ravel()
    cells = shapely.box(ixs * tile_m, iys * tile_m, (ixs + 1) * tile_m, (iys + 1) * tile_m)
    shapely.prepare(area)
    hit = shapely.intersects(area, cells)
    ixs, iys, cells = ixs[hit], iys[hit], cells[hit]
    share = shapely.area(shapely.intersection(cells, area)) / (tile_m * tile_m)
    cx, cy = (ixs + 0.5) * tile_m, (iys + 0.5) * tile_m
    km, off = corridor.locate_xy(cx, cy)
    order = np.lexsort((off, km))
    epsg = corridor.epsg
    size = int(tile_m) if float(tile_m).is_integer() else tile_m
    tiles = []
    for rank, i in enumerate(order):
        tiles.append(
            Tile(
                tile_id=f"{epsg}-{size}-{int(ixs[i])}-{int(iys[i])}",
                index=rank,
                epsg=epsg,
                bounds=(float(ixs[i] * tile_m), float(iys[i] * tile_m), float((ixs[i] + 1) * tile_m), float((iys[i] + 1) * tile_m)),
                chainage_km=float(km[i]),
                offset_m=float(off[i]),
                corridor_share=float(share[i]),
            )
        )
    return tiles
