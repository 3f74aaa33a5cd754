"""The shared input checks: one message for a bad ground sample distance wherever it is given."""

from __future__ import annotations

import pytest

from borderwatch.errors import InputError, positive_gsd


def test_positive_gsd_parses_numbers_and_names_the_source():
    assert positive_gsd("0.5") == 0.5 and positive_gsd(2) == 2.0
    for bad, why in [("abc", "not a number"), (None, "not a number"), (0, "positive"), (-1.0, "positive"), (float("nan"), "positive")]:
        with pytest.raises(InputError, match=why) as exc:
            positive_gsd(bad, "scene.png")
        assert str(exc.value).startswith("scene.png: ground sample distance")
