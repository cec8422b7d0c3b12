"""The summary of a pack (``pack.json``) and the marker of an unfinished one.

A pack is a folder (or URL prefix) holding one LitData-optimised dataset per
stratum, in a sub-folder each, and ``pack.json``: the manifest's hash, the pool's
fingerprint, the bands, the data type, the image shape and the count of samples
per stratum. ``pack.json`` is written last, after every stratum is complete, and
removed first when a pack is overwritten: a pack without it is unfinished and is
never streamed. While a pack is written, ``pack.partial.json`` records its plan,
so that running the same ``pack`` again resumes it and another one is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .store import join, read_text

__all__ = [
    "FORMAT",
    "PARTIAL_NAME",
    "SUMMARY_NAME",
    "PackSummary",
    "read_pack_summary",
    "stratum_folders",
]

#: Name of a finished pack's summary file.
SUMMARY_NAME = "pack.json"

#: Name of the plan file of a pack being written (removed when it is finished).
PARTIAL_NAME = "pack.partial.json"

#: Value of the ``format`` field of a pack summary.
FORMAT = "torchgeo-composition-pack/1"


@dataclass(frozen=True)
class PackSummary:
    """What a pack holds; written as ``pack.json`` (see :func:`read_pack_summary`).

    Attributes:
        manifest_sha256: SHA-256 of the manifest rows the pack was written from.
        pool_fingerprint: Fingerprint of the pool the samples were read from.
        pool: Class name of the pool.
        bands: Band names of the images, in channel order.
        dtype: NumPy data type of the stored images (e.g. ``uint16``).
        shape: Image shape (channels, height, width).
        seed: Seed of the sample order within each stratum.
        strata: Stratum -> ``{"folder": sub-folder, "count": samples}``.
        chunk_bytes: Target size of LitData's chunks.
        composition: The manifest's composition (name, kind, weights), if recorded.
        manifest_path: Where the manifest was read from (informative).
        format: :data:`FORMAT`.
    """

    manifest_sha256: str
    pool_fingerprint: str
    pool: str
    bands: tuple[str, ...]
    dtype: str
    shape: tuple[int, int, int]
    seed: int
    strata: dict[str, dict[str, Any]]
    chunk_bytes: str
    composition: dict[str, Any] | None = None
    manifest_path: str = ""
    format: str = field(default=FORMAT)

    @property
    def counts(self) -> dict[str, int]:
        """Number of samples per stratum."""
        return {name: int(info["count"]) for name, info in self.strata.items()}

    @property
    def num_samples(self) -> int:
        """Number of samples in the pack."""
        return sum(self.counts.values())

    def plan(self) -> dict[str, Any]:
        """Return the fields that decide the pack's content (not where it came from).

        Returns:
            Everything but ``manifest_path`` and ``pool`` (the pool's class name;
            its contents are identified by ``pool_fingerprint``).
        """
        data = self.to_dict()
        data.pop("manifest_path")
        data.pop("pool")
        return data

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data.

        Returns:
            A dict of the fields (tuples as lists).
        """
        data = asdict(self)
        data["bands"] = list(self.bands)
        data["shape"] = list(self.shape)
        data["num_samples"] = self.num_samples
        return data

    def to_json(self) -> str:
        """Return the summary as JSON text (sorted keys).

        Returns:
            The text of ``pack.json``.
        """
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> PackSummary:
        """Parse a summary written by :meth:`to_json`.

        Args:
            text: The JSON text.
            source: Where it was read from, for messages.

        Returns:
            The summary.

        Raises:
            ValueError: If the text is not a pack summary.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"pack summary {source!r} is not JSON: {err}") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(
                f"{source!r} is not a pack summary of format {FORMAT!r} (found "
                f"format={data.get('format') if isinstance(data, dict) else None!r});"
                " write the pack with torchgeo-composition pack"
            )
        data.pop("num_samples", None)
        try:
            summary = cls(
                **{**data, "bands": tuple(data["bands"]), "shape": tuple(data["shape"])}
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"pack summary {source!r} is incomplete: {err}") from err
        if not summary.strata or any(
            not isinstance(v, Mapping) or "folder" not in v or "count" not in v
            for v in summary.strata.values()
        ):
            raise ValueError(
                f"pack summary {source!r} lists no stratum, or a stratum without "
                "folder and count"
            )
        return summary


def read_pack_summary(
    input_dir: str, options: dict[str, Any] | None = None
) -> PackSummary:
    """Read and check the summary of a finished pack.

    Args:
        input_dir: The pack's folder or URL.
        options: boto3 client options for a URL.

    Returns:
        The summary.

    Raises:
        FileNotFoundError: If ``input_dir`` holds no finished pack (an
            unfinished one is named as such, with how to finish it).
        ValueError: If the summary is not a pack summary.
        StoreError: If the object store cannot be reached.
    """
    text = read_text(join(input_dir, SUMMARY_NAME), options)
    if text is None:
        partial = read_text(join(input_dir, PARTIAL_NAME), options)
        if partial is not None:
            raise FileNotFoundError(
                f"input_dir {input_dir!r} holds an unfinished pack (it has "
                f"{PARTIAL_NAME} but no {SUMMARY_NAME}: its writing was "
                "interrupted); run the same torchgeo-composition pack command again "
                "to finish it"
            )
        raise FileNotFoundError(
            f"input_dir {input_dir!r} holds no pack ({SUMMARY_NAME} not found); "
            "write one with torchgeo-composition pack"
        )
    return PackSummary.from_json(text, join(input_dir, SUMMARY_NAME))


def stratum_folders(strata: list[str]) -> dict[str, str]:
    """Name a sub-folder for each stratum: safe characters only, unique.

    Args:
        strata: Stratum names.

    Returns:
        Stratum -> folder name (``[A-Za-z0-9_.-]``; a suffix keeps names unique).
    """
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for name in strata:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "stratum"
        folder, n = base, 1
        while folder.lower() in taken:
            n += 1
            folder = f"{base}_{n}"
        taken.add(folder.lower())
        folders[name] = folder
    return folders
