"""Capture dates as they appear in tags, KML and file names.

A timestamp with a zone is taken as its UTC date (satellite capture times are
UTC); one without a zone is taken as written.
"""

from __future__ import annotations

import datetime as dt
import re

from borderwatch.errors import SceneError

#: GeoTIFF metadata tags holding the capture date, in order of trust.
DATE_TAGS = ("CAPTURE_DATE", "ACQUISITION_DATE", "DATE_ACQUIRED")

_FILENAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")


def parse_date(value: object, source: str, what: str) -> dt.date:
    """An ISO date or date-time (``2023-05-14``, ``2023-05-14T02:31:00Z``) as a date."""
    if isinstance(value, dt.datetime):
        return _utc_date(value)
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if "T" in text or " " in text:
            return _utc_date(dt.datetime.fromisoformat(text.replace(" ", "T", 1)))
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SceneError(source, f"unparseable {what} {text!r} (need YYYY-MM-DD or an ISO date-time)") from None


def parse_tiff_datetime(text: str, source: str) -> dt.date:
    """TIFFTAG_DATETIME, ``YYYY:MM:DD HH:MM:SS`` (also accepts ISO)."""
    text = text.strip()
    try:
        return dt.datetime.strptime(text, "%Y:%m:%d %H:%M:%S").date()
    except ValueError:
        return parse_date(text, source, "TIFFTAG_DATETIME")


def date_from_tags(tags: dict[str, str], source: str) -> dt.date | None:
    """The capture date from GeoTIFF tags, or None when none is tagged."""
    for key in DATE_TAGS:
        if tags.get(key, "").strip():
            return parse_date(tags[key], source, key)
    if tags.get("TIFFTAG_DATETIME", "").strip():
        return parse_tiff_datetime(tags["TIFFTAG_DATETIME"], source)
    return None


def date_from_filename(name: str) -> dt.date | None:
    """A date written in a file name (``hyesan_2023-05-14.tif``, ``S2_20230514.tif``)."""
    for m in _FILENAME_DATE.finditer(name):
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def _utc_date(value: dt.datetime) -> dt.date:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.date()
