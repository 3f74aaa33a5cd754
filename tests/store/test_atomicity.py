"""Writes are all-or-nothing: exceptions roll back, and so does a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from _store_data import make_scene, tile_row

from borderwatch.store import Store


def test_exception_in_transaction_rolls_back(store, run_id):
    store.put_tile_results([tile_row(0, run_id)])
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.put_tile_results([tile_row(1, run_id)])
            store.add_scenes([make_scene(0)])
            raise RuntimeError("boom")
    assert [r["tile_id"] for r in store.tile_results()] == ["T00000"]
    assert store.scenes() == []
    assert store._conn.execute("SELECT count(*) FROM rtree_tile_results_geom").fetchone()[0] == 1


def test_nested_transactions(store, run_id):
    with store.transaction():
        store.put_tile_results([tile_row(0, run_id)])
        with pytest.raises(ValueError):
            with store.transaction():
                store.put_tile_results([tile_row(1, run_id)])
                raise ValueError("inner fails")
        with store.transaction():
            store.put_tile_results([tile_row(2, run_id)])
    assert [r["tile_id"] for r in store.tile_results()] == ["T00000", "T00002"]
    with pytest.raises(KeyError):
        with store.transaction():
            store.put_tile_results([tile_row(3, run_id)])
            with store.transaction():
                store.put_tile_results([tile_row(4, run_id)])
            raise KeyError("outer fails after inner succeeded")
    assert [r["tile_id"] for r in store.tile_results()] == ["T00000", "T00002"]


_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from _store_data import tile_row
    from borderwatch.store import Store

    store = Store.open(sys.argv[1])
    store._conn.execute("PRAGMA cache_size = 4")  # spill pages into the file before commit
    with store.transaction():
        for i in range(100, 1100):
            store.put_tile_results([tile_row(i, sys.argv[2])])
        print("WRITTEN", flush=True)
        time.sleep(120)
    """
)


def test_killed_writer_leaves_nothing_half_written(store_path, tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    with Store.open(store_path, create=True) as s:
        from _store_data import CORRIDOR, CORRIDOR_LINE

        s.upsert_corridor(CORRIDOR, CORRIDOR_LINE)
        run = s.start_run("yalu-upper", {}, {})
        s.put_tile_results([tile_row(i, run) for i in range(5)])
    size_before = store_path.stat().st_size
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(store_path), run, here],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "WRITTEN", proc.stderr.read()
        journal = store_path.with_name(store_path.name + "-journal")
        assert journal.exists()  # the batch is mid-transaction
        assert store_path.stat().st_size > size_before  # and partly in the file already
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Store.open(store_path) as s:
        rows = s.tile_results()
        assert [r["tile_id"] for r in rows] == [f"T{i:05d}" for i in range(5)]
        assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s._conn.execute("SELECT count(*) FROM rtree_tile_results_geom").fetchone()[0] == 5
    assert sorted(p.name for p in store_path.parent.iterdir() if p.name.startswith("bw.gpkg")) == ["bw.gpkg"]
