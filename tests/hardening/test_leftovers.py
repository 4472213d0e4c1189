"""Temporary files: a fresh name for every write (two writers never share one), removed on
any exception, and the ones a killed writer left swept by the next write of the same
target — but never a live writer's."""

from __future__ import annotations

import fcntl
import os
import threading

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.atomic import atomic_write, sweep_stale_temps

from . import crafting as K


def _temps(folder, target="m.tnz"):
    return sorted(n for n in os.listdir(folder) if n.startswith(f".{target}.") and
                  n.endswith(".tmp"))


def test_two_concurrent_writers_use_two_temporary_files(tmp_path):
    target = tmp_path / "f.bin"
    started, release = threading.Barrier(3), threading.Event()

    def slow(payload):
        def write(f):
            f.write(payload)
            started.wait()
            release.wait()
        return write
    threads = [threading.Thread(target=atomic_write, args=(target, slow(p)))
               for p in (b"first", b"second")]
    for t in threads:
        t.start()
    started.wait()
    assert len(_temps(tmp_path, "f.bin")) == 2           # one each, both alive
    release.set()
    for t in threads:
        t.join()
    assert target.read_bytes() in (b"first", b"second")
    assert _temps(tmp_path, "f.bin") == []


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_file(tmp_path, exc):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"half")
        raise exc("stop")
    with pytest.raises(exc):
        atomic_write(target, write)
    assert target.read_bytes() == b"old" and _temps(tmp_path, "f.bin") == []


def test_save_word2vec_format_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    kv = K.small_vectors()
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(path, binary=True)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr("tinynlp.embeddings.keyedvectors.write_binary_rows", boom)
    with pytest.raises(OSError, match="disk full"):
        kv.save_word2vec_format(path, binary=True)
    assert path.read_bytes() == before
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def _stale(folder, target="m.tnz", tag="abcd1234"):
    """A temporary file as a killed writer leaves it (nobody holds its lock)."""
    path = folder / f".{target}.{tag}.tmp"
    path.write_bytes(b"x" * 1000)
    return path


def test_the_next_save_sweeps_what_killed_saves_left(tmp_path):
    model = K.sequential_model()
    stale = [_stale(tmp_path, tag=t) for t in ("aaaaaaaa", "b_c0d1e2", "zz99zz99")]
    other = _stale(tmp_path, target="other.tnz")           # another target's: kept
    unrelated = tmp_path / ".m.tnz.notmine.tmp"            # not our naming: kept
    unrelated.write_bytes(b"")
    model.save(tmp_path / "m.tnz")
    assert not any(p.exists() for p in stale)
    assert other.exists() and unrelated.exists()
    assert tn.models.load_model(tmp_path / "m.tnz").count_params() == model.count_params()


def test_a_live_writers_temporary_file_is_not_swept(tmp_path):
    live = _stale(tmp_path)
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)                      # as a running writer holds it
        assert sweep_stale_temps(tmp_path / "m.tnz") == []
        assert live.exists()
    finally:
        os.close(fd)
    assert sweep_stale_temps(tmp_path / "m.tnz") == [str(live)]
    assert not live.exists()


def test_sharded_saves_sweep_the_shards_and_temporaries_killed_saves_left(tmp_path):
    from tinynlp import compress as C
    folder = tmp_path / "ckpt"
    model = K.sequential_model()
    C.save_sharded(model, folder, max_shard_size="1kB")
    orphan = folder / "shard-00001-of-00002-0badf00d.npy"
    np.save(orphan, np.zeros(4, np.uint8))
    temp = folder / ".shard-00002-of-00002-0badf00d.npy.q1w2e3r4.tmp"
    temp.write_bytes(b"partial")
    keep = folder / "notes.txt"
    keep.write_text("mine")
    C.save_sharded(model, folder, max_shard_size="1kB")
    assert not orphan.exists() and not temp.exists() and keep.exists()
    import json
    listed = set(json.loads((folder / "index.json").read_text())["shards"])
    assert {p.name for p in folder.glob("shard-*.npy")} == listed


def test_written_files_get_the_usual_permissions_not_the_temporary_files(tmp_path):
    """A new file gets 0o666 less the umask (what open() gives), as if written in place;
    a replaced file keeps its permissions — never the temporary file's owner-only 0o600."""
    old = os.umask(0o027)
    try:
        new = tmp_path / "new.json"
        atomic_write(new, lambda f: f.write(b"{}"))
        assert oct(os.stat(new).st_mode & 0o777) == oct(0o640)
    finally:
        os.umask(old)
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"old")
    os.chmod(kept, 0o604)
    atomic_write(kept, lambda f: f.write(b"new"))
    assert kept.read_bytes() == b"new" and oct(os.stat(kept).st_mode & 0o777) == oct(0o604)
