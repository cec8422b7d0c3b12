"""Read checkpoint files without running code from them.

Every checkpoint the package reads goes through :func:`load_checkpoint`: the file
is checked first (it exists, is a file, is not empty, is a ``torch.save`` zip
archive or a legacy ``torch.save`` file), then loaded with
``torch.load(weights_only=True)``, which builds tensors, plain containers and
numbers only. On top of those, exactly the types that released checkpoints hold
are allowed, for the duration of the load only (:data:`SAFE_GLOBALS`):

* ``argparse.Namespace``: the ``args`` entry of SatMAE's and MAE's checkpoints
  (``{"model", "optimizer", "epoch", "scaler", "args"}``);
* numpy scalars and dtypes (``numpy.core.multiarray.scalar``, ``numpy.dtype``),
  which training scripts leave in their arguments and metrics;
* ``pathlib.PosixPath`` / ``pathlib.WindowsPath``: task hyperparameters given
  as paths when a task is built in Python.

A file holding any other type is refused with an :class:`UnsafeCheckpointError`
naming the file and the types; nothing in it is run. Any other problem (a text
file, an empty file, a directory, a truncated archive) is a ``ValueError`` that
names the file and what was expected; a missing file is a ``FileNotFoundError``.
There is no fallback to an unrestricted load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import pickle
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "SAFE_GLOBALS",
    "UnsafeCheckpointError",
    "check_checkpoint",
    "check_checkpoint_file",
    "check_state_fits",
    "checkpoint_globals",
    "load_checkpoint",
    "preview",
]

_SafeGlobal = Callable[..., Any] | tuple[Callable[..., Any], str]


def _aliased(obj: Callable[..., Any], *names: str) -> list[_SafeGlobal]:
    """``obj`` under each name that pickles written elsewhere may use for it."""
    version = tuple(int(p) for p in torch.__version__.split(".")[:2])
    if version < (2, 6):  # named entries arrived in torch 2.6
        return [obj]
    return [(obj, name) for name in names]


def _numpy_globals() -> list[_SafeGlobal]:
    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    scalar = core.multiarray.scalar
    # dtype objects are instances of per-type classes (numpy.dtypes.Float64DType)
    dtypes = [type(np.dtype(code)) for code in "?bhilqBHILQefdgFDG"]
    return [
        *_aliased(
            scalar, "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"
        ),
        np.dtype,
        *dtypes,
    ]


#: Types allowed in a checkpoint beyond tensors, plain containers and numbers:
#: ``argparse.Namespace``, numpy scalars and dtypes, ``pathlib`` concrete paths
#: (under the names numpy 1 and 2, and Python before and after 3.13, pickle them).
SAFE_GLOBALS: tuple[_SafeGlobal, ...] = (
    argparse.Namespace,
    *_numpy_globals(),
    *_aliased(pathlib.PosixPath, "pathlib.PosixPath", "pathlib._local.PosixPath"),
    *_aliased(pathlib.WindowsPath, "pathlib.WindowsPath", "pathlib._local.WindowsPath"),
)

#: What the refusal message lists as allowed.
_ALLOWED_TEXT = (
    "tensors, plain containers, numbers, strings, argparse.Namespace, numpy "
    "scalars and dtypes, pathlib.PosixPath and pathlib.WindowsPath"
)

#: The first bytes of a legacy (pre-zip) ``torch.save`` file: its magic number.
_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."

_EXPECTED = "expected a torch.save zip file"


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds types that loading it would have to run.

    Attributes:
        path: The file.
        globals: The refused types (``module.name``).
    """

    def __init__(self, message: str, path: str, refused: Iterable[str]) -> None:
        """Initialize a new UnsafeCheckpointError instance.

        Args:
            message: The error message.
            path: The file.
            refused: The refused types (``module.name``).
        """
        super().__init__(message)
        self.path = path
        self.globals = tuple(refused)


def preview(items: Iterable[Any], limit: int = 5) -> str:
    """List the first ``limit`` items and count the rest, for error messages.

    Args:
        items: The items (shown with ``repr``).
        limit: How many to show.

    Returns:
        E.g. ``"['a', 'b'] and 3 more"``.
    """
    items = list(items)
    head = repr(items[:limit])
    return head if len(items) <= limit else f"{head} and {len(items) - limit} more"


def _entry_names(entries: Iterable[_SafeGlobal]) -> set[str]:
    names = set()
    for entry in entries:
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f"{entry.__module__}.{entry.__qualname__}")
    return names


@contextlib.contextmanager
def checkpoint_globals() -> Iterator[None]:
    """Allow :data:`SAFE_GLOBALS` in ``weights_only`` loads inside the block.

    Use it around a library's own ``torch.load(weights_only=True)`` (e.g.
    Lightning's ``load_from_checkpoint``). Types the user allowed before with
    :func:`torch.serialization.add_safe_globals` stay allowed afterwards.

    Yields:
        Nothing.
    """
    before = _entry_names(torch.serialization.get_safe_globals())
    added = [g for g in SAFE_GLOBALS if not _entry_names([g]) & before]
    with torch.serialization.safe_globals(added):
        yield


def _looks_like(head: bytes) -> str:
    if head.startswith(b"\x80") or head.startswith(b"(dp"):
        return "it is a plain pickle, not written by torch.save"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it is a binary file starting with {head[:16]!r}"
    first = text.strip().splitlines()[0][:40] if text.strip() else ""
    return f"it is a text file starting with {first!r}"


def check_checkpoint_file(
    path: str | os.PathLike[str], what: str = "checkpoint"
) -> pathlib.Path:
    """Check that ``path`` is a ``torch.save`` file, without unpickling it.

    Args:
        path: The file.
        what: How the messages name the file (e.g. ``"init_checkpoint"``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: If the path does not exist.
        ValueError: If it is a directory, empty, truncated or not written by
            ``torch.save``; the message names the file and what was expected.
    """
    p = pathlib.Path(path)
    label = f"{what} {str(p)!r}"
    if not p.exists():
        raise FileNotFoundError(f"{label} does not exist")
    if p.is_dir():
        raise ValueError(f"{label} is a directory; {_EXPECTED} (.pth / .ckpt)")
    try:
        with p.open("rb") as f:
            head = f.read(512)
        is_zip = zipfile.is_zipfile(p)
    except OSError as err:
        raise ValueError(f"{label} cannot be read: {err.strerror or err}") from err
    reason = None
    if not head:
        reason = "the file is empty"
    elif head.startswith(b"PK\x03\x04") and not is_zip:
        reason = "the zip archive is truncated or corrupt (an interrupted copy?)"
    elif not is_zip and not head.startswith(_LEGACY_MAGIC):
        reason = _looks_like(head)
    if reason is not None:
        raise ValueError(f"{label} is not a PyTorch checkpoint ({_EXPECTED}): {reason}")
    return p


def _allowed_names() -> set[str]:
    user = torch.serialization.get_safe_globals()
    return _entry_names(SAFE_GLOBALS) | _entry_names(user)


def _refused_globals(path: pathlib.Path, err: Exception) -> list[str]:
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # legacy files: read the name from torch's message
        found = []
    refused = [name for name in found if name not in _allowed_names()]
    if not refused:
        for marker in ("GLOBAL ", "unrecognized function ", "but got <class '"):
            _, hit, rest = str(err).partition(marker)
            if hit:
                refused = [rest.split()[0].rstrip(".,'>")]
                break
    return refused


def _unpickler_reason(err: BaseException) -> str:
    """The line of torch's weights-only message that says what went wrong."""
    _, hit, rest = str(err).partition("WeightsUnpickler error:")
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    return lines[0] if hit and lines else _first_line(err)


def _unsafe(label: str, path: pathlib.Path, refused: list[str]) -> ValueError:
    verb = "is" if len(refused) == 1 else "are"
    return UnsafeCheckpointError(
        f"{label} was refused: it holds {', '.join(refused)}, which {verb} not "
        f"allowed in checkpoints (allowed: {_ALLOWED_TEXT}); nothing in it was "
        "run. If you trust the file, re-save its state dict or allow the type "
        "with torch.serialization.add_safe_globals (see 'Loading checkpoints "
        "safely' in the docs)",
        str(path),
        refused,
    )


def check_checkpoint(
    path: str | os.PathLike[str], what: str = "checkpoint"
) -> pathlib.Path:
    """Check a checkpoint file before another library loads it.

    Runs :func:`check_checkpoint_file` and lists the types the pickle refers to
    without loading it (:func:`torch.serialization.get_unsafe_globals_in_checkpoint`);
    legacy files are loaded with :func:`load_checkpoint` instead. Use it before
    handing a path to code that loads it itself.

    Args:
        path: The file.
        what: How the messages name the file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: If the path does not exist.
        UnsafeCheckpointError: If the file refers to a type outside the
            allow-list.
        ValueError: If the file is not a ``torch.save`` file.
    """
    p = check_checkpoint_file(path, what)
    if not zipfile.is_zipfile(p):
        load_checkpoint(p, what)
        return p
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
    except Exception as err:
        raise ValueError(
            f"{what} {str(p)!r} is not a readable PyTorch checkpoint ({_EXPECTED}): "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from err
    refused = [name for name in found if name not in _allowed_names()]
    if refused:
        raise _unsafe(f"{what} {str(p)!r}", p, refused)
    return p


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def load_checkpoint(
    path: str | os.PathLike[str],
    what: str = "checkpoint",
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint dictionary without running code from the file.

    Args:
        path: The file.
        what: How the messages name the file (e.g. ``"teacher checkpoint"``).
        map_location: Where tensors are loaded.

    Returns:
        The checkpoint (a dict).

    Raises:
        FileNotFoundError: If the path does not exist.
        UnsafeCheckpointError: If the file holds a type outside the allow-list
            (the message names it); nothing in the file was run.
        ValueError: If the file is not a readable ``torch.save`` dictionary (the
            message names the file, what was expected and what was found).
    """
    p = check_checkpoint_file(path, what)
    label = f"{what} {str(p)!r}"
    try:
        with checkpoint_globals():
            obj = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _refused_globals(p, err)
        if refused:
            raise _unsafe(label, p, refused) from err
        raise ValueError(
            f"{label} is not a PyTorch checkpoint ({_EXPECTED}): "
            f"{_unpickler_reason(err)}"
        ) from err
    except (RuntimeError, EOFError, KeyError, OSError, ValueError) as err:
        raise ValueError(
            f"{label} is not a readable PyTorch checkpoint ({_EXPECTED}): "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from err
    if not isinstance(obj, Mapping):
        raise ValueError(
            f"{label} holds a {type(obj).__name__}; expected a checkpoint "
            "dictionary (a state dict, or a dict with 'model' or 'state_dict')"
        )
    return dict(obj)


def check_state_fits(
    model: torch.nn.Module,
    state: Mapping[str, Any],
    label: str,
    hint: str = "",
) -> None:
    """Refuse a state dict that belongs to another architecture, by name.

    Args:
        model: The model the weights are meant for.
        state: The weights read from the file (names -> tensors).
        label: How the message names the file (e.g. ``"checkpoint 'x.pth'"``).
        hint: Appended in parentheses to a shape mismatch (what to check).

    Raises:
        ValueError: If no entry of ``state`` is a parameter or buffer of
            ``model``, or if entries of both have different shapes (the message
            lists the first three with both shapes and counts the rest).
    """
    expected = model.state_dict()
    name = type(model).__name__
    if not set(state) & set(expected):
        raise ValueError(
            f"{label} holds no weights of {name}: none of its {len(state)} "
            f"tensors ({preview(sorted(state), 3)}) is a parameter of the model; "
            "is it a checkpoint of another architecture?"
        )
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if mismatched:
        head = "; ".join(mismatched[:3])
        more = f"; and {len(mismatched) - 3} more" if len(mismatched) > 3 else ""
        raise ValueError(
            f"{label} does not fit {name}: {len(mismatched)} shapes differ: "
            f"{head}{more}" + (f" ({hint})" if hint else "")
        )
