"""The offline web map, importable from ``borderwatch.outputs`` like the other outputs.

The builder lives in :mod:`borderwatch.web.page`, next to the Leaflet copy and
page script it ships.
"""

from borderwatch.web.page import LEAFLET_VERSION, ExtraLayer, OverlayLike, write_web_map

__all__ = ["LEAFLET_VERSION", "ExtraLayer", "OverlayLike", "write_web_map"]
