from __future__ import annotations

import pytest

from borderwatch.analysis.detect.kit import (
    KIT_AIS_GSD_M,
    load_kit_ais,
    sequence_key,
    split_by_sequence,
)
from borderwatch.errors import InputError


@pytest.fixture
def kit(tmp_path, png):
    """A KIT-like folder: runs MOS74-79 and MOS155-158 (consecutive numbers overlap)."""
    folder = tmp_path / "kit"
    (folder).mkdir()
    (folder / "aerial.names").write_text("car\ntruck\nbus\nminibus\ncyclist\n")
    for n in [*range(74, 80), *range(155, 159)]:
        png(folder / f"MOS{n}.png", 200, 100)
        (folder / f"MOS{n}.txt").write_text(
            "0 0.5 0.5 0.1 0.2\n3 0.2 0.3 0.1 0.05\n4 0.7 0.7 0.02 0.04\n2 0.8 0.2 0.2 0.08\n")
    (folder / "SOURCES.md").write_text("not labels\n")
    return folder


def names(images):
    return [im.path.stem for im in images]


def test_load_kit_ais(kit):
    images = load_kit_ais(kit)
    assert names(images) == [f"MOS{n}" for n in [*range(74, 80), *range(155, 159)]]  # numeric, not text order
    im = images[0]
    assert (im.width, im.height, im.gsd_m, im.sequence, im.frame) == (200, 100, KIT_AIS_GSD_M, "MOS", 74)
    # cyclist dropped; minibus is a small vehicle; bus a large one
    assert [(lab.cls, lab.subclass) for lab in im.labels] == [
        ("small_vehicle", "car"), ("small_vehicle", "minibus"), ("large_vehicle", "bus")]
    assert all(not lab.has_front for lab in im.labels)


def test_load_kit_ais_errors(tmp_path, png):
    with pytest.raises(InputError, match="not a folder"):
        load_kit_ais(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no YOLO label files"):
        load_kit_ais(tmp_path / "empty")
    png(tmp_path / "bad" / "MOS1.png", 10, 10)
    (tmp_path / "bad" / "MOS1.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(InputError, match=r"MOS1.txt:1: class index 7 out of range"):
        load_kit_ais(tmp_path / "bad")


def test_sequence_key():
    assert sequence_key("a/MOS155.png") == ("MOS", 155)
    assert sequence_key("tile_07.txt") == ("tile_", 7)
    assert sequence_key("nonumber.png") is None


def test_fraction_holds_out_a_block_and_its_run(kit):
    images = load_kit_ais(kit)
    s = split_by_sequence(images, 0.2)
    assert names(s.test) == ["MOS157", "MOS158"]
    assert names(s.excluded) == ["MOS155", "MOS156"]  # same run: overlaps the test block
    assert names(s.train) == [f"MOS{n}" for n in range(74, 80)]


def test_buffer_excludes_only_neighbours(kit):
    images = load_kit_ais(kit)
    s = split_by_sequence(images, ["MOS76", "MOS77.png"], buffer=1)
    assert names(s.test) == ["MOS76", "MOS77"]
    assert names(s.excluded) == ["MOS75", "MOS78"]
    assert names(s.train) == ["MOS74", "MOS79", "MOS155", "MOS156", "MOS157", "MOS158"]
    s0 = split_by_sequence(images, ["MOS76"], buffer=0)
    assert s0.excluded == [] and len(s0.train) == 9


@pytest.mark.parametrize("buffer", [None, 0, 1, 2])
@pytest.mark.parametrize("holdout", [0.1, 0.3, 0.5, ["MOS74"], ["MOS155", "MOS79"]])
def test_no_neighbour_of_a_test_frame_is_trained_on(kit, holdout, buffer):
    images = load_kit_ais(kit)
    s = split_by_sequence(images, holdout, buffer=buffer)
    assert len(s.train) + len(s.test) + len(s.excluded) == len(images)
    assert s.test
    test_frames = {(im.sequence, im.frame) for im in s.test}
    reach = 1 if buffer is None else max(buffer, 0)
    for im in s.train:
        assert (im.sequence, im.frame) not in test_frames
        if buffer != 0:
            for d in range(1, reach + 1):
                assert (im.sequence, im.frame - d) not in test_frames
                assert (im.sequence, im.frame + d) not in test_frames
    # 79 and 155 are not neighbours: a gap in the numbers starts a new run
    if buffer is None and holdout == ["MOS74"]:
        assert names(s.train) == ["MOS155", "MOS156", "MOS157", "MOS158"]


def test_split_errors(kit):
    images = load_kit_ais(kit)
    with pytest.raises(InputError, match="not among the images: MOS999"):
        split_by_sequence(images, ["MOS999"])
    with pytest.raises(InputError, match="between 0 and 1"):
        split_by_sequence(images, 1.5)
    with pytest.raises(InputError, match="buffer"):
        split_by_sequence(images, 0.2, buffer=-1)


def test_whole_runs_holds_out_every_frame_of_the_run(kit):
    images = load_kit_ais(kit)
    s = split_by_sequence(images, ["MOS76"], whole_runs=True)
    assert names(s.test) == [f"MOS{n}" for n in range(74, 80)]  # the whole street, not one frame
    assert s.excluded == []
    assert names(s.train) == ["MOS155", "MOS156", "MOS157", "MOS158"]
    s2 = split_by_sequence(images, ["MOS158"], whole_runs=True)
    assert names(s2.test) == ["MOS155", "MOS156", "MOS157", "MOS158"] and len(s2.train) == 6
