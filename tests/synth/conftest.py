from datetime import date

import pytest

from borderwatch.corridor import load_corridor
from borderwatch.synth import SynthWorld

DATES = [date(2025, 7, 31), date(2025, 9, 13)]


@pytest.fixture(scope="session")
def corridor():
    return load_corridor("yalu-upper")


@pytest.fixture(scope="session")
def world(corridor):
    return SynthWorld(corridor, seed=7, dates=DATES)


@pytest.fixture(scope="session")
def dates():
    return DATES
