"""Imagery: register dated scenes, read corridor windows from them, measure coverage."""

from borderwatch.imagery.catalog import check_covers, register_scene
from borderwatch.imagery.coverage import DateCoverage, coverage_by_date
from borderwatch.imagery.reader import TileImage, read_tile
from borderwatch.imagery.scene import Scene

__all__ = ["DateCoverage", "Scene", "TileImage", "check_covers", "coverage_by_date", "read_tile", "register_scene"]
