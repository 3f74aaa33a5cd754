"""The errors users see: one message for a bad ground sample distance wherever it is given; errors that survive
a worker process; what the library underneath said."""

from __future__ import annotations

import pickle

import pytest

from borderwatch.errors import BorderwatchError, CorridorError, InputError, SceneError, StoreError, library_message, positive_gsd


def test_positive_gsd_parses_numbers_and_names_the_source():
    assert positive_gsd("0.5") == 0.5 and positive_gsd(2) == 2.0
    for bad, why in [("abc", "not a number"), (None, "not a number"), (0, "positive"), (-1.0, "positive"), (float("nan"), "positive")]:
        with pytest.raises(InputError, match=why) as exc:
            positive_gsd(bad, "scene.png")
        assert str(exc.value).startswith("scene.png: ground sample distance")


@pytest.mark.parametrize("cls", [BorderwatchError, CorridorError, SceneError, StoreError, InputError])
def test_errors_survive_the_trip_from_a_worker_process(cls):
    for source in ("/data/scene.tif", None):
        back = pickle.loads(pickle.dumps(cls(source, "pixels could not be read")))
        assert type(back) is cls and back.source == source and back.problem == "pixels could not be read"
        assert str(back) == str(cls(source, "pixels could not be read"))


def test_library_message_reads_past_rasterios_see_previous_exception():
    try:
        try:
            try:
                raise ValueError("ZIPDecode:Decoding error at scanline 0")
            except ValueError as inner:
                raise OSError("scene.tif, band 1: IReadBlock failed at X offset 0, Y offset 2\nmore") from inner
        except OSError as middle:
            raise OSError("Read failed. See previous exception for details.") from middle
    except OSError as outer:
        assert library_message(outer) == ("scene.tif, band 1: IReadBlock failed at X offset 0, Y offset 2 "
                                          "(ZIPDecode:Decoding error at scanline 0)")
    assert library_message(ValueError("one line\ntwo")) == "one line"
    assert library_message(ValueError("")) == "ValueError"
