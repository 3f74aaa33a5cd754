"""Errors users see. Each names the file (or name) at fault and the problem, on one line."""

from __future__ import annotations

from pathlib import Path


class BorderwatchError(Exception):
    """Base for every error borderwatch reports to a user (CLI exit code 2)."""

    def __init__(self, source: str | Path | None, problem: str):
        self.source = str(source) if source is not None else None
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)

    def __reduce__(self):
        # rebuilt from (source, problem), so the error survives the trip back from a worker process
        return type(self), (self.source, self.problem)


class CorridorError(BorderwatchError):
    """A corridor file or name that cannot be used."""


class SceneError(BorderwatchError):
    """An image that cannot be registered or read as a scene."""


class StoreError(BorderwatchError):
    """A store that cannot be opened, migrated or written."""


class InputError(BorderwatchError):
    """Any other bad argument (dates, ranges, options)."""


def library_message(exc: BaseException) -> str:
    """What the library underneath (GDAL, OGR, PROJ) said, on one line.

    rasterio's outer errors often say only "See previous exception for details", so the chain of causes is
    read: its first informative line, and the innermost one where it adds something.
    """
    lines: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(lines) < 20:
        text = str(cause).strip().splitlines()
        if text and "previous exception" not in text[0]:
            lines.append(text[0])
        cause = cause.__cause__
    if not lines:
        return type(exc).__name__
    return lines[0] if lines[-1] in lines[0] else f"{lines[0]} ({lines[-1]})"


def positive_gsd(gsd_m: object, source: str | Path | None = "gsd") -> float:
    """A ground sample distance as a float in metres, or an InputError naming ``source``."""
    import math

    try:
        g = float(gsd_m)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(source, f"ground sample distance {gsd_m!r} is not a number") from None
    if not (math.isfinite(g) and g > 0):
        raise InputError(source, f"ground sample distance {gsd_m!r} must be a positive number of metres")
    return g
