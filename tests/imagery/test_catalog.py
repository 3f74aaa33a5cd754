"""Registering scenes: dates from each source, GSD, bands, footprint, hashes, Google Earth exports."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pickle
import zipfile

import numpy as np
import pytest
import shapely
from affine import Affine
from PIL import Image

from borderwatch.imagery import check_covers, register_scene
from borderwatch.imagery.footprint import STRETCH_METHOD
from imagery_helpers import kml_text, marked_image, rotated_corner, write_tif


def _tif(tmp_path, centre, name="s.tif", tags=None, **kw):
    x, y, _, _ = centre
    data = kw.pop("data", np.full((3, 64, 64), 120, np.uint8))
    return write_tif(tmp_path / name, data, origin=(x - 320, y + 320), gsd=10.0, tags=tags, **kw)


def test_geotiff_tags_give_date_provider_sensor_licence(tmp_path, centre):
    path = _tif(tmp_path, centre, tags={
        "CAPTURE_DATE": "2023-05-14T23:31:00-05:00", "PROVIDER": "Maxar", "SENSOR": "WV03", "LICENCE": "CC-BY-4.0",
    }, photometric="RGB")
    s = register_scene(path)
    assert s.capture_date == dt.date(2023, 5, 15)  # UTC date of a zoned timestamp
    assert s.date_source == "tag"
    assert (s.provider, s.sensor, s.licence) == ("Maxar", "WV03", "CC-BY-4.0")
    assert s.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert s.scene_id == s.sha256[:16]
    assert s.gsd_m == pytest.approx(10.0)
    assert (s.band_count, s.band_names, s.dtype) == (3, ("red", "green", "blue"), "uint8")
    assert (s.width, s.height) == (64, 64)
    assert "32652" in s.crs_wkt
    assert s.transform is None and s.sidecar is None
    assert pickle.loads(pickle.dumps(s)) == s


def test_args_override_tags(tmp_path, centre):
    path = _tif(tmp_path, centre, tags={"CAPTURE_DATE": "2023-05-14", "PROVIDER": "Maxar"})
    s = register_scene(path, date="2021-02-03", provider="Airbus", sensor="Pleiades", licence="own")
    assert (s.capture_date, s.date_source) == (dt.date(2021, 2, 3), "cli")
    assert (s.provider, s.sensor, s.licence) == ("Airbus", "Pleiades", "own")


@pytest.mark.parametrize(
    "tags, want",
    [
        ({"ACQUISITION_DATE": "2020-06-01", "TIFFTAG_DATETIME": "2024:01:01 00:00:00"}, dt.date(2020, 6, 1)),
        ({"DATE_ACQUIRED": "2019-07-08T01:02:03"}, dt.date(2019, 7, 8)),
        ({"TIFFTAG_DATETIME": "2021:09:03 10:00:00"}, dt.date(2021, 9, 3)),
    ],
)
def test_date_tag_order(tmp_path, centre, tags, want):
    s = register_scene(_tif(tmp_path, centre, tags=tags))
    assert (s.capture_date, s.date_source) == (want, "tag")


def test_date_from_filename_when_untagged(tmp_path, centre):
    s = register_scene(_tif(tmp_path, centre, name="hyesan_20220417_pan.tif"))
    assert (s.capture_date, s.date_source) == (dt.date(2022, 4, 17), "filename")


def test_gsd_of_geographic_scene_is_metres_at_centre(tmp_path, centre):
    _, _, lon, lat = centre
    data = np.full((3, 40, 40), 90, np.uint8)
    path = write_tif(tmp_path / "geo.tif", data, origin=(lon - 0.002, lat + 0.002), gsd=0.0001,
                     crs="EPSG:4326", tags={"CAPTURE_DATE": "2023-01-01"})
    s = register_scene(path)
    # a degree of latitude is ~111.0 km here, a degree of longitude ~cos(lat) of that
    want = (0.0001 * 111_040 * math.cos(math.radians(lat)) + 0.0001 * 111_040) / 2
    assert s.gsd_m == pytest.approx(want, rel=0.01)


def test_footprint_excludes_nodata(tmp_path, centre, corridor):
    x, y, _, _ = centre
    data = np.full((3, 64, 64), 120, np.uint8)
    data[:, :, :32] = 0  # west half is nodata
    data[:, 40:, 40:] = 0  # and a south-east block
    s = register_scene(_tif(tmp_path, centre, data=data, nodata=0, tags={"CAPTURE_DATE": "2023-01-01"}))
    foot = corridor.from_lonlat(shapely.from_wkt(s.footprint_wkt))
    assert foot.area == pytest.approx(32 * 64 * 100 - 24 * 24 * 100, rel=0.02)
    assert not foot.contains(shapely.Point(x - 200, y))  # west half
    assert not foot.contains(shapely.Point(x + 200, y - 200))  # SE block
    assert foot.contains(shapely.Point(x + 100, y + 200))


def test_sixteen_bit_scene_records_one_gain_and_how_it_was_measured(tmp_path, centre):
    data = np.linspace(0, 4000, 64 * 64, dtype=np.uint16).reshape(1, 64, 64)
    s = register_scene(_tif(tmp_path, centre, data=data, tags={"CAPTURE_DATE": "2023-01-01"}))
    assert s.dtype == "uint16" and s.band_count == 1 and s.band_names == ("gray",)
    (lo, hi), = s.extra["stretch"]
    # zero stays zero; the 99.8th percentile (~3992) lands at 230 of 255
    assert lo == 0.0 and hi == pytest.approx(3992 * 255 / 230, rel=0.002)
    assert s.extra["stretch_method"] == STRETCH_METHOD


def test_sixteen_bit_colour_bands_share_one_gain_and_nir_follows_them(tmp_path, centre):
    rgbn = np.stack([np.full((64, 64), v, np.uint16) for v in (1000, 2000, 3000, 6000)])
    s = register_scene(_tif(tmp_path, centre, data=rgbn, tags={"CAPTURE_DATE": "2023-01-01"}))
    # the gain is set by the colour bands (R, G, B: the first three here), not by a brighter near-infrared
    assert s.extra["stretch"] == [[0.0, pytest.approx(3000 * 255 / 230)]] * 4


# -- Google Earth exports -------------------------------------------------------------
def test_google_earth_jpeg_with_kml_beside_it(ge_export):
    img, kml, box = ge_export(rotation=0.0)
    s = register_scene(img)
    assert (s.capture_date, s.date_source) == (dt.date(2022, 10, 3), "kml")
    assert s.sidecar == str(kml.resolve())
    assert s.sha256 == hashlib.sha256(img.read_bytes()).hexdigest()
    assert s.provider == "Google Earth"
    assert "4326" in s.crs_wkt
    t = Affine(*s.transform)
    assert t @ (0, 0) == pytest.approx((box["west"], box["north"]))
    assert t @ (100, 80) == pytest.approx((box["east"], box["south"]))
    # 0.012 deg lon over 100 px and 0.008 deg lat over 80 px at lat 41.4
    assert s.gsd_m == pytest.approx((0.012 / 100 * 83_400 + 0.008 / 80 * 111_040) / 2, rel=0.02)


def test_rotated_overlay_transform_puts_corners_where_kml_says(ge_export):
    img, _, box = ge_export(rotation=30.0)
    t = Affine(*register_scene(img).transform)
    for u, v in [(0, 0), (1, 0), (1, 1), (0, 1), (0.25, 0.75)]:
        want = rotated_corner(rotation=30.0, u=u, v=v, **box)
        assert t @ (u * 100, v * 80) == pytest.approx(want, abs=1e-9)


def test_kml_itself_timespan_and_cli_date(ge_export):
    img, kml, _ = ge_export(timespan=True, when="2021-03-04")
    by_kml = register_scene(kml)
    assert by_kml.path == str(img.resolve())
    assert (by_kml.capture_date, by_kml.date_source) == (dt.date(2021, 3, 4), "kml")
    assert by_kml.scene_id == register_scene(img, kml=kml).scene_id
    assert register_scene(kml, date=dt.date(2020, 1, 1)).date_source == "cli"


def test_latlonquad_matches_the_rotated_box(tmp_path, ge_export):
    img, kml, box = ge_export(rotation=20.0)
    corners = [rotated_corner(rotation=20.0, u=u, v=v, **box) for u, v in [(0, 1), (1, 1), (1, 0), (0, 0)]]
    quad_kml = tmp_path / "quad.kml"
    quad_kml.write_text(kml_text(img.name, box=False, quad=corners, **box))
    s = register_scene(img, kml=quad_kml)
    assert s.extra["latlonquad_misfit_deg"] < 1e-9
    assert Affine(*s.transform) @ (0, 0) == pytest.approx(corners[3], abs=1e-9)
    assert Affine(*s.transform) @ (100, 80) == pytest.approx(corners[1], abs=1e-9)


def test_kmz_holding_kml_and_png(tmp_path, centre):
    _, _, lon, lat = centre
    png = tmp_path / "img.png"
    Image.fromarray(marked_image()).save(png)
    kmz = tmp_path / "export.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", kml_text("files/img.png", north=lat + 0.004, south=lat - 0.004,
                                        east=lon + 0.006, west=lon - 0.006))
        zf.write(png, "files/img.png")
    s = register_scene(kmz)
    assert s.path == str(kmz.resolve()) and s.member == "files/img.png"
    assert s.sha256 == hashlib.sha256(png.read_bytes()).hexdigest()
    assert s.capture_date == dt.date(2022, 10, 3)
    assert shapely.from_wkt(s.footprint_wkt).contains(shapely.Point(lon, lat))


def test_check_covers_returns_share(tmp_path, centre, corridor):
    s = register_scene(_tif(tmp_path, centre, tags={"CAPTURE_DATE": "2023-01-01"}))
    share = check_covers(s, corridor)
    assert share == pytest.approx(640 * 640 / corridor.area.area, rel=0.02)
