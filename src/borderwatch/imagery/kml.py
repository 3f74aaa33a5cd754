"""Google Earth Pro exports: a KML GroundOverlay that georeferences a JPEG/PNG.

Only what registration needs is read: the image ``<Icon><href>``, the
``<LatLonBox>`` (or ``<gx:LatLonQuad>``) and the ``<TimeStamp>``/``<TimeSpan>``.
Namespaces differ between KML versions and Google's extensions, so elements
are matched by local name.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from borderwatch.errors import SceneError


@dataclass(frozen=True)
class Overlay:
    """One GroundOverlay as written in the KML."""

    href: str
    north: float | None = None
    south: float | None = None
    east: float | None = None
    west: float | None = None
    rotation: float = 0.0
    quad: tuple[tuple[float, float], ...] | None = None  # lower-left, lower-right, upper-right, upper-left
    when: str | None = None
    name: str = ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el, name: str):
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _find(el, *path: str):
    for name in path:
        if el is None:
            return None
        el = _child(el, name)
    return el


def _text(el) -> str | None:
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def parse_kml(data: bytes, source: str, image_name: str | None = None) -> Overlay:
    """The GroundOverlay of a KML document (the one naming ``image_name`` if several)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SceneError(source, f"not a readable KML file ({exc})") from None
    overlays = [el for el in root.iter() if _local(el.tag) == "GroundOverlay"]
    if not overlays:
        raise SceneError(source, "KML has no GroundOverlay")
    chosen = overlays[0]
    if image_name:
        for el in overlays:
            href = _text(_find(el, "Icon", "href"))
            if href and Path(href.replace("\\", "/")).name == Path(image_name).name:
                chosen = el
                break
    href = _text(_find(chosen, "Icon", "href")) or ""
    when = _text(_find(chosen, "TimeStamp", "when")) or _text(_find(chosen, "TimeSpan", "begin"))
    name = _text(_child(chosen, "name")) or ""
    box = _child(chosen, "LatLonBox")
    quad_el = _child(chosen, "LatLonQuad")
    if box is not None:
        vals = {}
        for key in ("north", "south", "east", "west"):
            v = _text(_child(box, key))
            if v is None:
                raise SceneError(source, f"LatLonBox has no <{key}>")
            vals[key] = _float(v, source, key)
        rot = _text(_child(box, "rotation"))
        return Overlay(href, rotation=_float(rot, source, "rotation") if rot else 0.0, when=when, name=name, **vals)
    if quad_el is not None:
        coords = (_text(_child(quad_el, "coordinates")) or "").split()
        pts = []
        for c in coords:
            parts = c.split(",")
            if len(parts) < 2:
                raise SceneError(source, f"bad gx:LatLonQuad coordinate {c!r}")
            pts.append((_float(parts[0], source, "LatLonQuad"), _float(parts[1], source, "LatLonQuad")))
        if len(pts) != 4:
            raise SceneError(source, f"gx:LatLonQuad needs 4 corners, has {len(pts)}")
        return Overlay(href, quad=tuple(pts), when=when, name=name)
    raise SceneError(source, "KML GroundOverlay has no LatLonBox or gx:LatLonQuad (not georeferenced)")


def read_kmz(path: Path) -> tuple[Overlay, str, str]:
    """(overlay, KML member, image member) of a KMZ holding both."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SceneError(path, f"not a readable KMZ archive ({exc})") from None
    with zf:
        names = zf.namelist()
        kmls = [n for n in names if n.lower().endswith(".kml")]
        if not kmls:
            raise SceneError(path, "KMZ holds no .kml document")
        kml_name = "doc.kml" if "doc.kml" in names else kmls[0]
        overlay = parse_kml(zf.read(kml_name), f"{path}:{kml_name}")
        href = overlay.href.replace("\\", "/")
        while href.startswith("./"):
            href = href[2:]
        if href not in names:
            raise SceneError(path, f"KMZ has no image {overlay.href!r} named by its GroundOverlay")
    return overlay, kml_name, href


def overlay_transform(ov: Overlay, width: int, height: int) -> tuple[Affine, float]:
    """Pixel -> lon/lat affine of an overlay, and its worst corner misfit in degrees.

    LatLonBox rotation (KML 2.2) turns the box counter-clockwise about its
    centre. It is applied on the ground, in a local frame where a degree of
    longitude is shortened by cos(latitude), so a rotated overlay keeps its
    shape as Google Earth draws it; the result is still affine in lon/lat.
    A gx:LatLonQuad is fitted with the least-squares affine (exact for a
    parallelogram; the misfit is reported for other quads).
    """
    if ov.quad is None:
        west, east = ov.west, ov.east
        if east < west:  # crosses the antimeridian
            east += 360.0
        box = Affine((east - west) / width, 0.0, west, 0.0, -(ov.north - ov.south) / height, ov.north)
        if not ov.rotation:
            return box, 0.0
        cx, cy = (east + west) / 2.0, (ov.north + ov.south) / 2.0
        k = math.cos(math.radians(cy))
        turn = (
            Affine.translation(cx, cy)
            @ Affine.scale(1.0 / k, 1.0)
            @ Affine.rotation(ov.rotation)
            @ Affine.scale(k, 1.0)
            @ Affine.translation(-cx, -cy)
        )
        return turn @ box, 0.0
    px = np.array([[0, height], [width, height], [width, 0], [0, 0]], dtype=float)
    ll = np.array(ov.quad, dtype=float)
    design = np.column_stack([px, np.ones(4)])
    coef, *_ = np.linalg.lstsq(design, ll, rcond=None)
    (a, d), (b, e), (c, f) = coef
    misfit = float(np.abs(design @ coef - ll).max())
    return Affine(a, b, c, d, e, f), misfit


def _float(v: str, source: str, what: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise SceneError(source, f"bad number {v!r} in <{what}>") from None
