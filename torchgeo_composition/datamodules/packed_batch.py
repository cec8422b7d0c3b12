"""Read a pack's samples with one copy per chip: views in, one batch out.

LitData maps a pack's chunks into memory. Its own array deserialiser copies each
image out of the chunk, and the default collate copies it again into the batch.
Here an image is read as a read-only NumPy view of the mapped chunk
(:class:`ArrayView`), and :class:`PackedCollate` copies the views once, straight
into the batch tensor (in shared memory inside a loader worker, as PyTorch's
default collate does), taking the chosen channels on the way. A pack's samples
all have one layout, so :class:`PyTreeLoader` decodes them in one step instead
of LitData's generic walk over the leaves.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import torch
from litdata import StreamingDataset
from litdata.constants import _NUMPY_DTYPES_MAPPING
from litdata.streaming import item_loader as _litdata_loader
from litdata.streaming.serializers import NumpySerializer
from torch.utils.data import get_worker_info

__all__ = ["ArrayView", "PackedCollate", "PackedStreamingDataset", "PyTreeLoader"]

_HEADER = struct.Struct("<II")

#: The leaves of a packed sample, in LitData's order, and their formats.
_LAYOUT = (
    ("image", "numpy"),
    ("sample_id", "str"),
    ("lon", "float"),
    ("lat", "float"),
    ("stratum", "str"),
)


class ArrayView(NumpySerializer):
    """LitData's ``numpy`` serializer, reading without a copy.

    Writing is LitData's own (the format is unchanged); reading returns a
    read-only view of the item's bytes, valid while the loader holds the chunk
    (until the batch is collated).
    """

    def deserialize(self, data: bytes | memoryview) -> np.ndarray:
        """Return the array stored in ``data`` as a view.

        Args:
            data: One item's bytes: dtype code, number of dimensions, the
                dimensions (uint32 each) and the raw values.

        Returns:
            A read-only array viewing ``data``.
        """
        return _view(data, 0)


def _view(data: bytes | memoryview, offset: int) -> np.ndarray:
    code, ndim = _HEADER.unpack_from(data, offset)
    shape = struct.unpack_from(f"<{ndim}I", data, offset + 8)
    dtype = _NUMPY_DTYPES_MAPPING[code]
    start = offset + 8 + 4 * ndim
    return np.frombuffer(data, dtype, math.prod(shape), start).reshape(shape)


class PyTreeLoader(_litdata_loader.PyTreeLoader):
    """LitData's item loader, decoding a pack's samples in one step.

    It keeps LitData's name (LitData checks the loader's class name against the
    dataset's ``index.json``) and falls back to LitData's decoding for any other
    layout. A sample is ``image`` (a read-only view, see :class:`ArrayView`),
    ``sample_id``, ``lon``, ``lat`` and ``stratum``.
    """

    def setup(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Prepare the loader for a dataset (LitData's ``setup``).

        Args:
            config: The dataset's ``index.json`` config.
            *args: LitData's further arguments.
            **kwargs: LitData's further keyword arguments.
        """
        super().setup(config, *args, **kwargs)
        spec = self._data_spec
        keys = list(getattr(spec, "context", None) or [])
        self._packed = keys == [k for k, _ in _LAYOUT] and list(
            config["data_format"]
        ) == [f for _, f in _LAYOUT]

    def deserialize(self, raw_item_data: bytes | memoryview) -> Any:
        """Decode one sample.

        Args:
            raw_item_data: The sample's bytes in the chunk.

        Returns:
            The sample dict.
        """
        if not getattr(self, "_packed", False):
            return super().deserialize(raw_item_data)
        data = raw_item_data
        s_image, s_id, s_lon, s_lat, s_stratum = self._sizes_struct.unpack_from(data, 0)
        if s_lon != 8 or s_lat != 8:
            return super().deserialize(raw_item_data)
        at = 20 + s_image
        lon, lat = struct.unpack_from("<dd", data, at + s_id)
        end = at + s_id + 16
        return {
            "image": _view(data, 20),
            "sample_id": bytes(data[at : at + s_id]).decode(),
            "lon": lon,
            "lat": lat,
            "stratum": bytes(data[end : end + s_stratum]).decode(),
        }


class PackedStreamingDataset(StreamingDataset):
    """LitData's ``StreamingDataset`` over one stratum of a pack, read fast.

    Images are read as views (:class:`ArrayView`) and samples decoded in one step
    (:class:`PyTreeLoader`, a fresh one for every cache LitData opens, as LitData
    does with its own), one at a time (``batch_decode=1``: LitData's decode window
    would decode a chip's neighbours again on every shuffled read).
    """

    def __init__(self, input_dir: str, **kwargs: Any) -> None:
        """Initialize a new PackedStreamingDataset instance.

        Args:
            input_dir: The stratum's folder or URL.
            **kwargs: ``StreamingDataset``'s other arguments.
        """
        super().__init__(
            input_dir,
            serializers={"numpy": ArrayView()},
            item_loader=PyTreeLoader(batch_decode=1),
            batch_decode=1,
            **kwargs,
        )

    def _create_cache(self, worker_env: Any) -> Any:
        # a loader keeps the state of the chunk it reads: never share it
        self.item_loader = PyTreeLoader(batch_decode=1)
        return super()._create_cache(worker_env)


def _batch_tensor(shape: tuple[int, ...], dtype: np.dtype[Any]) -> torch.Tensor:
    """An uninitialised tensor; in shared memory inside a loader worker."""
    if get_worker_info() is None:
        # NumPy's allocator asks for huge pages: far fewer page faults than torch's
        return torch.from_numpy(np.empty(shape, dtype))
    torch_dtype = torch.from_numpy(np.empty(0, dtype)).dtype
    nbytes = int(np.prod(shape)) * dtype.itemsize
    storage = torch.UntypedStorage._new_shared(nbytes)
    return torch.empty(0, dtype=torch_dtype).set_(storage).view(shape)


class PackedCollate:
    """Collate packed samples into the datamodules' batch dict.

    ``image`` (B, C, H, W) in the pack's integer type with the chosen channels
    (one copy per chip), ``lon`` and ``lat`` (B,) float32 and ``continent`` a
    list of B strata.
    """

    def __init__(self, channels: list[int] | None) -> None:
        """Initialize a new PackedCollate instance.

        Args:
            channels: Channels to keep, in order; ``None`` keeps all.
        """
        self.channels = None if channels is None else np.asarray(channels, np.intp)

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Build one batch.

        Args:
            items: Samples as written by ``pack`` (``image`` read through
                :class:`ArrayView`, ``lon``, ``lat``, ``stratum``).

        Returns:
            ``image``, ``lon``, ``lat`` and ``continent``.
        """
        first = np.asarray(items[0]["image"])
        bands = first.shape[0] if self.channels is None else len(self.channels)
        out = _batch_tensor((len(items), bands, *first.shape[1:]), first.dtype)
        target = out.numpy()
        if self.channels is None:
            np.stack([item["image"] for item in items], out=target)
        else:
            for i, item in enumerate(items):
                np.take(item["image"], self.channels, axis=0, out=target[i])
        return {
            "image": out,
            "lon": torch.tensor([item["lon"] for item in items], dtype=torch.float32),
            "lat": torch.tensor([item["lat"] for item in items], dtype=torch.float32),
            "continent": [str(item["stratum"]) for item in items],
        }
