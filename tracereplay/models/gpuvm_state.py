"""Shadow objects of the DRM GPUVM model (tracereplay/models/gpuvm.py) and small helpers.

Semantics: drivers/gpu/drm/drm_gpuvm.c and ../shared/kernel-spec.md section 3. Objects are
keyed by the raw pointers the kprobes print; an address reused after a free starts a new object.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

RESV_PROTECTED = 0x1  # DRM_GPUVM_RESV_PROTECTED
IMMEDIATE_MODE = 0x2  # DRM_GPUVM_IMMEDIATE_MODE (6.17+)


def num(value: str | int | None, default: int | None = None) -> int | None:
    """A probe value as an int: 0x-hex, decimal, or prefix-less hex (amdgpu prints %lx)."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    s = str(value).strip().strip('"').rstrip(",")
    try:
        if s.lower().startswith(("0x", "-0x")):
            return int(s, 16)
        return int(s, 10)
    except ValueError:
        try:
            return int(s, 16)
        except ValueError:
            return default


def is_err_ptr(p: str | None) -> bool:
    """NULL or an ERR_PTR (the top 4095 values of the address space)."""
    v = num(p)
    return v is None or v == 0 or v >= (1 << 64) - 4095


@dataclass
class VM:
    addr: str
    name: str
    flags: int
    start: int
    range: int
    reserve_offset: int
    reserve_range: int
    r_obj: str | None
    row: int | None  # gpuvm_init row (None: created before the trace)
    dead_row: int | None = None  # gpuvm_fini row
    vas: IntervalSet = field(default_factory=lambda: IntervalSet())

    @property
    def resv_protected(self) -> bool:
        return bool(self.flags & RESV_PROTECTED)

    @property
    def immediate(self) -> bool:
        return bool(self.flags & IMMEDIATE_MODE)


@dataclass
class Gem:
    addr: str
    resv: str | None = None
    freed_row: int | None = None
    free_task: int | None = None


@dataclass
class VmBo:
    addr: str
    vm: str | None
    obj: str | None
    row: int | None  # creation row (None: before the trace)
    destroyed_row: int | None = None
    orphan_row: int | None = None  # gem_free of its GEM while it existed (weak reference)
    uaf_reported: bool = False
    extobj: bool = False  # on the VM's extobj list
    evict: bool = False  # on the VM's evict list
    vas: set[str] = field(default_factory=set)  # linked VAs
    refs: int | None = None  # references seen in the trace (None: created before the trace)


@dataclass
class Va:
    addr: str
    vm: str | None
    start: int
    range: int
    obj: str | None
    row: int | None
    inserted: bool = True
    vm_bo: str | None = None  # linked vm_bo
    link_row: int | None = None
    refused: bool = False  # the kernel refused the insert (gpuva_insert_ret != 0)


class IntervalSet:
    """Half-open [start, end) intervals keyed by VA; overlaps found in O(log n + k)."""

    def __init__(self) -> None:
        self.starts: list[tuple[int, str]] = []
        self.items: dict[str, tuple[int, int]] = {}
        self.maxlen = 0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, key: str, start: int, end: int) -> None:
        self.discard(key)
        self.items[key] = (start, end)
        insort(self.starts, (start, key))
        self.maxlen = max(self.maxlen, end - start)

    def discard(self, key: str) -> None:
        iv = self.items.pop(key, None)
        if iv is not None:
            j = bisect_left(self.starts, (iv[0], key))
            if j < len(self.starts) and self.starts[j] == (iv[0], key):
                del self.starts[j]

    def overlapping(self, start: int, end: int, skip: str | None = None) -> list[str]:
        out = []
        j = bisect_left(self.starts, (end, ""))
        while j > 0:
            j -= 1
            s, key = self.starts[j]
            if s + self.maxlen <= start:
                break
            if key != skip and self.items[key][1] > start:
                out.append(key)
        return out


@dataclass
class Unlocked:
    """A link/unlink/obtain/destroy of a GEM's vm_bo without its gpuva lock, judged later."""

    row: int
    pid: int | None
    what: str  # "link", "unlink", "obtain", "destroy"
    vm_bo: str | None
    held: frozenset  # ww_mutexes the task held (judged once the GEM's resv is known)
    open: bool = True  # still a candidate for the GEM's own destructor path


def hx(v: int) -> str:
    return f"0x{v:x}"
