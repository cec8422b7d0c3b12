"""A memory-mapped on-disk cache of frozen backbone features.

When every backbone is frozen and the training inputs are deterministic (no
random augmentation), a backbone's features of a sample never change, so they
can be computed once per split and read back each epoch. The cache is
content-addressed:

* each sample is identified by a digest (BLAKE2b, 16 bytes) of its input tensor
  as the model receives it, so shuffling, any datamodule and any dataset work;
* a split's entry is keyed by the backbone fingerprint (configuration and
  weights, :meth:`FeatureFusion.backbone_fingerprint`), the split name and the
  dataset fingerprint (SHA-256 of the sorted sample digests); any change of
  backbones, weights, bands, normalisation or input data gives a new key, i.e.
  invalidates the old entry;
* an entry is a directory ``<root>/<key>/`` holding ``features.npy`` (float32
  ``(N, D)``, opened with ``numpy.load(mmap_mode="r")``), ``digests.npy`` and
  ``meta.json``; it is written to a temporary directory and renamed into place,
  so a crash never leaves a half-written entry. Arrays are read with
  ``allow_pickle=False``; an entry whose files are unreadable or disagree in
  shape is removed with a warning naming the file, and rebuilt.

Limits: the inputs must be deterministic (a sample whose digest is missing is
recomputed, which the tasks report); entries of old keys are not deleted
automatically (remove the directory); features of all backbones of a sample
are stored side by side (``sum(D_b)`` float32 values per sample).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

__all__ = [
    "CachedSplit",
    "FeatureCache",
    "dataset_fingerprint",
    "sample_digests",
    "split_batches",
]


def split_batches(
    datamodule: Any, split: str, device: torch.device | str | None = None
) -> Iterator[dict[str, Any]]:
    """Every sample of a datamodule split once, in order, as the model gets it.

    The split's dataset is read without shuffling and without dropping the last
    batch, batches are moved to ``device`` and passed through the datamodule's
    ``<split>_aug`` (or ``aug``), as Lightning's ``on_after_batch_transfer`` does.

    Args:
        datamodule: A datamodule set up for the split (``<split>_dataloader``).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"predict"``.
        device: Device of the batches; ``None`` leaves them where they are.

    Yields:
        Batches (dicts).
    """
    base = getattr(datamodule, f"{split}_dataloader")()
    loader = DataLoader(
        base.dataset,
        batch_size=base.batch_size or 1,
        shuffle=False,
        num_workers=base.num_workers,
        collate_fn=base.collate_fn,
        drop_last=False,
    )
    aug = getattr(datamodule, f"{split}_aug", None) or getattr(datamodule, "aug", None)
    for batch in loader:
        if device is not None:
            batch = {
                k: v.to(device) if isinstance(v, Tensor) else v
                for k, v in batch.items()
            }
        yield aug(batch) if aug is not None else batch


def sample_digests(images: Tensor) -> list[bytes]:
    """Digest each sample of a batch (its float32 bytes).

    Args:
        images: Batch ``(N, ...)``.

    Returns:
        One 16-byte digest per sample.
    """
    flat = images.detach().to("cpu", torch.float32).contiguous().numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


def dataset_fingerprint(digests: Sequence[bytes]) -> str:
    """SHA-256 of the sorted sample digests (order independent)."""
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d)
    return h.hexdigest()


def _read_npy(path: Path, mmap_mode: Literal["r"] | None = None) -> np.ndarray:
    """Read a ``.npy`` file (never a pickle), naming it in errors."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(
            f"feature cache file {str(path)!r} is not a numeric .npy array: "
            f"{type(err).__name__}: {err}"
        ) from err


def _remove(path: Path) -> None:
    """Move a broken entry aside, then delete it (readers never see half of it)."""
    trash = path.with_name(f".{path.name}.{secrets.token_hex(4)}.broken")
    try:
        os.replace(path, trash)
    except OSError:  # gone already, or removed by another process
        return
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


class CachedSplit:
    """The cached features of one split, memory-mapped."""

    def __init__(self, path: Path) -> None:
        """Open an entry.

        Args:
            path: Entry directory.

        Raises:
            ValueError: If a file of the entry is unreadable or the files do not
                agree (the message names the file and what was expected).
        """
        self.path = path
        meta_path = path / "meta.json"
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
            self.dims: list[int] = [int(d) for d in self.meta["dims"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"feature cache file {str(meta_path)!r} is not the JSON object with "
                f"'dims' that the cache writes: {type(err).__name__}: {err}"
            ) from err
        self.features = _read_npy(path / "features.npy", mmap_mode="r")
        digests = _read_npy(path / "digests.npy")
        n = len(digests)
        for file, array, shape in (
            ("features.npy", self.features, (n, sum(self.dims))),
            ("digests.npy", digests, (n, 16)),
        ):
            if array.shape != shape:
                raise ValueError(
                    f"feature cache file {str(path / file)!r} has shape "
                    f"{array.shape}; expected {shape} (from meta.json and "
                    "digests.npy)"
                )
        self.index = {bytes(d): i for i, d in enumerate(digests)}

    def __len__(self) -> int:
        return len(self.index)

    def lookup(self, digests: Sequence[bytes]) -> tuple[list[Tensor], list[bool]]:
        """Return the cached features of samples.

        Args:
            digests: Sample digests (:func:`sample_digests`).

        Returns:
            Per-backbone feature tensors ``(N, D_b)`` (zeros where missing) and
            whether each sample was found.
        """
        found = [d in self.index for d in digests]
        rows = np.array([self.index.get(d, 0) for d in digests], dtype=np.int64)
        block = torch.from_numpy(np.asarray(self.features[rows], dtype=np.float32))
        return list(block.split(self.dims, dim=1)), found


class FeatureCache:
    """A directory of cached feature entries (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        """Open (and create) the cache directory.

        Args:
            root: Directory.

        Raises:
            ValueError: If the directory cannot be created or written.
        """
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root):
                pass
        except OSError as err:
            raise ValueError(
                f"feature_cache={str(root)!r} is not a writable directory "
                f"({err.strerror or err}); choose a writable path or null"
            ) from err

    @staticmethod
    def key(backbone_fingerprint: str, split: str, dataset_fp: str) -> str:
        """Entry key from the backbone fingerprint, split and dataset fingerprint."""
        text = f"{backbone_fingerprint}:{split}:{dataset_fp}"
        return f"{split}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    def load(self, key: str) -> CachedSplit | None:
        """Open an entry, or ``None`` if it does not exist (a miss).

        An entry whose files are unreadable or disagree is removed with a
        warning naming the file, and counts as a miss (it is rebuilt).
        """
        path = self.root / key
        if not path.exists():
            return None
        try:
            return CachedSplit(path)
        except ValueError as err:
            warnings.warn(
                f"{err}; the entry {str(path)!r} is removed and rebuilt",
                UserWarning,
                stacklevel=2,
            )
            _remove(path)
            return None

    def write(
        self,
        key: str,
        digests: Sequence[bytes],
        features: Sequence[Tensor],
        meta: dict[str, Any],
    ) -> CachedSplit:
        """Write an entry atomically and open it.

        Args:
            key: Entry key.
            digests: Sample digests, one per row.
            features: Per-backbone features ``(N, D_b)``, rows matching digests.
            meta: Extra metadata stored in ``meta.json``.

        Returns:
            The opened entry.
        """
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            dims = [int(f.shape[1]) for f in features]
            n = len(digests)
            array = np.lib.format.open_memmap(
                tmp / "features.npy", mode="w+", dtype=np.float32, shape=(n, sum(dims))
            )
            array[:] = torch.cat(list(features), dim=1).float().cpu().numpy()
            array.flush()
            del array
            codes = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 16)
            np.save(tmp / "digests.npy", codes)
            info = dict(meta, dims=dims, num_samples=n)
            (tmp / "meta.json").write_text(json.dumps(info, indent=2, default=str))
            try:
                os.replace(tmp, self.root / key)
            except OSError:  # another process wrote the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return CachedSplit(self.root / key)
