"""What LitData's ``optimize`` calls for each sample of a stratum being packed.

The function reads the sample from the pool, stores the image in the pack's
integer data type (checking that no value changes) and adds ``sample_id``,
``lon``, ``lat`` and ``stratum``. An error is not raised inside LitData's
worker (its workers then wait for ever): it is written to the error folder, the
sample is skipped and the other samples are skipped quickly; the writer reports
the first error after ``optimize`` returns and keeps the stratum unfinished.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import PoolDataset

__all__ = ["PackSample", "first_error", "image_array"]


def image_array(sample: dict[str, Any]) -> np.ndarray:
    """Return a pool sample's image as a NumPy array.

    Args:
        sample: A pool sample dict.

    Returns:
        The ``image`` as an array of shape (C, H, W).
    """
    image = sample["image"]
    return np.asarray(image.numpy() if hasattr(image, "numpy") else image)


class PackSample:
    """Turn a row number of a stratum's shuffled rows into a packed sample."""

    def __init__(
        self,
        pool: PoolDataset,
        rows: list[tuple[int, str, float, float]],
        stratum: str,
        dtype: str,
        shape: tuple[int, int, int],
        error_dir: str,
        progress: Any,
        failed: Any = None,
    ) -> None:
        """Initialize a new PackSample instance.

        Args:
            pool: The pool to read from.
            rows: ``(pool position, sample_id, lon, lat)`` in pack order.
            stratum: The stratum of every row.
            dtype: Data type to store images in.
            shape: Expected image shape (C, H, W).
            error_dir: Folder receiving one file per failed worker.
            progress: A shared counter (``multiprocessing.Value``) of samples done.
            failed: A shared flag (``multiprocessing.Value``) raised by the first
                error, so that the other samples are skipped without looking
                at the error folder; ``None`` looks at the folder every time.
        """
        self.pool = pool
        self.rows = rows
        self.stratum = stratum
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.error_dir = error_dir
        self.progress = progress
        self.failed = failed

    def _fail(self, message: str) -> None:
        path = Path(self.error_dir, f"{os.getpid()}.txt")
        if not path.exists():
            path.write_text(message, encoding="utf-8")
        if self.failed is not None:
            self.failed.value = 1

    def _where(self, row: int) -> str:
        position, sample_id, _, _ = self.rows[row]
        return (
            f"sample {sample_id!r} (pool position {position}, stratum "
            f"{self.stratum!r}) of pool {self.pool!r}"
        )

    def _stopped(self) -> bool:
        """Whether a sample failed (in any process)."""
        if self.failed is not None:
            return bool(self.failed.value)
        return any(Path(self.error_dir).iterdir())

    def __call__(self, row: int) -> dict[str, Any] | None:
        """Read and convert one sample.

        Args:
            row: Index into :attr:`rows`.

        Returns:
            ``image`` (array of the pack's dtype), ``sample_id``, ``lon``,
            ``lat`` and ``stratum``; ``None`` after an error (recorded).
        """
        if self._stopped():
            return None  # another sample failed: finish quickly
        position, sample_id, lon, lat = self.rows[row]
        try:
            array = image_array(self.pool[position])
        except Exception as err:
            where = self._where(row)
            self._fail(f"cannot read {where}: {type(err).__name__}: {err}")
            return None
        if array.shape != self.shape:
            self._fail(
                f"{self._where(row)} has image shape {tuple(array.shape)}, the pack's first "
                f"sample {self.shape}; every sample of a pack needs one shape (a "
                "ChipFolder resamples chips with size=...)"
            )
            return None
        stored = array.astype(self.dtype)
        if stored.dtype != array.dtype and not np.array_equal(stored, array):
            self._fail(
                f"{self._where(row)} has values that dtype {self.dtype.name} cannot hold "
                "exactly (fractions, NaN or out of range); pack with --dtype "
                "float32, or fix the sample"
            )
            return None
        with self.progress.get_lock():
            self.progress.value += 1
        return {
            "image": stored,
            "sample_id": sample_id,
            "lon": float(lon),
            "lat": float(lat),
            "stratum": self.stratum,
        }


def first_error(error_dir: str) -> str | None:
    """Return the first error recorded by :class:`PackSample`, if any.

    Args:
        error_dir: The error folder.

    Returns:
        The message, or ``None``.
    """
    files = sorted(Path(error_dir).glob("*.txt"))
    return files[0].read_text(encoding="utf-8") if files else None
