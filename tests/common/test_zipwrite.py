"""The threaded zip writer makes archives that zipfile reads back as zipfile itself would write them."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from steps.common.zipwrite import Member, members_of, write_zip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "pipeline"
    (root / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_0").mkdir(parents=True)
    (root / ".stage").mkdir()
    (root / ".stage" / "hidden.json").write_text("{}")
    (root / "metadata.json").write_text('{"name": "p"}\n' * 50)
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.bin").write_bytes(os.urandom(200_000))
    (root / "tabelle_ä.csv").write_text("a,b\n1,2\n" * 1000, encoding="utf-8")
    with zipfile.ZipFile(root / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_0.zip", "w") as z:
        z.writestr("weight.json", "{}" * 100)
    (root / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_0" / "scaler.pkl").write_bytes(b"x" * 5000)
    return root


def _written(members, threads: int) -> bytes:
    buffer = io.BytesIO()
    write_zip(buffer, members, 1, threads)
    return buffer.getvalue()


def test_members_are_every_visible_file_sorted(tree: Path):
    names = [m.name for m in members_of(tree)]
    assert names == sorted(names) and ".stage/hidden.json" not in names and len(names) == 6
    assert [m.store for m in members_of(tree)] == [m.name.endswith(".zip") for m in members_of(tree)]


def test_the_archive_reads_back_like_one_zipfile_writes(tree: Path):
    members = members_of(tree)
    ours = zipfile.ZipFile(io.BytesIO(_written(members, 2)))
    assert ours.testzip() is None
    reference = io.BytesIO()
    with zipfile.ZipFile(reference, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for m in members:
            archive.write(
                m.source,
                m.name,
                compress_type=zipfile.ZIP_STORED if m.store else zipfile.ZIP_DEFLATED,
                compresslevel=None if m.store else 1,
            )
    theirs = zipfile.ZipFile(reference)
    assert ours.namelist() == theirs.namelist() == [m.name for m in members]
    for mine, other in zip(ours.infolist(), theirs.infolist()):
        for attribute in ("date_time", "compress_type", "file_size", "CRC", "external_attr", "flag_bits"):
            assert getattr(mine, attribute) == getattr(other, attribute), (mine.filename, attribute)
        assert ours.read(mine) == (tree / mine.filename).read_bytes()


def test_threads_do_not_change_the_bytes(tree: Path):
    members = members_of(tree)
    assert _written(members, 1) == _written(members, 2) == _written(members, 4)


def test_an_empty_archive_is_valid(tmp_path: Path):
    assert zipfile.ZipFile(io.BytesIO(_written([], 2))).namelist() == []


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip is not installed")
def test_unzip_accepts_it(tree: Path, tmp_path: Path):
    target = tmp_path / "p.zip"
    target.write_bytes(_written(members_of(tree) + [Member("again/metadata.json", tree / "metadata.json")], 2))
    assert subprocess.run(["unzip", "-tq", str(target)], capture_output=True).returncode == 0


@pytest.mark.parametrize("margin", [0, 1])
def test_archives_that_would_need_zip64_are_left_to_zipfile(tree: Path, monkeypatch: pytest.MonkeyPatch, margin: int):
    """A small stand-in for the 4 GiB limit: reached before writing (margin 0) or while writing (1:
    the headers push the offset of these incompressible members over it)."""
    import steps.common.zipwrite as zipwrite

    members = [m for m in members_of(tree) if m.store or m.name == "binary.bin"]
    monkeypatch.setattr(zipwrite, "_LIMIT", sum(m.source.stat().st_size for m in members) + margin)
    calls = []
    original = zipwrite._write_with_zipfile
    monkeypatch.setattr(zipwrite, "_write_with_zipfile", lambda *args: calls.append(1) or original(*args))
    archive = zipfile.ZipFile(io.BytesIO(_written(members, 2)))
    assert calls == [1]
    assert archive.testzip() is None and archive.namelist() == [m.name for m in members]
