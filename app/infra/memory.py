"""Handing the C heap's free pages back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None  # glibc's; musl has none
    except OSError:
        return None


def release_free_memory() -> None:
    """Return the C heap's free pages to the system (glibc's malloc_trim; elsewhere nothing).

    glibc keeps what a process frees for its next allocations, and only gives back the free
    top of its heap. Loading the embedding model frees about 60 MB in the middle of it (ONNX
    Runtime's copy of the file's weights before it folds them): without a trim the process
    carries that for its whole life.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
