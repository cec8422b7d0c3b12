"""Major TOM part files: the name in a URL, the local copy under a root, an open part."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import pyarrow.parquet as pq

__all__ = ["PartFile", "file_name", "pick_local"]


class PartFile:
    """An open part file: the Parquet reader and, for a remote part, its file."""

    def __init__(self, reader: pq.ParquetFile, file: Any = None) -> None:
        """Initialize a new PartFile instance.

        Args:
            reader: The part's Parquet reader.
            file: The remote file it reads from, closed with it.
        """
        self.reader = reader
        self.file = file

    def close(self) -> None:
        """Close the reader and the remote file."""
        self.reader.close()
        if self.file is not None:
            self.file.close()


def file_name(url: str) -> str:
    """The file name at the end of a URL (or path).

    Args:
        url: A URL or a path.

    Returns:
        Its last component.
    """
    return PurePosixPath(urlparse(url).path).name


def pick_local(url: str, local: dict[str, list[str]]) -> str | None:
    """The local copy of a part file, if any.

    Args:
        url: The part's URL (``parquet_url``).
        local: Local files by name: every path of each file name under the root.

    Returns:
        The only local file of the URL's file name, or, when several have it,
        the one whose path ends like the URL's; ``None`` without one.
    """
    path = PurePosixPath(urlparse(url).path)
    candidates = local.get(path.name, [])
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    best = max(candidates, key=lambda c: _common_tail(Path(c).parts, path.parts))
    return best


def _common_tail(a: Sequence[str], b: Sequence[str]) -> int:
    """Number of trailing path components two paths share."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n
