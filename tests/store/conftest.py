"""Fixtures for the store tests."""

from __future__ import annotations

import pytest
from _store_data import CORRIDOR, CORRIDOR_LINE

from borderwatch.store import Store


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "bw.gpkg"


@pytest.fixture
def store(store_path):
    with Store.open(store_path, create=True) as s:
        yield s


@pytest.fixture
def run_id(store):
    store.upsert_corridor(CORRIDOR, CORRIDOR_LINE)
    return store.start_run("yalu-upper", {"tile_m": 512}, {"detector": "v1"})
