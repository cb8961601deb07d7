"""Keep freed tensor memory for reuse instead of returning it to the OS after every tensor (glibc only).

glibc serves blocks above its mmap threshold (128 KiB, growing to 32 MiB) with a fresh mmap and unmaps them on
free, and gives worker threads their own arenas whose large blocks are always fresh mmaps. A merge allocates and
frees tensors of the same few sizes thousands of times, so every one of them would be faulted in (zeroed by the
kernel, page by page) again: on a 250M-parameter merge that costs more than the arithmetic. Raising the
thresholds and using one arena lets a freed block be reused as is. Peak memory is unchanged (the same tensors
are alive at once).

Who calls it: the `modelfusion merge` command, for its own process, which exists to merge and ends after it. The
library (`modelfusion.merge`, the engine) never does: these settings are process-wide, and a process that imports
modelfusion keeps the allocator it chose. Such a caller may opt in with `reuse_freed_memory()` and hand the retained
heap back to the OS with `release_free_memory()` when its merges are done (the CLI does not need to: its process exits).
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_LARGEST_HEAP_BLOCK = 64 << 20
"""Blocks up to 64 MiB (a 16M-entry float32 tensor) are reused from the heap; larger ones are rare (embeddings)
and still get their own mapping, so they never fragment the heap and go back to the OS when freed."""


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them (find_library runs ldconfig)
        libc.mallopt  # noqa: B018 (glibc only: musl has no mallopt)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@cache
def reuse_freed_memory() -> bool:
    """Tune glibc malloc for repeated large allocations (once per process). False where not glibc."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_ARENA_MAX, 1)
    ok &= libc.mallopt(_M_MMAP_THRESHOLD, _LARGEST_HEAP_BLOCK)
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, 2 * _LARGEST_HEAP_BLOCK)  # keep up to 128 MiB of free heap
    return bool(ok)


def release_free_memory() -> None:
    """Return the heap's free memory to the OS (after merges in a process that called reuse_freed_memory)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
