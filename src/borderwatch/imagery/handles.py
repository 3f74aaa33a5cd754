"""Open scene files lazily, once per process and thread, behind a small LRU.

Tiles are read one after another from the same few scenes; reopening a
GeoTIFF per tile costs more than the read. Handles are never shared across
``fork`` (GDAL handles are not fork-safe) nor across threads (rasterio
datasets are not thread-safe): the cache is per thread and is dropped when the
process id changes.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict

import rasterio
from rasterio.enums import Compression
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from borderwatch.errors import SceneError, library_message
from borderwatch.imagery.scene import Scene

#: Open datasets kept per thread.
MAX_OPEN = 32

_local = threading.local()


def gdal_path(path: str, member: str | None = None) -> str:
    """The name GDAL opens: the file itself, or ``/vsizip/`` into an archive."""
    if member:
        return f"/vsizip/{os.path.abspath(path)}/{member}"
    return path


def open_raster(path: str):
    """Open a raster (uncached), turning GDAL's failure into a SceneError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        failure = library_message(exc)
    # raised outside the handler: GDAL's own error, as its context, would not unpickle from a worker process
    raise SceneError(path, f"not a raster image GDAL can read ({failure})")


def jpeg_compressed(ds) -> bool:
    """Whether an open dataset's pixels went through JPEG (a JPEG file, as Google Earth Pro saves, or a GeoTIFF with
    JPEG compression): its colour is kept at half resolution, which the bundled detector has a variant for."""
    return ds.driver == "JPEG" or ds.compression == Compression.jpeg


def _cache() -> OrderedDict:
    pid = os.getpid()
    if getattr(_local, "pid", None) != pid:
        # a fresh thread, or a forked child: never reuse the parent's handles
        _local.pid = pid
        _local.handles = OrderedDict()
    return _local.handles


def dataset_for(scene: Scene):
    """The open dataset holding a scene's pixels (cached; do not close it)."""
    key = gdal_path(scene.path, scene.member)
    cache = _cache()
    ds = cache.get(key)
    if ds is not None and not ds.closed:
        cache.move_to_end(key)
        return ds
    if not os.path.exists(scene.path):
        raise SceneError(scene.path, "scene file is missing (moved or deleted since it was registered)")
    ds = open_raster(key)
    cache[key] = ds
    while len(cache) > MAX_OPEN:
        _, old = cache.popitem(last=False)
        old.close()
    return ds


def close_all() -> None:
    """Close this thread's cached datasets (tests, and before a file is rewritten)."""
    cache = _cache()
    while cache:
        _, ds = cache.popitem()
        ds.close()
