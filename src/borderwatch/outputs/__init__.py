"""What users open: Google Earth KML/KMZ, Web Mercator imagery overviews, the offline web map."""

from borderwatch.outputs.kml import write_corridor_kml, write_kmz
from borderwatch.outputs.overview import ImageOverlay, build_overlays, render_overlay

__all__ = ["ImageOverlay", "build_overlays", "render_overlay", "write_corridor_kml", "write_kmz", "write_web_map"]


def __getattr__(name: str):
    # lazy: borderwatch.web.page imports this package's modules
    if name == "write_web_map":
        from borderwatch.outputs.webmap import write_web_map

        return write_web_map
    raise AttributeError(name)
