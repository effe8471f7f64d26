"""Office Open XML files (DOCX, PPTX) are zips: their declared sizes are checked first.

Before any library inflates a part, the sizes the central directory declares are read, so
a zip bomb is refused without being expanded. Upload checks call this on the spooled file
(only the central directory is read); parsers call it again on the stored bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from app.errors import IngestError

MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200  # deflate rarely beats 100:1 on real documents; bombs reach 1000:1


def check_archive(file: Path | IO[bytes], source: str, *, kind: str, part: str) -> None:
    """IngestError unless `file` is a zip holding `part` whose parts would not expand too far."""
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise IngestError(f"{source!r} is not a valid {kind} file ({exc})") from None
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if total > MAX_UNCOMPRESSED or (total > 10 * 1024 * 1024 and total / packed > MAX_RATIO):
        raise IngestError(
            f"{source!r} expands to {total // (1024 * 1024)} MB when unpacked, "
            "more than a document needs; it may be a zip bomb"
        )
    if part not in {info.filename for info in infos}:
        raise IngestError(f"{source!r} is not a {kind} file (no {part})")


def upload_check(kind: str, part: str, code: str) -> Callable[[Path, str], None]:
    """A Format.check for a zipped format: the archive check, answered as 422 `code`."""

    def check(path: Path, filename: str) -> None:
        try:
            check_archive(path, filename, kind=kind, part=part)
        except IngestError as exc:
            raise IngestError(str(exc), code=code) from None

    return check
