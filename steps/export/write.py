"""Write an export into the model database: stage everything, then swap it in (export.md §6, §9).

Every file is first written beside its final place (the pipeline folder is assembled in
`.<pipeline>.export-<random>`, the version README, pipeline page and zip as temporary files);
only when all of them exist are they renamed into place. Any failure before that removes the
staged files and the folders this export created, so the destination is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from ..common.atomic import staging_dir, swap_dir
from ..common.errors import StepError
from ..common.workspace import ModelDatabase, PipelineLayout, read_json

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same folder always gives the same zip


@dataclass
class ExportContent:
    """The pipeline folder to publish: generated files and byte copies, by path relative to it."""

    files: Dict[Path, bytes] = field(default_factory=dict)
    copies: Dict[Path, Path] = field(default_factory=dict)

    def paths(self) -> List[Path]:
        return sorted(set(self.files) | set(self.copies))


def check_ownership(target: Path, name: Optional[str], init_time: Optional[str]) -> None:
    """An existing target must be an earlier export of this pipeline (the `name` and `init_time` of its
    metadata.json), so that a pipeline of the same folder name is never overwritten."""
    if not target.exists():
        return
    if not target.is_dir():
        raise StepError(f"{target} exists and is not a folder; remove it or export under another pipeline name")
    metadata_path = PipelineLayout(target).metadata
    try:
        metadata = read_json(metadata_path, "exported pipeline metadata")
    except StepError:
        metadata = None
    if not isinstance(metadata, dict):
        raise StepError(f"{target} holds another pipeline (no readable metadata.json); remove it or export "
                        "under another pipeline name")
    if metadata.get("name") != name or metadata.get("init_time") != init_time:
        raise StepError(f"{target} holds another pipeline (init_time {metadata.get('init_time')}); remove it or "
                        "export under another pipeline name")


def zip_folder(folder: Path, archive: Path) -> None:
    """Every file of `folder`, paths relative to it, members sorted, fixed dates."""
    members = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for member in members:
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            out.writestr(info, (folder / member).read_bytes())


def _temp_beside(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(name, 0o644)
    return Path(name)


def _make_dirs(path: Path, created: List[Path]) -> None:
    """mkdir -p, remembering the folders made so a failure can take them away again."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.append(folder)


@dataclass
class Publication:
    """What one export writes besides the pipeline folder."""

    update_version_readme: Callable[[Optional[str]], str]  # old text (None when missing) -> new text
    doc_page: Optional[Callable[[], str]]  # text of the pipeline page, used only when it is absent
    make_zip: bool


def publish(database: ModelDatabase, name: str, owner: Tuple[Optional[str], Optional[str]], content: ExportContent,
            publication: Publication) -> List[Path]:
    """Stage, then commit; returns the paths written. `owner` is the pipeline's (name, init_time).
    StepError (exit 1) on any failure."""
    target = database.pipeline(name).root
    check_ownership(target, *owner)
    created: List[Path] = []
    pending: List[Tuple[Path, Path]] = []  # (temporary file, final place)
    staged: Optional[Path] = None
    try:
        _make_dirs(database.version_dir, created)
        staged = staging_dir(target, "export")
        for relative in content.paths():
            destination = staged / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            if relative in content.files:
                destination.write_bytes(content.files[relative])
            else:
                shutil.copyfile(content.copies[relative], destination)
            os.chmod(destination, 0o644)
        if publication.make_zip:
            archive = database.pipeline_zip(name)
            pending.append((_temp_beside(archive), archive))
            zip_folder(staged, pending[-1][0])
        readme = database.version_readme
        old = _read_existing(readme)
        pending.append((_temp_beside(readme), readme))
        pending[-1][0].write_text(publication.update_version_readme(old), encoding="utf-8")
        page = database.doc_page(name)
        if publication.doc_page is not None and not page.exists():
            _make_dirs(page.parent, created)
            pending.append((_temp_beside(page), page))
            pending[-1][0].write_text(publication.doc_page(), encoding="utf-8")
        swap_dir(staged, target)
    except BaseException as failure:
        _undo(staged, pending, created)
        if isinstance(failure, OSError):
            raise StepError(f"cannot write {failure.filename or target}: {failure.strerror or failure}; "
                            "nothing was changed") from failure
        raise
    written = [target]
    try:
        for temporary, final in pending:
            os.replace(temporary, final)
            written.append(final)
        if not publication.make_zip:
            database.pipeline_zip(name).unlink(missing_ok=True)
    except OSError as failure:
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)
        raise StepError(f"cannot write {failure.filename or target}: {failure.strerror or failure}") from failure
    return written


def _read_existing(path: Path) -> Optional[str]:
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StepError(f"{path} is not UTF-8 text; fix or remove it") from None


def _undo(staged: Optional[Path], pending: List[Tuple[Path, Path]], created: List[Path]) -> None:
    if staged is not None and staged.exists():
        shutil.rmtree(staged, ignore_errors=True)
    for temporary, _ in pending:
        temporary.unlink(missing_ok=True)
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            pass
