"""Register an image as a Scene: GeoTIFF/COG, or a Google Earth Pro JPEG/PNG + KML.

Registration reads what later stages need without touching the pixels again:
capture date and where it came from, ground sample distance, bands, the
valid-data footprint, and a content hash that names the scene.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import zipfile
from pathlib import Path

import shapely
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioError
from rasterio.transform import from_gcps

from borderwatch.errors import SceneError, library_message
from borderwatch.imagery.dates import date_from_filename, date_from_tags, parse_date
from borderwatch.imagery.footprint import STRETCH_METHOD, colour_bands, decimation, footprint_lonlat, gsd_metres, stretch_limits
from borderwatch.imagery.handles import gdal_path, open_raster
from borderwatch.imagery.kml import Overlay, overlay_transform, parse_kml, read_kmz
from borderwatch.imagery.scene import Scene

_CHUNK = 1 << 20
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
WGS84 = CRS.from_epsg(4326)


def register_scene(
    path: str | os.PathLike,
    *,
    date: dt.date | str | None = None,
    licence: str = "",
    provider: str | None = None,
    sensor: str | None = None,
    kml: str | os.PathLike | None = None,
    corridor=None,
) -> Scene:
    """Describe one image as a Scene (nothing is written anywhere).

    ``path`` is a GeoTIFF/COG, a JPEG/PNG with a same-stem ``.kml`` beside it
    (or ``kml=``), the ``.kml`` itself, or a ``.kmz`` holding both. ``date``
    overrides any date found in the file. With ``corridor`` the scene must
    overlap the corridor's watched area.
    """
    p = Path(path)
    if not p.is_file():
        raise SceneError(p, "no such file")
    suffix = p.suffix.lower()
    if suffix == ".kmz":
        overlay, kml_member, image_member = read_kmz(p)
        scene = _register_overlay(p, overlay, sidecar=p, member=image_member, kml_member=kml_member,
                                  date=date, licence=licence, provider=provider, sensor=sensor)
    elif suffix == ".kml" and kml is None:
        overlay = parse_kml(_read_bytes(p), str(p))
        scene = _register_overlay(_image_for(p, overlay), overlay, sidecar=p,
                                  date=date, licence=licence, provider=provider, sensor=sensor)
    else:
        kml_path = Path(kml) if kml is not None else None
        if kml_path is not None and not kml_path.is_file():
            raise SceneError(kml_path, "no such KML file")
        if kml_path is None:
            scene = _register_raster(p, date=date, licence=licence, provider=provider, sensor=sensor)
        else:
            overlay = parse_kml(_read_bytes(kml_path), str(kml_path), image_name=p.name)
            scene = _register_overlay(p, overlay, sidecar=kml_path,
                                      date=date, licence=licence, provider=provider, sensor=sensor)
    if corridor is not None:
        check_covers(scene, corridor)
    return scene


def check_covers(scene: Scene, corridor) -> float:
    """The share of the corridor's watched area the scene covers; SceneError if none."""
    foot = corridor.from_lonlat(shapely.from_wkt(scene.footprint_wkt))
    area = corridor.area
    share = float(shapely.intersection(foot, area).area / area.area) if area.area > 0 else 0.0
    if share <= 0.0:
        c = shapely.from_wkt(scene.footprint_wkt).centroid
        raise SceneError(
            scene.path,
            f"footprint (centred near lon {c.x:.4f}, lat {c.y:.4f}) does not overlap corridor {corridor.name}",
        )
    return share


# -- the two kinds of input ------------------------------------------------------
def _register_raster(p: Path, *, date, licence, provider, sensor) -> Scene:
    """A raster georeferenced by itself (GeoTIFF/COG, or one with GCPs); else look for a KML."""
    with open_raster(str(p)) as src:
        georef = _own_georeferencing(src)
        if georef is not None:
            transform, crs, stored = georef
            tags = {k.upper(): v for k, v in src.tags().items()}
            found = date_from_tags(tags, str(p)) if date is None else None
            return _scene(
                src, p, _sha256_file(p), transform, crs,
                store_transform=stored,
                date=date, found_date=found, found_source="tag",
                provider=provider if provider is not None else tags.get("PROVIDER", ""),
                sensor=sensor if sensor is not None else tags.get("SENSOR", ""),
                licence=licence or tags.get("LICENCE", "") or tags.get("LICENSE", ""),
            )
    for cand in (p.with_suffix(".kml"), p.with_suffix(".KML")):
        if cand.is_file():
            overlay = parse_kml(_read_bytes(cand), str(cand), image_name=p.name)
            return _register_overlay(p, overlay, sidecar=cand, date=date, licence=licence,
                                     provider=provider, sensor=sensor)
    raise SceneError(p, "raster has no georeferencing (no CRS/transform) and no KML GroundOverlay beside it")


def _register_overlay(image: Path, overlay: Overlay, *, sidecar: Path, member: str | None = None,
                      kml_member: str | None = None, date, licence, provider, sensor) -> Scene:
    """A JPEG/PNG placed on the ground by a KML GroundOverlay (Google Earth Pro export)."""
    kml_source = f"{sidecar}:{kml_member}" if kml_member else str(sidecar)
    found = None
    if date is None and overlay.when:
        found = parse_date(overlay.when, kml_source, "KML TimeStamp")
    name = gdal_path(str(image.resolve()), member)
    with open_raster(name) as src:
        transform, misfit = overlay_transform(overlay, src.width, src.height)
        digest = _sha256_member(image, member) if member else _sha256_file(image)
        extra = {"kml_name": overlay.name} if overlay.name else {}
        if kml_member:
            extra["kml_member"] = kml_member
        if overlay.quad is not None:
            extra["latlonquad_misfit_deg"] = misfit
        return _scene(
            src, image, digest, transform, WGS84,
            store_transform=True, member=member, sidecar=str(sidecar.resolve()),
            date=date, found_date=found, found_source="kml",
            provider=provider if provider is not None else "Google Earth",
            sensor=sensor or "", licence=licence, extra=extra,
        )


def _scene(src, p: Path, digest: str, transform: Affine, crs: CRS, *, store_transform: bool, date,
           found_date, found_source: str, provider: str, sensor: str, licence: str,
           member: str | None = None, sidecar: str | None = None, extra: dict | None = None) -> Scene:
    source = str(p)
    capture, how = _capture_date(date, found_date, found_source, p.name, source)
    rows, cols = decimation(src.width, src.height)
    try:
        mask = src.dataset_mask(out_shape=(rows, cols))
        values = src.read(out_shape=(src.count, rows, cols)) if src.dtypes[0] != "uint8" else None
        failure = None
    except RasterioError as exc:
        failure = library_message(exc)
    if failure is not None:  # raised outside the handler, as open_raster does: GDAL's error would not unpickle
        raise SceneError(source, f"pixels could not be read, the file may be damaged or truncated ({failure})")
    foot = footprint_lonlat(mask, transform, crs, src.width, src.height)
    if foot.is_empty or foot.area == 0:
        raise SceneError(source, "scene has no valid pixels (all nodata)")
    extra = dict(extra or {})
    if values is not None:
        extra["stretch"] = stretch_limits(values, mask > 0, [b - 1 for b in colour_bands(src.colorinterp)])
        extra["stretch_method"] = STRETCH_METHOD
    names = tuple(
        (src.descriptions[i] or src.colorinterp[i].name).lower() for i in range(src.count)
    )
    return Scene(
        scene_id=digest[:16],
        path=str(p.resolve()),
        sha256=digest,
        capture_date=capture,
        date_source=how,
        provider=provider or "",
        sensor=sensor or "",
        gsd_m=gsd_metres(transform, crs, src.width, src.height),
        band_count=src.count,
        band_names=names,
        dtype=str(src.dtypes[0]),
        width=src.width,
        height=src.height,
        crs_wkt=crs.to_wkt(),
        footprint_wkt=shapely.to_wkt(foot, rounding_precision=8),
        licence=licence,
        sidecar=sidecar,
        extra=extra,
        transform=tuple(float(v) for v in transform[:6]) if store_transform else None,
        member=member,
    )


# -- helpers -------------------------------------------------------------------
def _own_georeferencing(src) -> tuple[Affine, CRS, bool] | None:
    """(transform, crs, keep-transform-in-scene) from the file itself, or None."""
    if src.crs is not None and src.transform != Affine.identity():
        return src.transform, CRS.from_user_input(src.crs), False
    gcps, gcp_crs = src.gcps
    if gcps and gcp_crs is not None and len(gcps) >= 3:
        return from_gcps(gcps), CRS.from_user_input(gcp_crs), True
    return None


def _capture_date(cli, found, found_source: str, filename: str, source: str) -> tuple[dt.date, str]:
    if cli is not None:
        return parse_date(cli, source, "--date"), "cli"
    if found is not None:
        return found, found_source
    from_name = date_from_filename(filename)
    if from_name is not None:
        return from_name, "filename"
    raise SceneError(source, "no capture date in the file, its KML or its name; give one with --date")


def _image_for(kml_path: Path, overlay: Overlay) -> Path:
    href = overlay.href
    if not href:
        raise SceneError(kml_path, "GroundOverlay has no <Icon><href> naming its image")
    if _URL.match(href) and not href.lower().startswith("file://"):
        raise SceneError(kml_path, f"GroundOverlay image {href!r} is a URL, not a local file")
    href = href[7:] if href.lower().startswith("file://") else href
    image = Path(href.replace("\\", "/"))
    if not image.is_absolute():
        image = kml_path.parent / image
    if not image.is_file():
        raise SceneError(kml_path, f"GroundOverlay image {overlay.href!r} not found")
    return image


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise SceneError(p, f"cannot read ({exc.strerror})") from None


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sha256_member(archive: Path, member: str) -> str:
    h = hashlib.sha256()
    with zipfile.ZipFile(archive) as zf, zf.open(member) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["register_scene", "check_covers"]
