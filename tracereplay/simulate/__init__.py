"""Simulated traces of the GPUVM review-thread scenarios (issue 6).

`simulate(name, seed)` returns a complete `trace` file: GPUVM kprobe/kretprobe lines in the
canonical vocabulary (`tracereplay probes gpuvm`), lock_acquire/lock_release, kmem and dma_fence
tracepoint lines. A name ending in `-fixed` (or variant="correct") is the correct variant.
"""

from __future__ import annotations

from ..errors import UsageError
from .scenarios import SCENARIOS, Scenario
from .trace import Writer

__all__ = ["SCENARIOS", "Scenario", "names", "resolve", "simulate"]


def names() -> list[str]:
    """Every runnable name: each scenario and its `-fixed` variant."""
    return [n for s in SCENARIOS for n in (s, s + "-fixed")]


def resolve(name: str, variant: str | None = None) -> tuple[Scenario, bool]:
    """(scenario, buggy) for a name such as `bo-two-vms` or `bo-two-vms-fixed`."""
    base, buggy = name, True
    if name.endswith("-fixed"):
        base, buggy = name[: -len("-fixed")], False
    if variant is not None:
        if variant not in ("buggy", "correct"):
            raise UsageError(f"unknown variant {variant!r} (buggy or correct)")
        if name.endswith("-fixed") and variant == "buggy":
            raise UsageError(f"{name} is the correct variant; drop --variant buggy or the -fixed suffix")
        buggy = variant == "buggy"
    if base not in SCENARIOS:
        raise UsageError(f"unknown scenario {name!r} (known: {', '.join(names())})")
    return SCENARIOS[base], buggy


def simulate(name: str, seed: int = 1, variant: str | None = None) -> str:
    """The trace text of one scenario run; the seed picks the interleaving of racing tasks."""
    sc, buggy = resolve(name, variant)
    return Writer(seed).run(sc.build(buggy))
