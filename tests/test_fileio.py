"""dasiamrt.fileio: whole-or-nothing writes with one-line errors, and file hashes."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from dasiamrt.errors import SourceError
from dasiamrt.fileio import AtomicFile, atomic_write_bytes, atomic_write_json, sha256_file


def test_write_replaces_whole_file_with_shared_permissions(tmp_path):
    path = tmp_path / "sub" / "r.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]}, sort_keys=True)
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().index('"a"') < path.read_text().index('"b"')
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]


def test_failure_inside_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with AtomicFile(path, ".csv") as out:
            out.tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["boxes.csv"]


def test_folder_as_target_is_a_one_line_error_and_leaves_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(SourceError, match="is a folder") as info:
        AtomicFile(tmp_path / "out", ".csv")
    assert "\n" not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_folder_is_an_error_unless_parents_are_made(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        AtomicFile(tmp_path / "no" / "x.csv")
    (tmp_path / "file").write_text("")
    with pytest.raises(SourceError, match="cannot write"):  # a file where a folder should be
        atomic_write_bytes(tmp_path / "file" / "x.bin", b"x")


def test_sha256_matches_hashlib(tmp_path):
    data = os.urandom(3 << 20 | 5)  # several chunks plus a tail
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
