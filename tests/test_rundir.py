"""sql2nl.rundir: the one home of the run/export manifest and of atomic writes (issue 17 §1)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sql2nl.errors import ModelError
from sql2nl.rundir import (
    EXPORT_FORMAT,
    MANIFEST,
    RUN_FORMAT,
    artifact,
    atomic_dir,
    atomic_write_json,
    atomic_write_text,
    manifest_version,
    read_manifest,
    update_manifest,
)


def _write(directory, data) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        written = atomic_write_text(tmp_path / "sub" / "atomic.txt", "héllo\n")
    finally:
        os.umask(old)
    assert written.read_text(encoding="utf-8") == "héllo\n"
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_else(tmp_path):
    target = atomic_write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(UnicodeEncodeError):  # fails inside the write, after the temporary file exists
        atomic_write_text(target, "ok so far \ud800")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    d = tmp_path / "merged"
    with atomic_dir(d) as tmp:
        (tmp / "config.json").write_text("{}")
    assert (d / "config.json").is_file()
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "half").write_text("x")
            raise ValueError
    assert sorted(p.name for p in d.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]


def test_manifest_versions():
    assert manifest_version({"format": RUN_FORMAT}) == ("sql2nl-run", 1)
    assert manifest_version({"format": EXPORT_FORMAT}) == ("sql2nl-gguf", 1)
    assert manifest_version({"format": "sql2nl-run/12"}) == ("sql2nl-run", 12)
    assert manifest_version({}) == ("sql2nl-run", 1)  # written before the field existed
    assert manifest_version({}, "sql2nl-gguf") == ("sql2nl-gguf", 1)
    assert manifest_version({"format": "whatever"}) == ("whatever", 0)


def test_read_manifest_reads_current_and_older_manifests(tmp_path):
    _write(tmp_path / "new", {"format": RUN_FORMAT, "base_model": "b"})
    _write(tmp_path / "old", {"base_model": "b", "artifacts": {"adapter": "adapter"}})
    assert read_manifest(tmp_path / "new")["base_model"] == "b"
    assert read_manifest(tmp_path / "old")["artifacts"] == {"adapter": "adapter"}
    _write(tmp_path / "export", {"format": EXPORT_FORMAT, "quantizations": {}})
    assert read_manifest(tmp_path / "export", ("sql2nl-run", "sql2nl-gguf"))["quantizations"] == {}


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not a sql2nl run directory .no manifest.json.; create one with `sql2nl train`"),
        ("{not json", "could not be read"),
        ("[1, 2]", "not a JSON object"),
        ({"format": "sql2nl-run/2"}, "newer than this sql2nl reads .sql2nl-run/1.; upgrade"),
        ({"format": EXPORT_FORMAT}, "has format 'sql2nl-gguf/1'; a sql2nl run manifest has format sql2nl-run/N"),
        ({"format": "sql2nl-run/x"}, "has format 'sql2nl-run/x'"),
    ],
)
def test_read_manifest_refuses_what_it_cannot_read(tmp_path, content, message):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        _write(run, content)
    with pytest.raises(ModelError, match=message):
        read_manifest(run)


def test_update_manifest_merges_one_level_and_artifact_paths(tmp_path):
    run = tmp_path / "run"
    _write(run, {"format": RUN_FORMAT, "artifacts": {"adapter": "adapter"}, "metrics": {"steps": 3}})
    (run / "adapter").mkdir()
    out = update_manifest(run, artifacts={"merged": "merged"}, metrics={"bleu": 1.0}, engine="peft")
    assert out == read_manifest(run)
    assert out["artifacts"] == {"adapter": "adapter", "merged": "merged"}
    assert out["metrics"] == {"steps": 3, "bleu": 1.0} and out["engine"] == "peft"
    assert artifact(run, "adapter") == run / "adapter"
    assert artifact(run, "merged") is None  # listed, but not on disk
    assert artifact(run, "gguf") is None
