from __future__ import annotations

import pytest

from borderwatch.analysis.detect.classmap import (
    CLASSES,
    XVIEW_CLASSES,
    ClassMap,
    Target,
    UnknownClassError,
    normalize_name,
)
from borderwatch.errors import InputError


@pytest.fixture(scope="module")
def default():
    return ClassMap.default()


@pytest.mark.parametrize(
    ("name", "cls", "sub"),
    [
        ("car", "small_vehicle", "car"),
        ("van", "small_vehicle", "van"),
        ("pickup", "small_vehicle", "pickup"),
        ("vehicle", "small_vehicle", None),
        ("small-vehicle", "small_vehicle", None),
        ("Small Vehicle", "small_vehicle", None),
        ("minibus", "small_vehicle", "minibus"),
        ("truck", "large_vehicle", "truck"),
        ("bus", "large_vehicle", "bus"),
        ("large-vehicle", "large_vehicle", None),
        ("cargo truck", "large_vehicle", "cargo_truck"),
        ("dump truck", "large_vehicle", "dump_truck"),
        ("trailer", "large_vehicle", "trailer"),
        ("excavator", "heavy_equipment", "excavator"),
        ("loader", "heavy_equipment", "loader"),
        ("bulldozer", "heavy_equipment", "bulldozer"),
        ("crane", "heavy_equipment", "crane"),
        ("engineering vehicle", "heavy_equipment", None),
        # xView names
        ("Small Car", "small_vehicle", "car"),
        ("Pickup Truck", "small_vehicle", "pickup"),
        ("Truck w/Box", "large_vehicle", "box_truck"),
        ("Truck Tractor", "large_vehicle", "truck_tractor"),
        ("Dump Truck", "large_vehicle", "dump_truck"),
        ("Front loader/Bulldozer", "heavy_equipment", "loader"),
        ("Mobile Crane", "heavy_equipment", "crane"),
        ("Haul Truck", "heavy_equipment", "haul_truck"),
    ],
)
def test_default_mapping(default, name, cls, sub):
    assert default.lookup(name) == Target(cls, sub)


@pytest.mark.parametrize("name", ["plane", "ship", "cyclist", "Passenger Car", "Building", "Tower crane", "xView 75"])
def test_default_ignores_non_vehicles(default, name):
    assert name in default
    assert default.lookup(name) is None


def test_every_xview_name_is_listed(default):
    for name in XVIEW_CLASSES.values():
        default.lookup(name)  # must not raise


def test_default_subclasses_read_back_as_themselves(default):
    # write_dota/write_yolo write the subclass as the class name; it must map back to itself
    for name in default.names:
        t = default.lookup(name)
        if t is not None and t.subclass is not None:
            assert default.lookup(t.subclass) == t, t
        if t is not None:
            assert t.cls in CLASSES
            assert default.lookup(t.cls) == Target(t.cls, None)


def test_unknown_name_lists_allowed(default):
    with pytest.raises(UnknownClassError, match=r"unknown class name 'hovercraft'.*allowed: .*excavator"):
        default.lookup("hovercraft")
    assert ClassMap.default(ignore_unknown=True).lookup("hovercraft") is None


def test_normalize_name():
    assert normalize_name(" Truck w/Box ") == "truck w box"
    assert normalize_name("small_vehicle") == normalize_name("Small-Vehicle")


def test_yaml_map(tmp_path):
    p = tmp_path / "map.yaml"
    p.write_text(
        "auto: small_vehicle\n"
        "lkw: {class: large_vehicle, subclass: Dump Truck}\n"
        "bagger: {class: heavy-equipment}\n"
        "fahrrad: null\n"
        "person: ignore\n"
    )
    m = ClassMap.from_yaml(p)
    assert m.lookup("Auto") == Target("small_vehicle")
    assert m.lookup("LKW") == Target("large_vehicle", "dump_truck")
    assert m.lookup("bagger") == Target("heavy_equipment")
    assert m.lookup("fahrrad") is None and m.lookup("person") is None
    with pytest.raises(UnknownClassError, match="allowed: auto, bagger, fahrrad, lkw, person"):
        m.lookup("car")  # not extended from the default


def test_yaml_options(tmp_path):
    p = tmp_path / "map.yaml"
    p.write_text("ignore_unknown: true\nextends_default: true\nauto: small_vehicle\n")
    m = ClassMap.from_yaml(p)
    assert m.lookup("car") == Target("small_vehicle", "car")
    assert m.lookup("auto") == Target("small_vehicle")
    assert m.lookup("zeppelin") is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("auto: tank\n", "unknown target class 'tank'"),
        ("auto: {klass: small_vehicle}\n", "expected a class name"),
        ("auto: [1, 2]\n", "expected a class name"),
        ("- a\n- b\n", "must be a mapping"),
        ("auto: {class: small_vehicle\n", "not valid YAML"),
        ("ignore_unknown: yes please\n", "must be true or false"),
    ],
)
def test_bad_yaml_names_the_file(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        ClassMap.from_yaml(p)
    assert str(p) in str(e.value)


def test_missing_yaml(tmp_path):
    with pytest.raises(InputError, match="cannot read class map"):
        ClassMap.from_yaml(tmp_path / "nope.yaml")
