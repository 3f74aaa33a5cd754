"""The offline web map (Leaflet bundled in ``static/``)."""

from borderwatch.web.page import LEAFLET_VERSION, write_web_map

__all__ = ["LEAFLET_VERSION", "write_web_map"]
