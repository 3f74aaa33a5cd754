"""Each bad input is a one-line SceneError naming the file and the problem, which survives a worker process."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import rasterio.shutil
from PIL import Image
from tblib import pickling_support

from borderwatch.errors import SceneError
from borderwatch.imagery import check_covers, register_scene
from imagery_helpers import kml_text, marked_image, write_tif


def _raises(path_part: str, problem: str, fn, *args, **kw) -> SceneError:
    with pytest.raises(SceneError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    assert path_part in msg, msg
    assert problem in msg, msg
    pickling_support.install(info.value)  # as dask's workers send errors back: with their context
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is SceneError and str(back) == msg
    return info.value


def test_missing_file(tmp_path):
    _raises("nope.tif", "no such file", register_scene, tmp_path / "nope.tif")


def test_not_a_raster(tmp_path):
    bad = tmp_path / "notes.tif"
    bad.write_text("these are my field notes, not an image\n")
    _raises("notes.tif", "not a raster", register_scene, bad)


def test_raster_without_georeferencing_or_kml(tmp_path):
    img = tmp_path / "screenshot.png"
    Image.fromarray(marked_image()).save(img)
    _raises("screenshot.png", "no georeferencing", register_scene, img, date="2023-01-01")


def test_kml_without_latlonbox(tmp_path, ge_export):
    img, kml, box = ge_export(kml=False)
    kml = tmp_path / "flat.kml"
    kml.write_text(kml_text(img.name, box=False, **box))
    _raises("flat.kml", "no LatLonBox", register_scene, img, kml=kml)
    _raises("flat.kml", "no LatLonBox", register_scene, kml)


def test_kml_naming_a_missing_image(tmp_path, ge_export):
    _, _, box = ge_export(kml=False)
    kml = tmp_path / "orphan.kml"
    kml.write_text(kml_text("gone.jpg", **box))
    _raises("orphan.kml", "not found", register_scene, kml)


def test_kmz_without_its_image(tmp_path, ge_export):
    _, _, box = ge_export(kml=False)
    kmz = tmp_path / "empty.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", kml_text("files/x.jpg", **box))
    _raises("empty.kmz", "no image", register_scene, kmz)


@pytest.mark.parametrize("tag", ["CAPTURE_DATE", "ACQUISITION_DATE", "TIFFTAG_DATETIME"])
def test_unparseable_tag_date(tmp_path, centre, tag):
    x, y, _, _ = centre
    path = write_tif(tmp_path / "d.tif", np.full((3, 8, 8), 5, np.uint8), origin=(x, y), gsd=10.0, tags={tag: "last tuesday"})
    _raises("d.tif", "unparseable", register_scene, path)
    assert register_scene(path, date="2023-02-01").date_source == "cli"  # --date overrides a bad tag


def test_unparseable_cli_and_kml_dates(tmp_path, centre, ge_export):
    x, y, _, _ = centre
    path = write_tif(tmp_path / "d.tif", np.full((3, 8, 8), 5, np.uint8), origin=(x, y), gsd=10.0)
    _raises("d.tif", "unparseable --date", register_scene, path, date="2023-13-45")
    img, _, _ = ge_export(when="spring 2021")
    _raises("ge.kml", "unparseable KML TimeStamp", register_scene, img)


def test_no_date_anywhere(tmp_path, centre):
    x, y, _, _ = centre
    path = write_tif(tmp_path / "undated.tif", np.full((3, 8, 8), 5, np.uint8), origin=(x, y), gsd=10.0)
    _raises("undated.tif", "--date", register_scene, path)


def test_truncated_file(tmp_path, centre):
    """A file cut short (a download that stopped) opens, but its pixels do not: say so at registration, where
    the footprint is traced from the pixels (a file with a nodata value or mask; one without is only read at
    its first tile, which names the file and the window: test_reader's damaged scene)."""
    x, y, _, _ = centre
    plain = write_tif(tmp_path / "plain.tif", np.random.default_rng(0).integers(1, 255, (3, 256, 256), dtype=np.uint8),
                      origin=(x, y), gsd=1.0, nodata=0, tags={"CAPTURE_DATE": "2023-01-01"})
    path = tmp_path / "cut.tif"
    rasterio.shutil.copy(plain, path, driver="COG")  # header first, pixels after it: the cut keeps the header
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _raises("cut.tif", "could not be read, the file may be damaged or truncated", register_scene, path)


def test_all_nodata(tmp_path, centre):
    x, y, _, _ = centre
    path = write_tif(tmp_path / "blank.tif", np.zeros((3, 16, 16), np.uint8), origin=(x, y), gsd=10.0, nodata=0,
                     tags={"CAPTURE_DATE": "2023-01-01"})
    _raises("blank.tif", "all nodata", register_scene, path)


def test_footprint_missing_the_corridor(tmp_path, centre, corridor):
    x, y, _, _ = centre
    far = write_tif(tmp_path / "far.tif", np.full((3, 16, 16), 5, np.uint8), origin=(x + 20_000, y + 20_000), gsd=10.0,
                    tags={"CAPTURE_DATE": "2023-01-01"})
    _raises("far.tif", "does not overlap corridor yalu-upper[0:5]", register_scene, far, corridor=corridor)
    scene = register_scene(far)
    _raises("far.tif", "does not overlap", check_covers, scene, corridor)
    near = write_tif(tmp_path / "near.tif", np.full((3, 16, 16), 5, np.uint8), origin=(x, y), gsd=10.0,
                     tags={"CAPTURE_DATE": "2023-01-01"})
    assert register_scene(near, corridor=corridor).scene_id
