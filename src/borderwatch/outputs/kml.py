"""Google Earth KML/KMZ of a corridor: the first file a journalist opens.

Written with lxml directly (not simplekml) so element order follows the OGC
KML 2.2 schema exactly; the tests validate the output against the XSDs that
ship in the fastkml wheel. Coordinates are lon,lat (EPSG:4326).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from lxml import etree
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from borderwatch.corridor import Corridor
from borderwatch.errors import InputError
from borderwatch.fileio import write_atomically
from borderwatch.imagery.scene import Scene
from borderwatch.outputs.geo import scene_footprint
from borderwatch.outputs.style import country_colour, kml_colour

KML_NS = "http://www.opengis.net/kml/2.2"
_K = "{%s}" % KML_NS

#: Half-length of a chainage tick (m): long enough to cross the river, short enough not to clutter.
TICK_HALF_M = 250.0


def write_corridor_kml(
    corridor: Corridor,
    path: str | Path,
    *,
    scenes: Iterable[Scene] = (),
    tick_km: float = 1.0,
) -> Path:
    """Write the corridor (line, bank strips, km ticks, places, scene footprints) as KML 2.2."""
    doc = corridor_kml_document(corridor, scenes=scenes, tick_km=tick_km)
    return write_atomically(path, doc)


def write_kmz(
    corridor: Corridor,
    path: str | Path,
    *,
    scenes: Iterable[Scene] = (),
    tick_km: float = 1.0,
) -> Path:
    """The same document zipped as KMZ (``doc.kml`` inside), smaller to email."""
    doc = corridor_kml_document(corridor, scenes=scenes, tick_km=tick_km)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("doc.kml", doc)

    return write_atomically(path, write)


def corridor_kml_document(corridor: Corridor, *, scenes: Iterable[Scene] = (), tick_km: float = 1.0) -> bytes:
    """The KML document as UTF-8 bytes (what the writers store)."""
    if not (isinstance(tick_km, (int, float)) and math.isfinite(tick_km) and tick_km > 0):
        raise InputError("tick_km", f"chainage tick spacing must be a positive number of km, got {tick_km!r}")
    scenes = list(scenes)
    root = etree.Element(_K + "kml", nsmap={None: KML_NS})
    doc = _sub(root, "Document")
    _text(doc, "name", f"borderwatch: {corridor.name}")
    _text(doc, "open", "1")
    _cdata(doc, "description", _corridor_html(corridor))
    _styles(doc, corridor)

    # corridor line
    folder = _folder(doc, "Corridor")
    pm = _placemark(folder, corridor.name, _corridor_html(corridor), "#corridor")
    _geometry(pm, corridor.line_lonlat)

    # bank strips
    folder = _folder(doc, "Banks")
    for side, country, poly, width in (
        ("left", corridor.left_country, corridor.left_bank, corridor.left_width_m),
        ("right", corridor.right_country, corridor.right_bank, corridor.right_width_m),
    ):
        desc = (
            f"<b>{_e(country)}</b> bank ({side} of the direction of travel from {_e(corridor.origin_name)})"
            f"<br/>strip width {width:g} m"
        )
        pm = _placemark(folder, f"{country} bank", desc, f"#bank-{side}")
        _geometry(pm, corridor.to_lonlat(poly))

    # chainage ticks
    folder = _folder(doc, f"Chainage (every {tick_km:g} km)")
    for km in chainage_marks(corridor.length_km, tick_km):
        label = f"km {_fmt_km(km)}"
        desc = f"{_fmt_km(km)} km along the river from {_e(corridor.origin_name)}"
        tick = LineString(
            [corridor.point_at(km, TICK_HALF_M), corridor.point_at(km, -TICK_HALF_M)]
        )
        pm = _placemark(folder, label + " tick", desc, "#tick")
        _geometry(pm, corridor.to_lonlat(tick))
        pm = _placemark(folder, label, desc, "#tick-label")
        _geometry(pm, corridor.to_lonlat(corridor.point_at(km, TICK_HALF_M)))

    # places
    folder = _folder(doc, "Places")
    for p in corridor.places:
        inside = place_in_stretch(p.chainage_km, corridor.length_km)
        name = p.name if inside else f"{p.name} (outside this stretch)"
        desc = (
            f"chainage {p.chainage_km:.2f} km from {_e(corridor.origin_name)}"
            f"{'' if inside else ' (outside this stretch)'}<br/>"
            f"{abs(p.offset_m):.0f} m from the line on the {_e(p.country)} bank<br/>"
            f"source: {_e(p.source)}; licence: {_e(p.licence)}"
        )
        pm = _placemark(folder, name, desc, "#place" if inside else "#place-outside")
        _geometry(pm, Point(p.lon, p.lat))

    # scene footprints, with TimeStamp for Google Earth's time slider
    if scenes:
        folder = _folder(doc, "Scene footprints")
        for s in sorted(scenes, key=lambda s: (s.capture_date, s.scene_id)):
            geom = scene_footprint(s)
            desc = (
                f"captured {s.capture_date.isoformat()} (date from {_e(s.date_source)})<br/>"
                f"provider: {_e(s.provider)}; sensor: {_e(s.sensor)}; {s.gsd_m:g} m/pixel<br/>"
                f"licence: {_e(s.licence or 'not recorded')}<br/>"
                f"file: {_e(Path(s.path).name)}<br/>sha256: {_e(s.sha256)}"
            )
            pm = _placemark(
                folder, f"{s.capture_date.isoformat()} {s.provider} {s.scene_id}", desc, "#footprint", when=s.capture_date
            )
            _geometry(pm, geom)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def chainage_marks(length_km: float, tick_km: float) -> list[float]:
    """Chainages 0, tick, 2*tick ... up to the end of the line (inclusive within 1 mm)."""
    n = int(math.floor(length_km / tick_km + 1e-6))
    return [round(i * tick_km, 6) for i in range(n + 1)]


def place_in_stretch(chainage_km: float, length_km: float) -> bool:
    """Whether a place's chainage lies on this stretch (10 m tolerance at the ends)."""
    return not math.isnan(chainage_km) and -0.01 <= chainage_km <= length_km + 0.01


# -- helpers --------------------------------------------------------------------


def _e(s: object) -> str:
    return html.escape(str(s), quote=False)


def _fmt_km(km: float) -> str:
    return f"{km:g}"


def _corridor_html(c: Corridor) -> str:
    return (
        f"<b>{_e(c.name)}</b><br/>"
        f"length {c.length_km:.2f} km from {_e(c.origin_name)}<br/>"
        f"left bank: {_e(c.left_country)}, right bank: {_e(c.right_country)} (looking along the line)<br/>"
        f"source: {_e(c.source)}<br/>"
        f"{_e(c.attribution)}"
    )


def _sub(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, _K + tag)


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = _sub(parent, tag)
    el.text = text
    return el


def _cdata(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = _sub(parent, tag)
    el.text = etree.CDATA(text)
    return el


def _folder(doc: etree._Element, name: str) -> etree._Element:
    f = _sub(doc, "Folder")
    _text(f, "name", name)
    return f


def _placemark(
    parent: etree._Element, name: str, description: str, style: str, when: dt.date | None = None
) -> etree._Element:
    # schema order: name, description, TimeStamp, styleUrl, then the geometry
    pm = _sub(parent, "Placemark")
    _text(pm, "name", name)
    _cdata(pm, "description", description)
    if when is not None:
        ts = _sub(pm, "TimeStamp")
        _text(ts, "when", when.isoformat())
    _text(pm, "styleUrl", style)
    return pm


def _coords(seq: Sequence) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in seq)


def _geometry(parent: etree._Element, geom: BaseGeometry) -> None:
    """Append a KML geometry for a shapely geometry already in lon/lat."""
    if isinstance(geom, Point):
        pt = _sub(parent, "Point")
        _text(pt, "coordinates", _coords(geom.coords))
    elif isinstance(geom, LineString):
        ls = _sub(parent, "LineString")
        _text(ls, "tessellate", "1")
        _text(ls, "coordinates", _coords(geom.coords))
    elif isinstance(geom, Polygon):
        pg = _sub(parent, "Polygon")
        _text(pg, "tessellate", "1")
        ring = _sub(_sub(pg, "outerBoundaryIs"), "LinearRing")
        _text(ring, "coordinates", _coords(geom.exterior.coords))
        for interior in geom.interiors:
            ring = _sub(_sub(pg, "innerBoundaryIs"), "LinearRing")
            _text(ring, "coordinates", _coords(interior.coords))
    elif hasattr(geom, "geoms"):
        parts = [g for g in geom.geoms if not g.is_empty]
        if len(parts) == 1:
            _geometry(parent, parts[0])
            return
        mg = _sub(parent, "MultiGeometry")
        for g in parts:
            _geometry(mg, g)
    else:  # pragma: no cover - shapely has no other types
        raise InputError(None, f"cannot write a {geom.geom_type} to KML")


def _styles(doc: etree._Element, c: Corridor) -> None:
    def style(sid: str) -> etree._Element:
        st = _sub(doc, "Style")
        st.set("id", sid)
        return st

    def line(st: etree._Element, rgba: str, width: float) -> None:
        ls = _sub(st, "LineStyle")
        _text(ls, "color", kml_colour(rgba))
        _text(ls, "width", f"{width:g}")

    def poly(st: etree._Element, rgba: str, fill: bool = True) -> None:
        ps = _sub(st, "PolyStyle")
        _text(ps, "color", kml_colour(rgba))
        _text(ps, "fill", "1" if fill else "0")

    def icon(st: etree._Element, rgba: str, scale: float, label_scale: float) -> None:
        # IconStyle, LabelStyle, LineStyle, PolyStyle: the schema's order
        ic = _sub(st, "IconStyle")
        _text(ic, "color", kml_colour(rgba))
        _text(ic, "scale", f"{scale:g}")
        href = _sub(ic, "Icon")
        _text(href, "href", "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png")
        lb = _sub(st, "LabelStyle")
        _text(lb, "scale", f"{label_scale:g}")

    line(style("corridor"), "#1f4fff", 3)
    for side, country in (("left", c.left_country), ("right", c.right_country)):
        st = style(f"bank-{side}")
        colour = country_colour(country, side)
        line(st, colour, 1.5)
        poly(st, colour + "40")
    line(style("tick"), "#202020", 2)
    icon(style("tick-label"), "#202020", 0.4, 0.8)
    icon(style("place"), "#ffffff", 0.9, 1.0)
    icon(style("place-outside"), "#9a9a9a", 0.7, 0.7)
    st = style("footprint")
    line(st, "#ff8c00", 2)
    poly(st, "#ff8c00", fill=False)
