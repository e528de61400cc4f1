"""Write an export into the model database: stage everything, then swap it in (export.md §6, §9).

Everything is first written into a staging folder `.<pipeline>.export-<random>` in the version
folder: the pipeline folder, its zip, the new version README and the pipeline page. Only when
all of them exist are they put in place, as one unit (steps/common/publish.py). Any failure or
signal before that removes the staged files and the folders this export created, so the model
database is left as it was; a crash during the commit is finished by the next export.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from ..common.atomic import atomic_path, file_mode, write_bytes, write_text
from ..common.errors import StepError, WriteFailure
from ..common.publish import Staging, recover
from ..common.signals import Interrupted, mark_outcome
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
        raise StepError(
            f"{target} holds another pipeline (no readable metadata.json); remove it or export "
            "under another pipeline name"
        )
    if metadata.get("name") != name or metadata.get("init_time") != init_time:
        raise StepError(
            f"{target} holds another pipeline (init_time {metadata.get('init_time')}); remove it or "
            "export under another pipeline name"
        )


def zip_folder(folder: Path, archive: Path) -> None:
    """Every file of `folder`, paths relative to it, members sorted, fixed dates."""
    members = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for member in members:
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = file_mode() << 16
            out.writestr(info, (folder / member).read_bytes())


def _make_dirs(path: Path, created: List[Path]) -> None:
    """mkdir -p, remembering the folders made so a failure can take them away again."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
    except OSError as failure:
        raise WriteFailure.of(failure, failure.filename or path) from None


@dataclass
class Publication:
    """What one export writes besides the pipeline folder."""

    update_version_readme: Callable[[Optional[str]], str]  # old text (None when missing) -> new text
    doc_page: Optional[Callable[[], str]]  # text of the pipeline page, used only when it is absent
    make_zip: bool


def _read_source(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as failure:
        raise StepError(f"cannot read {path}: {failure.strerror or failure}") from None


def _stage(
    staging: Staging, database: ModelDatabase, name: str, content: ExportContent, publication: Publication
) -> List[Tuple[Optional[Path], Path]]:
    """Write everything into `staging`; the (staged, final) moves of the commit (None: remove)."""
    folder = staging.path(name)
    folder.mkdir()
    for relative in content.paths():
        data = content.files[relative] if relative in content.files else _read_source(content.copies[relative])
        write_bytes(folder / relative, data)
    moves: List[Tuple[Optional[Path], Path]] = [(folder, database.pipeline(name).root)]
    archive = database.pipeline_zip(name)
    if publication.make_zip:
        staged_zip = staging.path(archive.name)
        with atomic_path(staged_zip) as tmp:
            zip_folder(folder, tmp)
        moves.append((staged_zip, archive))
    elif os.path.lexists(archive):
        moves.append((None, archive))
    readme = staging.path("README.md")
    write_text(readme, publication.update_version_readme(_read_existing(database.version_readme)))
    moves.append((readme, database.version_readme))
    page = database.doc_page(name)
    if publication.doc_page is not None and not page.exists():
        staged_page = staging.path("doc-page.md")
        staging.aliases[staged_page.name] = str(page.relative_to(staging.parent))
        write_text(staged_page, publication.doc_page())
        moves.append((staged_page, page))
    return moves


def publish(
    database: ModelDatabase,
    name: str,
    owner: Tuple[Optional[str], Optional[str]],
    content: ExportContent,
    publication: Publication,
) -> List[Path]:
    """Stage everything, then commit it as one unit (steps/common/publish.py); returns the paths written.
    `owner` is the pipeline's (name, init_time). StepError (exit 1) on any failure, with the model
    database as it was."""
    target = database.pipeline(name).root
    check_ownership(target, *owner)
    created: List[Path] = []
    staging = Staging(database.version_dir, f"{name}.export")
    try:
        _make_dirs(database.version_dir, created)
        recover(database.version_dir, f"{name}.export")
        with staging:
            try:
                moves = _stage(staging, database, name, content, publication)
            except WriteFailure as failure:
                raise failure.relocated(staging.public(Path(str(failure.path)))) from None
            except OSError as failure:
                raise WriteFailure.of(failure).relocated(staging.public(Path(failure.filename or target))) from None
            staging.commit(moves)
    except WriteFailure as failure:
        _remove_created(created)
        raise StepError(f"{failure}; nothing was changed") from None
    except Interrupted as stop:
        _remove_created(created)
        mark_outcome(stop, f"{target} unchanged")
        raise
    except BaseException:
        _remove_created(created)
        raise
    return [final for staged, final in moves if staged is not None]


def _read_existing(path: Path) -> Optional[str]:
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StepError(f"{path} is not UTF-8 text; fix or remove it") from None
    except OSError as failure:
        raise StepError(f"cannot read {path}: {failure.strerror or failure}") from None


def _remove_created(created: List[Path]) -> None:
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            pass
