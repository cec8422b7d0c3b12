"""A small cache of open files for pools that read many samples from few files."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["HandleCache"]


class HandleCache:
    """Keep the most recently used open files (or stores) of one process.

    Pools that read samples out of large files (Zarr zips, Parquet parts, tar
    shards) open each file once and keep it, instead of opening it per sample. The
    cache is emptied in a new process (a forked data-loader worker opens its own
    files), and the least recently used handle is closed when more than
    ``max_open`` are open.
    """

    def __init__(self, max_open: int = 16) -> None:
        """Initialize a new HandleCache instance.

        Args:
            max_open: Number of handles kept open at most.
        """
        self.max_open = max_open
        self._pid = os.getpid()
        self._handles: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str, opener: Callable[[], Any]) -> Any:
        """Return the handle of ``key``, opening it with ``opener`` if needed.

        Args:
            key: The file's name (path or URL).
            opener: Function opening the file.

        Returns:
            The open handle.
        """
        if os.getpid() != self._pid:
            # a forked worker: the parent's handles are not ours to use or close
            self._handles = OrderedDict()
            self._pid = os.getpid()
        handle = self._handles.get(key)
        if handle is not None:
            self._handles.move_to_end(key)
            return handle
        handle = opener()
        self._handles[key] = handle
        while len(self._handles) > self.max_open:
            _, old = self._handles.popitem(last=False)
            _close(old)
        return handle

    def clear(self) -> None:
        """Close every handle of this process."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                _close(handle)
        self._handles = OrderedDict()
        self._pid = os.getpid()

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
