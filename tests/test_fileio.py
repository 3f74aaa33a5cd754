"""Atomic writes: the old file survives a failed write, and no .part file is left."""

import pytest

from borderwatch.fileio import write_atomically


def test_writes_text_bytes_and_functions(tmp_path):
    assert write_atomically(tmp_path / "a" / "t.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert write_atomically(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert write_atomically(tmp_path / "c.txt", lambda p: p.write_text("x")).read_text() == "x"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path):
    target = tmp_path / "index.html"
    target.write_text("old")

    def boom(p):
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(target, boom)
    assert target.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["index.html"]
