"""Write a zip archive of files, compressing them on every CPU (zlib works outside the GIL).

`zipfile` compresses member after member in one thread; the pipeline zip is written after the
last fit, when every core is free, so here the members are compressed by a thread pool and then
written in order. The archive is an ordinary one (deflate or stored members, no zip64: larger
archives are left to `zipfile`), with what `zipfile.ZipFile.write` records: the file's
modification time and mode.
"""

from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, List, Sequence, Tuple

_LOCAL = struct.Struct("<4s2B4HL2L2H")  # the local file header of the zip format
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_LIMIT = 0xFFFFFFFF  # beyond this (or 0xFFFF members) the format needs zip64


@dataclass(frozen=True)
class Member:
    name: str  # path inside the archive, with /
    source: Path
    store: bool = False  # already compressed (a zip): stored as is


@dataclass(frozen=True)
class _Packed:
    member: Member
    crc: int
    size: int
    data: bytes
    dos_time: int
    dos_date: int
    mode: int


def write_zip(handle: BinaryIO, members: Sequence[Member], level: int, threads: int) -> None:
    """Write the archive of `members` (in their order) to `handle`."""
    sizes = [os.stat(m.source).st_size for m in members]
    if len(members) >= 0xFFFF or sum(sizes) >= _LIMIT:
        _write_with_zipfile(handle, members, level)
        return
    central: List[bytes] = []
    offset = 0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for item in pool.map(lambda m: _pack(m, level), members):  # in order, each written when ready
            offset = _write_member(handle, item, offset, central)
            if offset < 0:
                handle.seek(0)
                handle.truncate()
                _write_with_zipfile(handle, members, level)
                return
    directory = b"".join(central)
    handle.write(directory)
    handle.write(_END.pack(b"PK\005\006", 0, 0, len(central), len(central), len(directory), offset, 0))


def _write_member(handle: BinaryIO, item: "_Packed", offset: int, central: List[bytes]) -> int:
    """Local header and data at `offset`; the new offset, or -1 when the archive would need zip64."""
    name = item.member.name.encode("utf-8")
    flags = 0x800 if not item.member.name.isascii() else 0
    method = zipfile.ZIP_STORED if item.member.store else zipfile.ZIP_DEFLATED
    if offset + len(item.data) + _LOCAL.size + len(name) >= _LIMIT:
        return -1
    header = _LOCAL.pack(
        b"PK\003\004",
        20,
        0,
        flags,
        method,
        item.dos_time,
        item.dos_date,
        item.crc,
        len(item.data),
        item.size,
        len(name),
        0,
    )
    handle.write(header + name)
    handle.write(item.data)
    central.append(
        _CENTRAL.pack(
            b"PK\001\002",
            20,
            3,
            20,
            0,
            flags,
            method,
            item.dos_time,
            item.dos_date,
            item.crc,
            len(item.data),
            item.size,
            len(name),
            0,
            0,
            0,
            0,
            (item.mode & 0xFFFF) << 16,
            offset,
        )
        + name
    )
    return offset + len(header) + len(name) + len(item.data)


def _pack(member: Member, level: int) -> _Packed:
    data = member.source.read_bytes()
    status = os.stat(member.source)
    year, month, day, hour, minute, second = time.localtime(status.st_mtime)[:6]
    year = min(max(year, 1980), 2107)
    packed = data
    if not member.store:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        packed = compressor.compress(data) + compressor.flush()
    return _Packed(
        member,
        zlib.crc32(data),
        len(data),
        packed,
        (hour << 11) | (minute << 5) | (second // 2),
        ((year - 1980) << 9) | (month << 5) | day,
        status.st_mode,
    )


def _write_with_zipfile(handle: BinaryIO, members: Iterable[Member], level: int) -> None:
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for member in members:
            archive.write(
                member.source,
                member.name,
                compress_type=zipfile.ZIP_STORED if member.store else zipfile.ZIP_DEFLATED,
                compresslevel=None if member.store else level,
            )


def members_of(root: Path, store_suffixes: Tuple[str, ...] = (".zip",)) -> List[Member]:
    """Every file under `root` not under a hidden name, sorted by archive path."""
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    members = [Member(p.relative_to(root).as_posix(), p, p.suffix in store_suffixes) for p in files]
    return sorted(members, key=lambda m: m.name)
