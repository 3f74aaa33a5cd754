from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from borderwatch.analysis.detect.geometry import OrientedBox, angle_diff
from borderwatch.analysis.detect.labels import (
    Label,
    LabelledImage,
    image_size,
    read_coco,
    read_dota,
    read_names,
    read_xview,
    read_yolo,
    write_dota,
    write_yolo,
)
from borderwatch.errors import InputError


def fmt(vals):
    return " ".join(f"{v:.10g}" for v in vals)


# ----------------------------------------------------------------------- DOTA
def test_image_size_reads_header(tmp_path, png):
    assert image_size(png(tmp_path / "a.png", 37, 21)) == (37, 21)
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image size"):
        image_size(bad)


def test_dota_basic(tmp_path, png):
    png(tmp_path / "images" / "P1.png", 100, 80)
    car = OrientedBox(30, 40, 12, 5, 120)
    lt = tmp_path / "labelTxt"
    lt.mkdir()
    (lt / "P1.txt").write_text(
        "imagesource:GoogleEarth\ngsd:0.25\n"
        f"{fmt(car.to_dota())} small-vehicle 0\n"
        "60 10 80 10 80 20 60 20 large-vehicle 1\n"
        "\n"
        "1 1 5 1 5 5 1 5 plane 0\n"
        "10 60 20 60 20 70 10 70 excavator\n"
    )
    [im] = read_dota(lt)
    assert im.path == tmp_path / "images" / "P1.png"
    assert (im.width, im.height, im.gsd_m, im.meta["imagesource"]) == (100, 80, 0.25, "GoogleEarth")
    assert [lab.cls for lab in im.labels] == ["small_vehicle", "large_vehicle", "heavy_equipment"]  # plane dropped
    a, b, c = im.labels
    assert not a.has_front and a.box.angle_deg == pytest.approx(120)
    assert a.box.length == pytest.approx(12) and a.box.width == pytest.approx(5)
    assert (b.difficult, a.difficult, c.difficult) == (True, False, False)
    assert b.box.angle_deg == pytest.approx(90) and b.box.length == pytest.approx(20)
    assert a.source_name == "small-vehicle"


def test_dota_front_convention(tmp_path, png):
    png(tmp_path / "P2.png", 100, 100)
    car = OrientedBox(50, 50, 12, 5, 250)
    (tmp_path / "P2.txt").write_text(f"{fmt(car.to_dota())} car 0\n")
    [im] = read_dota(tmp_path / "P2.txt", front=True)
    lab = im.labels[0]
    assert lab.has_front and angle_diff(lab.box.angle_deg, 250) < 1e-6
    [im2] = read_dota(tmp_path / "P2.txt")
    assert not im2.labels[0].has_front and im2.labels[0].box.angle_deg == pytest.approx(70)


def test_dota_write_round_trip(tmp_path, png):
    img = png(tmp_path / "P3.png", 200, 100)
    labels = [
        Label(OrientedBox(50, 50, 20, 8, 300), "large_vehicle", "dump_truck", has_front=True),
        Label(OrientedBox(150, 40, 9, 4, 10), "small_vehicle", None, has_front=True, difficult=True),
    ]
    write_dota(LabelledImage(img, 200, 100, labels, gsd_m=0.5), tmp_path / "P3.txt")
    [im] = read_dota(tmp_path / "P3.txt", front=True)
    assert im.gsd_m == 0.5
    for got, want in zip(im.labels, labels, strict=True):
        assert (got.cls, got.subclass, got.difficult) == (want.cls, want.subclass, want.difficult)
        assert angle_diff(got.box.angle_deg, want.box.angle_deg) < 0.05
        assert got.box.cx == pytest.approx(want.box.cx, abs=0.01)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("1 1 5 1 5 5 1 5\n", "expected 'x1 y1"),
        ("1 1 5 1 5 5 1 x car 0\n", "malformed corner coordinates"),
        ("1 1 5 1 5 5 1 5 car 0 extra\n", "got 11 fields"),
        ("1 1 5 1 5 5 1 5 car yes\n", "difficult flag"),
        ("1 1 5 1 5 5 1 5 hovercraft 0\n", "unknown class name 'hovercraft'"),
        ("0 0 10 10 10 0 0 10 car 0\n", "self-intersecting"),
        ("0 0 5 5 10 10 15 15 car 0\n", "zero area"),
        ("0 0 5 0 5 0 0 0 car 0\n", "fewer than 3"),
        ("500 500 510 500 510 510 500 510 car 0\n", "centre .* outside"),
    ],
)
def test_dota_bad_lines_name_file_and_line(tmp_path, png, line, match):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("gsd:null\n10 10 20 10 20 15 10 15 car 0\n" + line)
    with pytest.raises(InputError, match=match) as e:
        read_dota(tmp_path / "P.txt")
    assert "P.txt:3:" in str(e.value)


def test_dota_skip_invalid_warns(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("0 0 10 10 10 0 0 10 car 0\n10 10 20 10 20 15 10 15 car 0\n")
    with pytest.warns(UserWarning, match=r"P.txt:1: self-intersecting"):
        [im] = read_dota(tmp_path / "P.txt", on_invalid="skip")
    assert len(im.labels) == 1


def test_dota_missing_image(tmp_path):
    (tmp_path / "P.txt").write_text("10 10 20 10 20 15 10 15 car 0\n")
    with pytest.raises(InputError, match="no image named P"):
        read_dota(tmp_path / "P.txt")
    with pytest.raises(InputError, match="no such label file"):
        read_dota(tmp_path / "nope.txt")


def test_dota_class_map_from_yaml(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("10 10 20 10 20 15 10 15 pkw 0\n")
    (tmp_path / "m.yaml").write_text("pkw: {class: small_vehicle, subclass: car}\n")
    [im] = read_dota(tmp_path / "P.txt", class_map=tmp_path / "m.yaml")
    assert (im.labels[0].cls, im.labels[0].subclass) == ("small_vehicle", "car")
    with pytest.raises(InputError, match=r"P.txt:1: unknown class name 'pkw'"):
        read_dota(tmp_path / "P.txt")


# ------------------------------------------------------------- edge policy
def test_box_within_tolerance_is_kept_as_is(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("40 10 51.5 10 51.5 20 40 20 car 0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [im] = read_dota(tmp_path / "P.txt")
    lab = im.labels[0]
    assert not lab.truncated and lab.box.length == pytest.approx(11.5)


def test_box_beyond_edge_is_clipped_with_warning(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("40 10 60 10 60 20 40 20 car 0\n")  # half outside on the right
    with pytest.warns(UserWarning, match=r"P.txt:1: box extends beyond the image; clipped"):
        [im] = read_dota(tmp_path / "P.txt")
    lab = im.labels[0]
    assert lab.truncated
    assert lab.box.bounds() == pytest.approx((40, 10, 50, 20))
    assert lab.box.length == pytest.approx(10) and lab.box.width == pytest.approx(10)
    with pytest.raises(InputError, match=r"P.txt:1: box .* extends beyond the 50x50 image by more than 2 px"):
        read_dota(tmp_path / "P.txt", on_outside="error")


def test_clipping_keeps_known_heading(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    car = OrientedBox(48, 25, 12, 4, 90)  # facing right, front sticks out of the image
    (tmp_path / "P.txt").write_text(f"{fmt(car.to_dota())} car 0\n")
    with pytest.warns(UserWarning):
        [im] = read_dota(tmp_path / "P.txt", front=True)
    lab = im.labels[0]
    assert lab.truncated and lab.has_front and lab.box.angle_deg == pytest.approx(90)
    assert lab.box.length == pytest.approx(8) and lab.box.cx == pytest.approx(46)


def test_clipped_box_without_front_keeps_long_side_as_length(tmp_path, png):
    png(tmp_path / "P.png", 50, 50)
    (tmp_path / "P.txt").write_text("44 10 56 10 56 17 44 17 car 0\n")  # 12 x 7 -> 6 x 7 inside
    with pytest.warns(UserWarning):
        [im] = read_dota(tmp_path / "P.txt")
    b = im.labels[0].box
    assert (b.length, b.width) == pytest.approx((7, 6))
    assert b.angle_deg == pytest.approx(0)
    assert b.bounds() == pytest.approx((44, 10, 50, 17))


# ----------------------------------------------------------------------- YOLO
def test_yolo_hbb(tmp_path, png):
    png(tmp_path / "images" / "a.jpg", 200, 100)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.2\n2 0.25 0.25 0.2 0.1\n3 0.9 0.9 0.05 0.05\n")
    [im] = read_yolo(tmp_path / "labels", ["car", "truck", "bus", "cyclist"])
    assert im.path.name == "a.jpg" and (im.width, im.height) == (200, 100)
    car, bus = im.labels
    assert car.cls == "small_vehicle" and (car.box.cx, car.box.cy) == pytest.approx((100, 50))
    assert (car.box.length, car.box.width) == pytest.approx((20, 20))
    assert bus.cls == "large_vehicle" and bus.box.angle_deg == pytest.approx(90)
    assert (bus.box.length, bus.box.width) == pytest.approx((40, 10))
    assert not car.has_front


def test_yolo_empty_file_is_a_negative_image(tmp_path, png):
    png(tmp_path / "n.png", 10, 10)
    (tmp_path / "n.txt").write_text("")
    [im] = read_yolo(tmp_path, ["car"])
    assert im.labels == []


def test_yolo_names_sources(tmp_path):
    (tmp_path / "a.names").write_text("car\ntruck\n\n")
    (tmp_path / "d.yaml").write_text("path: x\nnames: [car, bus]\n")
    (tmp_path / "e.yaml").write_text("names: {0: van, 1: excavator}\n")
    (tmp_path / "f.yaml").write_text("names: {0: van, 2: excavator}\n")
    assert read_names(tmp_path / "a.names") == ["car", "truck"]
    assert read_names(tmp_path / "d.yaml") == ["car", "bus"]
    assert read_names(tmp_path / "e.yaml") == ["van", "excavator"]
    with pytest.raises(InputError, match="without gaps"):
        read_names(tmp_path / "f.yaml")


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("0 0.5 0.5 0.1\n", "expected 'class cx cy w h' \\(5 fields\\), got 4"),
        ("5 0.5 0.5 0.1 0.1\n", "class index 5 out of range 0..1"),
        ("a 0.5 0.5 0.1 0.1\n", "class index must be an integer"),
        ("0 0.5 0.5 0 0.1\n", "degenerate box"),
        ("0 50 40 10 10\n", "centre .* outside"),  # pixel units instead of normalised
    ],
)
def test_yolo_bad_lines(tmp_path, png, line, match):
    png(tmp_path / "a.png", 100, 80)
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n" + line)
    with pytest.raises(InputError, match=match) as e:
        read_yolo(tmp_path / "a.txt", ["car", "truck"])
    assert "a.txt:2:" in str(e.value)


def test_yolo_unknown_name_in_names_list(tmp_path, png):
    png(tmp_path / "a.png", 100, 80)
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "a.names").write_text("car\nspaceship\n")
    with pytest.raises(InputError, match="a.names: names list: unknown class name 'spaceship'"):
        read_yolo(tmp_path / "a.txt", tmp_path / "a.names")


def test_yolo_obb_front_and_round_trip(tmp_path, png):
    img = png(tmp_path / "o.png", 200, 100)
    car = OrientedBox(60, 40, 16, 6, 200)
    pts = car.corners() / np.array([200, 100])
    (tmp_path / "o.txt").write_text(f"1 {fmt(pts.reshape(-1))}\n")
    [im] = read_yolo(tmp_path / "o.txt", ["truck", "car"], obb=True, front=True)
    lab = im.labels[0]
    assert lab.cls == "small_vehicle" and lab.has_front
    assert angle_diff(lab.box.angle_deg, 200) < 1e-4 and lab.box.length == pytest.approx(16, abs=1e-3)
    [im_axis] = read_yolo(tmp_path / "o.txt", ["truck", "car"], obb=True)
    assert not im_axis.labels[0].has_front and im_axis.labels[0].box.angle_deg == pytest.approx(20, abs=1e-4)
    (tmp_path / "rt").mkdir()
    write_yolo(im, tmp_path / "rt" / "o.txt", ["truck", "car"], obb=True)
    [again] = read_yolo(tmp_path / "rt" / "o.txt", ["truck", "car"], obb=True, front=True, image_dir=tmp_path)
    assert angle_diff(again.labels[0].box.angle_deg, 200) < 0.01
    # axis-aligned writing uses the box's bounds
    write_yolo(im, tmp_path / "h.txt", ["truck", "car"])
    x0, y0, x1, y1 = car.bounds()
    got = [float(v) for v in (tmp_path / "h.txt").read_text().split()[1:]]
    assert got == pytest.approx([(x0 + x1) / 400, (y0 + y1) / 200, (x1 - x0) / 200, (y1 - y0) / 100], abs=1e-6)
    with pytest.raises(InputError, match="not in names"):
        write_yolo(im, tmp_path / "x.txt", ["bus"])
    assert img.exists()


def test_yolo_obb_malformed(tmp_path, png):
    png(tmp_path / "o.png", 100, 100)
    (tmp_path / "o.txt").write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n")
    with pytest.raises(InputError, match=r"o.txt:1: expected 'class x1 y1 x2 y2 x3 y3 x4 y4' \(9 fields\)"):
        read_yolo(tmp_path / "o.txt", ["car"], obb=True)


# ----------------------------------------------------------------------- COCO
def coco(tmp_path, anns, images=None, cats=None):
    data = {
        "images": images or [{"id": 1, "file_name": "c.png", "width": 200, "height": 100}],
        "annotations": anns,
        "categories": cats or [{"id": 1, "name": "car"}, {"id": 2, "name": "excavator"}, {"id": 3, "name": "ship"}],
    }
    p = tmp_path / "coco.json"
    p.write_text(json.dumps(data))
    return p


def test_coco_bbox_polygon_and_ignored(tmp_path):
    rect = OrientedBox(100, 50, 20, 8, 30)
    octo = OrientedBox(40, 40, 10, 4, 100).corners()
    many = [octo[0], (octo[0] + octo[1]) / 2, octo[1], octo[2], (octo[2] + octo[3]) / 2, octo[3]]
    p = coco(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 8, 4]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1], "segmentation": [rect.to_dota()]},
        {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [list(np.ravel(many))], "iscrowd": 1},
        {"id": 4, "image_id": 1, "category_id": 3, "bbox": [50, 50, 5, 5]},
    ])
    [im] = read_coco(p)
    assert im.path == tmp_path / "c.png" and (im.width, im.height) == (200, 100)
    a, b, c = im.labels
    assert a.box.angle_deg == 90 and (a.box.length, a.box.width) == (8, 4)
    assert b.cls == "heavy_equipment" and b.box.angle_deg == pytest.approx(30) and not b.has_front
    assert c.difficult and c.box.length == pytest.approx(10) and c.box.angle_deg == pytest.approx(100)


def test_coco_heading_attributes(tmp_path):
    rect = OrientedBox(100, 50, 20, 8, 30)
    p = coco(tmp_path, [
        {"image_id": 1, "category_id": 1, "segmentation": [rect.to_dota()], "heading_deg": 215},
        {"image_id": 1, "category_id": 1, "segmentation": [rect.to_dota()], "attributes": {"heading_deg": 25}},
        {"image_id": 1, "category_id": 1, "segmentation": [rect.to_dota()], "front": [95, 58.66]},
    ])
    [im] = read_coco(p)
    assert [lab.has_front for lab in im.labels] == [True, True, True]
    # the heading picks which end is the front; the box's own axis stays
    assert [round(lab.box.angle_deg, 6) for lab in im.labels] == [210, 30, 210]


def test_coco_heading_with_only_a_bbox(tmp_path):
    car = OrientedBox(100, 50, 20, 8, 20)
    x0, y0, x1, y1 = car.bounds()
    diag = OrientedBox(50, 50, 20, 8, 45)
    d0, e0, d1, e1 = diag.bounds()
    p = coco(tmp_path, [
        {"image_id": 1, "category_id": 1, "bbox": [x0, y0, x1 - x0, y1 - y0], "heading_deg": 20},
        {"image_id": 1, "category_id": 1, "bbox": [d0, e0, d1 - d0, e1 - e0], "heading_deg": 45},
    ])
    with pytest.warns(UserWarning, match=r"annotations\[1\]: heading with only a bbox near 45"):
        [im] = read_coco(p)
    a, b = im.labels
    assert a.has_front and (a.box.length, a.box.width, a.box.angle_deg) == pytest.approx((20, 8, 20))
    assert not b.has_front


@pytest.mark.parametrize(
    ("ann", "match"),
    [
        ({"image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]}, "image_id 9 not in images"),
        ({"image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2]}, "category_id 7 not in categories"),
        ({"image_id": 1, "category_id": 1}, "neither a polygon"),
        ({"image_id": 1, "category_id": 1, "bbox": [1, 1, 0, 2]}, "degenerate bbox"),
        ({"image_id": 1, "category_id": 1, "segmentation": [[0, 0, 10, 10, 10, 0, 0, 10]]}, "self-intersecting"),
        ({"image_id": 1, "category_id": 1, "segmentation": [[0, 0, 10, 10, 10]]}, "odd number"),
        ({"image_id": 1, "category_id": 1, "segmentation": [[10, 10, 30, 10, 30, 14, 10, 14]], "heading_deg": 0},
         "across the box's long axis"),
        ({"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "front": 3}, "front must be a point"),
    ],
)
def test_coco_bad_annotations(tmp_path, ann, match):
    p = coco(tmp_path, [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}, ann])
    with pytest.raises(InputError, match=match) as e:
        read_coco(p)
    assert "coco.json:annotations[1]:" in str(e.value)


def test_coco_bad_files(tmp_path, png):
    p = tmp_path / "bad.json"
    p.write_text('{"images": [\n}')
    with pytest.raises(InputError, match=r"bad.json:2: not valid JSON"):
        read_coco(p)
    p.write_text('{"images": []}')
    with pytest.raises(InputError, match="not a COCO file"):
        read_coco(p)
    png(tmp_path / "noinfo.png", 64, 32)
    p = coco(tmp_path, [], images=[{"id": 1, "file_name": "noinfo.png"}])
    assert [(im.width, im.height) for im in read_coco(p)] == [(64, 32)]
    p = coco(tmp_path, [], images=[{"id": 1, "file_name": "missing.png"}])
    with pytest.raises(InputError, match=r"images\[0\]: no width/height"):
        read_coco(p)


# ---------------------------------------------------------------------- xView
def xview(tmp_path, feats):
    p = tmp_path / "xView_train.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": props} for props in feats]}))
    return p


def test_xview(tmp_path, png):
    png(tmp_path / "104.tif", 300, 200)
    png(tmp_path / "105.tif", 100, 100)
    p = xview(tmp_path, [
        {"image_id": "104.tif", "type_id": 18, "bounds_imcoords": "10,10,20,30"},
        {"image_id": "104.tif", "type_id": 60, "bounds_imcoords": "100,100,140,120"},
        {"image_id": "104.tif", "type_id": 73, "bounds_imcoords": "0,0,50,50"},  # building: ignored
        {"image_id": "104.tif", "type_id": 34, "bounds_imcoords": "0,0,50,20"},  # railway passenger car
        {"image_id": "105.tif", "type_id": 64, "bounds_imcoords": "5,5,25,15"},
    ])
    a, b = read_xview(p)
    assert a.path.name == "104.tif" and (a.width, a.height) == (300, 200)
    assert [(lab.cls, lab.subclass) for lab in a.labels] == [("small_vehicle", "car"), ("large_vehicle", "dump_truck")]
    assert a.labels[0].source_name == "Small Car"
    assert [(lab.cls, lab.box.angle_deg) for lab in b.labels] == [("heavy_equipment", 90)]


def test_xview_errors(tmp_path, png):
    png(tmp_path / "104.tif", 300, 200)
    p = xview(tmp_path, [{"image_id": "104.tif", "type_id": 99, "bounds_imcoords": "10,10,20,30"}])
    with pytest.raises(InputError, match=r"features\[0\]: type_id 99 is not an xView class"):
        read_xview(p)
    p = xview(tmp_path, [{"image_id": "104.tif", "type_id": 18, "bounds_imcoords": "10,10,20"}])
    with pytest.raises(InputError, match="bounds_imcoords must be"):
        read_xview(p)
    p = xview(tmp_path, [{"image_id": "104.tif", "type_id": 18, "bounds_imcoords": "10,10,10,30"}])
    with pytest.raises(InputError, match="degenerate box"):
        read_xview(p)
    p = xview(tmp_path, [{"image_id": "999.tif", "type_id": 18, "bounds_imcoords": "10,10,20,30"},
                         {"image_id": "104.tif", "type_id": 18, "bounds_imcoords": "10,10,20,30"}])
    with pytest.raises(InputError, match="image 999.tif not found"):
        read_xview(p)
    [only] = read_xview(p, missing_images="skip")
    assert only.path.name == "104.tif"
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputError, match="no 'features' list"):
        read_xview(tmp_path / "x.json")
