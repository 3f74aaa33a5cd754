"""The share of an image that looks snow-covered: bright, colourless ground."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.imagery.snow import SNOW_MAX_SPREAD, SNOW_MIN_VALUE, snow_share


def _image(*colours: tuple[int, int, int], bands: int = 3) -> np.ndarray:
    """One pixel per colour, (bands, 1, n) uint8; a 4th band (NIR) is dark."""
    a = np.array(colours, np.uint8).T[:, None, :]
    return np.concatenate([a, np.full((bands - 3, 1, len(colours)), 30, np.uint8)]) if bands > 3 else a


def test_bright_colourless_pixels_count_and_others_do_not():
    img = _image(
        (235, 238, 240),  # open snow
        (SNOW_MIN_VALUE, SNOW_MIN_VALUE, SNOW_MIN_VALUE + SNOW_MAX_SPREAD),  # just inside both limits
        (SNOW_MIN_VALUE - 1, 200, 200),  # one band too dark
        (200, 200, 200 + SNOW_MAX_SPREAD + 1),  # too blue
        (60, 120, 50),  # summer field
        (215, 200, 150),  # sand: bright but yellow
    )
    assert snow_share(img, np.ones((1, 6), bool)) == pytest.approx(2 / 6)
    assert snow_share(_image((235, 238, 240), (60, 120, 50), bands=4), np.ones((1, 2), bool)) == pytest.approx(0.5)


def test_only_valid_pixels_are_counted():
    img = _image((235, 238, 240), (60, 120, 50), (235, 238, 240))
    assert snow_share(img, np.array([[True, True, False]])) == pytest.approx(0.5)


@pytest.mark.parametrize("image, valid", [
    (np.zeros((3, 2, 2), np.uint8), np.zeros((2, 2), bool)),  # nothing valid
    (np.zeros((3, 2, 2), np.uint16), np.ones((2, 2), bool)),  # not 8-bit: the limits do not apply
    (np.zeros((1, 2, 2), np.uint8), np.ones((2, 2), bool)),  # one band: no colour
])
def test_it_says_unknown_rather_than_guess(image, valid):
    assert snow_share(image, valid) is None
