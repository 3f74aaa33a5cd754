"""Colours shared by the KML and the web map, so a country looks the same in both."""

from __future__ import annotations

from borderwatch.errors import InputError

#: Bank colours by ISO country code (RGB hex); others fall back by side.
COUNTRY_COLOURS = {"KP": "#d62728", "CN": "#e6b800", "KR": "#1f77b4", "RU": "#2ca02c"}
SIDE_COLOURS = {"left": "#9467bd", "right": "#17becf"}


def country_colour(country: str, side: str = "left") -> str:
    """The bank colour of a country (``#rrggbb``)."""
    return COUNTRY_COLOURS.get(country.upper(), SIDE_COLOURS.get(side, "#7f7f7f"))


def kml_colour(rgba: str) -> str:
    """``#rrggbb`` or ``#rrggbbaa`` as KML's ``aabbggrr``."""
    h = rgba.lstrip("#")
    if len(h) == 6:
        h += "ff"
    if len(h) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in h):
        raise InputError(rgba, "colour must be #rrggbb or #rrggbbaa")
    r, g, b, a = h[0:2], h[2:4], h[4:6], h[6:8]
    return (a + b + g + r).lower()
