"""Write a pack: one LitData-optimised dataset per stratum of a manifest.

:func:`pack` reads the manifest's samples from their pool and writes each stratum
with :func:`litdata.optimize` (``num_workers`` processes, samples in a seeded
random order, images in their integer data type), to a folder or an object-store
URL. The pack's summary (``pack.json``) is written last; ``pack.partial.json``
marks the pack while it is written, so that the same command run again resumes
it (finished strata are kept, an unfinished one is written again) and another
command is refused.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import re
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from tqdm.auto import tqdm

from ..datasets import PoolDataset
from ..files import file_lock
from ..sampling import UNASSIGNED, check_manifest_matches, read_manifest
from . import store
from .sample import PackSample, first_error, image_array
from .summary import (
    PARTIAL_NAME,
    SUMMARY_NAME,
    PackSummary,
    read_pack_summary,
    stratum_folders,
)

__all__ = ["DTYPES", "PackDtype", "PackResult", "pack", "stratum_count"]

#: What ``dtype`` may be: ``auto`` keeps the pool's integer type (see :func:`pack`).
PackDtype = Literal["auto", "uint8", "uint16", "int16", "int32", "float32"]

#: Valid values of ``dtype``.
DTYPES: tuple[str, ...] = get_args(PackDtype)


@dataclass
class PackResult:
    """What :func:`pack` did.

    Attributes:
        output_dir: The pack's folder or URL.
        summary: The pack's summary.
        written: Strata written by this run.
        kept: Strata found finished and kept (a resumed run).
    """

    output_dir: str
    summary: PackSummary
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _infer_dtype(array: np.ndarray) -> str:
    """Return the integer type holding ``array`` exactly, else ``float32``."""
    if array.size and np.isfinite(array).all() and (np.round(array) == array).all():
        low, high = float(array.min()), float(array.max())
        for name in ("uint16", "int16", "int32"):
            info = np.iinfo(name)
            if info.min <= low and high <= info.max:
                return name
    return "float32"


def stratum_count(location: str, options: dict[str, Any] | None = None) -> int | None:
    """Return the number of samples of a finished LitData dataset.

    Args:
        location: The dataset's folder or URL.
        options: boto3 client options for a URL.

    Returns:
        The number of samples in its ``index.json``, or ``None`` without one.
    """
    import json

    text = store.read_text(store.join(location, "index.json"), options)
    if text is None:
        return None
    return sum(int(chunk["chunk_size"]) for chunk in json.loads(text)["chunks"])


@contextlib.contextmanager
def _private_cache() -> Iterator[None]:
    """Give LitData's writer a cache folder of its own (it empties its cache)."""
    keys = ("DATA_OPTIMIZER_CACHE_FOLDER", "DATA_OPTIMIZER_DATA_CACHE_FOLDER")
    saved = {key: os.environ.get(key) for key in keys}
    with tempfile.TemporaryDirectory(prefix="tgc-pack-") as tmp:
        os.environ[keys[0]] = os.path.join(tmp, "chunks")
        os.environ[keys[1]] = os.path.join(tmp, "data")
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class _Progress:
    """A counter shared with the writer's processes, shown as a progress bar."""

    def __init__(self, total: int, done: int, show: bool) -> None:
        context = mp.get_context(_start_method())
        self.counter = context.Value("q", 0)
        self.failed = context.Value("b", 0)
        self.offset = done
        self.bar = tqdm(
            total=total, initial=done, desc="pack", unit="chip", disable=not show
        )

    def show(self) -> None:
        self.bar.n = self.offset + self.counter.value
        self.bar.refresh()

    def finished(self, done: int) -> None:
        """Show ``done`` samples after a stratum (resumed ones included)."""
        self.offset = done - self.counter.value
        self.show()


@contextlib.contextmanager
def _progress_bar(total: int, done: int, show: bool) -> Iterator[_Progress]:
    """Yield a :class:`_Progress`; a thread refreshes its bar."""
    progress = _Progress(total, done, show)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            progress.show()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield progress
    finally:
        stop.set()
        thread.join()
        progress.bar.close()


def _start_method() -> str:
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def _plan(
    pool: PoolDataset, manifest_path: str, seed: int, dtype: str, chunk_bytes: str
) -> tuple[PackSummary, dict[str, list[tuple[int, str, float, float]]]]:
    """Read the manifest, check it against the pool and order each stratum."""
    manifest, msummary = read_manifest(manifest_path)
    check_manifest_matches(msummary, pool.fingerprint(), source=manifest_path)
    if not len(manifest):
        raise ValueError(f"manifest_path {manifest_path!r} lists no sample")
    labels = [
        UNASSIGNED if s is None or s != s or s == "nan" else str(s)
        for s in manifest["stratum"]
    ]
    positions = pool.positions(manifest["sample_id"].tolist())
    rows = list(
        zip(
            positions,
            manifest["sample_id"].astype(str),
            manifest["lon"].astype(float),
            manifest["lat"].astype(float),
            strict=True,
        )
    )
    by_stratum: dict[str, list[tuple[int, str, float, float]]] = {}
    for label, row in zip(labels, rows, strict=True):
        by_stratum.setdefault(label, []).append(row)
    ordered: dict[str, list[tuple[int, str, float, float]]] = {}
    for name in sorted(by_stratum):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        members = by_stratum[name]
        ordered[name] = [members[i] for i in rng.permutation(len(members))]
    first = image_array(pool[ordered[next(iter(ordered))][0][0]])
    if first.ndim != 3:
        raise ValueError(
            f"pool {pool!r} gives images of shape {first.shape}; a pack needs "
            "(bands, height, width)"
        )
    folders = stratum_folders(list(ordered))
    summary = PackSummary(
        manifest_sha256=str(msummary.get("manifest_sha256")),
        pool_fingerprint=pool.fingerprint(),
        pool=type(pool).__name__,
        bands=tuple(pool.bands),
        dtype=_infer_dtype(first) if dtype == "auto" else dtype,
        shape=(int(first.shape[0]), int(first.shape[1]), int(first.shape[2])),
        seed=seed,
        strata={
            name: {"folder": folders[name], "count": len(members)}
            for name, members in ordered.items()
        },
        chunk_bytes=chunk_bytes,
        composition=msummary.get("composition"),
        manifest_path=str(manifest_path),
    )
    return summary, ordered


def _prepare_output(
    output_dir: str, summary: PackSummary, overwrite: bool, options: dict[str, Any]
) -> bool:
    """Check what ``output_dir`` holds; return True when the pack is already done."""
    done = store.read_text(store.join(output_dir, SUMMARY_NAME), options)
    partial = store.read_text(store.join(output_dir, PARTIAL_NAME), options)
    if done is not None:
        found = PackSummary.from_json(done, store.join(output_dir, SUMMARY_NAME))
        if found.plan() == summary.plan() and not overwrite:
            return True
    elif partial is not None:
        found = PackSummary.from_json(partial, store.join(output_dir, PARTIAL_NAME))
    elif store.tree_is_empty(output_dir, options):
        return False
    else:
        raise ValueError(
            f"output_dir {output_dir!r} is not empty and holds no pack; give an "
            "empty or new folder (nothing there was changed)"
        )
    if found.plan() != summary.plan() and not overwrite:
        state = "a finished" if done is not None else "an unfinished"
        diffs = [
            key
            for key, value in summary.plan().items()
            if found.plan().get(key) != value
        ]
        raise ValueError(
            f"output_dir {output_dir!r} holds {state} pack of another manifest, "
            f"pool or settings (differs in {diffs}); give --overwrite true to "
            "replace it, or another output_dir"
        )
    if overwrite:
        # the summary goes first: a half-removed pack is never taken as finished
        store.remove_file(store.join(output_dir, SUMMARY_NAME), options)
        store.remove_tree(output_dir, options)
    return False


def _write_stratum(
    job: PackSample, location: str, workers: int, chunk_bytes: str, options: Any
) -> None:
    """Write one stratum with LitData, from scratch (an unfinished one is removed).

    LitData's own checkpoints (``use_checkpoint``) can repeat samples when a
    writer is killed between a chunk and its checkpoint, so an unfinished
    stratum is written again as a whole.
    """
    from litdata import optimize

    store.remove_tree(location, options)
    with _private_cache():
        optimize(
            job,
            list(range(len(job.rows))),
            output_dir=location,
            chunk_bytes=chunk_bytes,
            num_workers=min(workers, len(job.rows)),
            start_method=_start_method(),
            keep_data_ordered=True,
            reorder_files=False,
            verbose=False,
            storage_options=options,
        )


def pack(
    pool: PoolDataset,
    manifest_path: str,
    output_dir: str,
    num_workers: int = 1,
    overwrite: bool = False,
    seed: int = 0,
    dtype: PackDtype = "auto",
    chunk_bytes: str = "64MB",
    progress: bool = True,
) -> PackResult:
    """Write a manifest's samples as one LitData-optimised dataset per stratum.

    Each stratum goes to ``<output_dir>/<stratum>/`` with its samples in a random
    order drawn from ``seed`` (LitData shuffles chunks, not samples across
    chunks, so the order on disk must already be random). A sample holds
    ``image`` (C, H, W) in ``dtype``, ``sample_id``, ``lon``, ``lat`` and
    ``stratum``. ``pack.json`` (see :class:`PackSummary`) is written last.

    Running the same call again after an interruption resumes: finished strata
    are kept and an unfinished one is written again. A finished pack of the same
    manifest, pool and settings is left as it is.

    Args:
        pool: The pool the manifest was drawn from.
        manifest_path: Manifest written by ``compose`` (``.parquet``/``.csv``).
        output_dir: Folder or object-store URL (``s3://bucket/prefix``).
        num_workers: Processes reading and writing samples.
        overwrite: Replace a pack of another manifest, pool or settings (or
            rewrite this one).
        seed: Seed of the sample order within each stratum.
        dtype: Data type of the stored images; ``auto`` keeps integers as the
            smallest of ``uint16``, ``int16``, ``int32`` holding the first
            image exactly (else ``float32``). Every image must convert exactly.
        chunk_bytes: LitData chunk size (e.g. ``64MB``).
        progress: Show a progress bar.

    Returns:
        What was written and the pack's summary.

    Raises:
        ValueError: If an argument is invalid, the manifest does not belong to
            the pool, ``output_dir`` holds something else, or a sample cannot be
            read or stored (the message names it; nothing unfinished is taken
            for finished).
        StoreError: If the object store cannot be reached or refuses a write.
    """
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not valid; valid choices are {DTYPES}")
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMG]?B", chunk_bytes.strip(), re.IGNORECASE):
        raise ValueError(
            f"chunk_bytes {chunk_bytes!r} is not a size; give e.g. '64MB' or '256KB'"
        )
    options = store.storage_options()
    store.allow_http_endpoint(options)
    summary, ordered = _plan(pool, manifest_path, seed, dtype, chunk_bytes)
    lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if not store.is_remote(output_dir):
        os.makedirs(output_dir, exist_ok=True)
        lock = file_lock(output_dir, "pack", timeout=0)
    with lock:
        result = PackResult(output_dir, summary)
        if _prepare_output(output_dir, summary, overwrite, options):
            result.kept = list(summary.strata)
            return result
        partial = store.join(output_dir, PARTIAL_NAME)
        store.write_remote_text(partial, summary.to_json(), options)
        counts = summary.counts
        todo = {
            name: store.join(output_dir, str(info["folder"]))
            for name, info in summary.strata.items()
        }
        for name, location in list(todo.items()):
            if stratum_count(location, options) == counts[name]:
                result.kept.append(name)
                del todo[name]
        done = sum(counts[name] for name in result.kept)
        with (
            _progress_bar(summary.num_samples, done, progress) as bar,
            tempfile.TemporaryDirectory(prefix="tgc-pack-errors-") as errors,
        ):
            for name, location in todo.items():
                job = PackSample(
                    pool, ordered[name], name, summary.dtype, summary.shape,
                    errors, bar.counter, bar.failed,
                )  # fmt: skip
                _write_stratum(job, location, num_workers, chunk_bytes, options)
                message = first_error(errors)
                if message is not None:
                    store.remove_tree(location, options)
                    raise ValueError(
                        f"{message}. Stratum {name!r} was not kept; finished strata "
                        "stay, and the same command resumes after the fix"
                    )
                written = stratum_count(location, options)
                if written != counts[name]:
                    raise ValueError(
                        f"stratum {name!r} at {location!r} holds {written} samples "
                        f"after writing, expected {counts[name]}; run the command "
                        "again to write it anew"
                    )
                result.written.append(name)
                done += counts[name]
                bar.finished(done)
        store.write_remote_text(
            store.join(output_dir, SUMMARY_NAME), summary.to_json(), options
        )
        store.remove_file(partial, options)
    read_pack_summary(output_dir, options)
    return result
