"""write_scenes: COG files, tags, nodata outside the corridor, GeoJSON truth."""

import json

import numpy as np
import pytest
import rasterio
from shapely.geometry import shape

from borderwatch.errors import InputError
from borderwatch.synth import write_scenes


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, corridor, dates):
    out = tmp_path_factory.mktemp("synth")
    calls = []
    paths = write_scenes(corridor, km=(3.0, 4.5), gsd_m=2.0, dates=dates, seed=7, out_dir=out,
                         progress=lambda d, t: calls.append((d, t)))
    return out, paths, calls


def test_files_and_progress(scenes, dates):
    out, paths, calls = scenes
    names = {p.relative_to(out).as_posix() for p in paths}
    for d in dates:
        assert f"{d.isoformat()}.tif" in names
        assert f"truth/landcover_{d.isoformat()}.tif" in names
    assert {"truth/sites.geojson", "truth/objects.geojson"} <= names
    assert calls and calls[-1][0] == calls[-1][1]
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))


def test_cog_is_valid(scenes, corridor, dates):
    out, _, _ = scenes
    for d in dates:
        with rasterio.open(out / f"{d.isoformat()}.tif") as ds:
            assert ds.count == 3 and ds.dtypes == ("uint8",) * 3
            assert ds.crs.to_epsg() == corridor.epsg
            assert ds.nodata == 0
            assert ds.profile["tiled"] and ds.block_shapes[0] == (512, 512)
            assert ds.overviews(1)
            assert ds.transform.a == 2.0 and ds.transform.e == -2.0
            tags = ds.tags()
            assert tags["TIFFTAG_DATETIME"] == d.strftime("%Y:%m:%d") + " 10:30:00"
            assert tags["CAPTURE_DATE"] == d.isoformat()
            assert tags["PROVIDER"] == "borderwatch-synth" and tags["SENSOR"] == "synthetic"
            assert tags["LICENCE"].startswith("CC0-1.0") and tags["SYNTH_SEED"] == "7" and tags["SYNTH_GSD"] == "2"
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            img = ds.read()
            valid = ds.dataset_mask() > 0
            assert 0.2 < valid.mean() < 1.0  # corners of the bbox lie outside the corridor
            assert (img[:, valid] >= 1).all()
            assert (img[:, ~valid] == 0).all()


def test_truth_geojson(scenes, corridor, dates):
    out, _, _ = scenes
    sites = json.loads((out / "truth" / "sites.geojson").read_text())
    objs = json.loads((out / "truth" / "objects.geojson").read_text())
    assert sites["type"] == "FeatureCollection" and sites["features"]
    for f in sites["features"]:
        p = f["properties"]
        assert p["kind"] in {"ford", "bridge", "sandbar_camp", "parking_field"}
        assert 3.0 <= p["chainage_km"] <= 4.5
        g = shape(f["geometry"])
        assert 120 < g.centroid.x < 135 and 38 < g.centroid.y < 45  # lon/lat
    with rasterio.open(out / f"{dates[1].isoformat()}.tif") as ds:
        bounds = ds.bounds
    assert objs["features"]
    for f in objs["features"]:
        g = corridor.from_lonlat(shape(f["geometry"]))
        assert bounds.left <= g.bounds[0] and g.bounds[2] <= bounds.right
        assert bounds.bottom <= g.bounds[1] and g.bounds[3] <= bounds.top
        assert f["properties"]["date"] in {d.isoformat() for d in dates}


def test_landcover_raster(scenes, dates):
    out, _, _ = scenes
    with rasterio.open(out / "truth" / f"landcover_{dates[0].isoformat()}.tif") as ds:
        lab = ds.read(1)
        assert ds.nodata == 0
        assert set(np.unique(lab)) <= set(range(8))
        assert (lab == 1).any() and (lab == 4).any()


@pytest.mark.parametrize("km", [(5, 5), (6, 2), (500, 510), (-3, 1)])
def test_bad_km_range(tmp_path, corridor, km):
    with pytest.raises(InputError):
        write_scenes(corridor, km=km, gsd_m=2.0, out_dir=tmp_path)


def test_bad_gsd(tmp_path, corridor):
    with pytest.raises(InputError):
        write_scenes(corridor, km=(0, 1), gsd_m=0, out_dir=tmp_path)
