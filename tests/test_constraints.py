"""constraints.txt pins what CI tests: every requirement of pyproject.toml must be pinned there, inside its range."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
#: installed by hand, not through the extras' resolution (the CPU wheel, see pyproject.toml's train extra)
NOT_PINNED = {"torch"}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a pin (NAME==VERSION)"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_requirement_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pins = _pins()
    for r in reqs:
        name = canonicalize_name(r.name)
        if name in NOT_PINNED:
            continue
        assert name in pins, f"constraints.txt has no pin for {r.name} (pyproject.toml asks for {r})"
        assert r.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {r.name}=={pins[name]}, outside pyproject.toml's {r.specifier}"
