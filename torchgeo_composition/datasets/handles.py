"""A small cache of open files for pools that read many samples from few files."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["HandleCache"]


class HandleCache:
    """Keep the most recently used open files (or stores) of one thread.

    Pools that read samples out of large files (Zarr zips, Parquet parts, tar
    shards) open each file once and keep it, instead of opening it per sample.
    Handles are never shared: each thread (e.g. of a parallel pixel check) and
    each process (a forked data-loader worker) opens its own, so no read ever
    moves another's file position. The least recently used handle of a thread is
    closed when it holds more than ``max_open``.
    """

    def __init__(self, max_open: int = 16) -> None:
        """Initialize a new HandleCache instance.

        Args:
            max_open: Number of handles a thread keeps open at most.
        """
        self.max_open = max_open
        self._local = threading.local()

    def _handles(self) -> OrderedDict[str, Any]:
        """This thread's handles (none after a fork: the parent's are not ours)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.pid = os.getpid()
            local.handles = OrderedDict()
        handles: OrderedDict[str, Any] = local.handles
        return handles

    def get(self, key: str, opener: Callable[[], Any]) -> Any:
        """Return this thread's handle of ``key``, opening it with ``opener`` if needed.

        Args:
            key: The file's name (path or URL).
            opener: Function opening the file.

        Returns:
            The open handle.
        """
        handles = self._handles()
        handle = handles.get(key)
        if handle is not None:
            handles.move_to_end(key)
            return handle
        handle = opener()
        handles[key] = handle
        while len(handles) > self.max_open:
            _, old = handles.popitem(last=False)
            _close(old)
        return handle

    def clear(self) -> None:
        """Close this thread's handles."""
        handles = self._handles()
        for handle in handles.values():
            _close(handle)
        handles.clear()

    def __getstate__(self) -> dict[str, Any]:
        # handles do not travel to other processes (spawned workers, pickling)
        return {"max_open": self.max_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_open"])  # type: ignore[misc]


def _close(handle: Any) -> None:
    """Close a handle if it can be closed."""
    close = getattr(handle, "close", None)
    if close is not None:
        close()
