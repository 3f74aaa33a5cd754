"""Corridor: the border river as an oriented line, banks, chainage and tiles."""

from borderwatch.corridor.catalog import BUNDLED, load_corridor
from borderwatch.corridor.model import Corridor, Location, Place, utm_crs_for
from borderwatch.corridor.tiling import DEFAULT_TILE_M, Tile, tile_corridor

__all__ = ["BUNDLED", "Corridor", "DEFAULT_TILE_M", "Location", "Place", "Tile", "load_corridor", "tile_corridor", "utm_crs_for"]
