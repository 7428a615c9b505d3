"""Real DRM / dma-buf splats from mailing lists: every report parses with its structure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracereplay.kernlog import classes, read_log


def _shared() -> Path | None:
    env = os.environ.get("TRACEREPLAY_SHARED")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return path if (path / "corpus").is_dir() else None


SHARED = _shared()
ML = SHARED / "corpus" / "kernel-reports" / "mailing-lists" if SHARED else None
pytestmark = pytest.mark.skipif(ML is None, reason="shared corpus not found beside the repo "
                                "(set TRACEREPLAY_SHARED to the shared/ folder)")

DIR_KIND = {
    "lockdep-circular": "circular_locking", "lockdep-recursive": "recursive_locking",
    "lockdep-inconsistent": "inconsistent_lock_state", "lockdep-invalid-wait":
    "invalid_wait_context", "lockdep-bad-unlock": "bad_unlock_balance", "kasan": "kasan",
    "refcount": "refcount",
}
# Files where the first report is not the listed kind, with the reason.
DEVIATIONS = {
    "lockdep-circular/20201024_nouveau_circular_mpol_rebind_mm_ddfae69b760d.log":
        "the mail cuts the report after chain entry #1: #0, the scenario and the call trace are missing",
}


def _files() -> list[str]:
    if ML is None:
        return []
    return [str(p.relative_to(ML)) for p in sorted(ML.glob("*/*.log"))]


def _one(pattern: str):
    path = next(ML.glob(pattern))
    return read_log(str(path))[0]


@pytest.mark.parametrize("name", _files())
def test_every_report_parses(name: str) -> None:
    if name in DEVIATIONS:
        pytest.xfail(DEVIATIONS[name])
    reports = read_log(str(ML / name))
    assert reports
    rep = reports[0]
    kind = DIR_KIND.get(name.split("/")[0])
    if kind is not None:
        assert rep.kind == kind
    if rep.kind == "circular_locking":
        # the chain runs #N..#0 and every entry names its class and its acquire stack
        assert [e["index"] for e in rep.lock_chain] == list(range(len(rep.lock_chain) - 1, -1, -1))
        assert len(rep.lock_chain) >= 2
        assert all(e["name"] and e["usage"] for e in rep.lock_chain)
    if rep.kind in ("circular_locking", "recursive_locking", "inconsistent_lock_state",
                    "invalid_wait_context"):
        assert classes(rep)
    if rep.kind == "kasan":
        assert rep.kasan is not None and rep.kasan["bug_type"]
    if rep.kind == "refcount":
        assert rep.refcount_event in ("underflow", "addition_on_0", "saturated")
    assert rep.title


def test_circular_freedreno_chain() -> None:
    rep = _one("lockdep-circular/20200401_freedreno_circular_reservation_ww_class_mutex_*.log")
    assert rep.title == "possible deadlock in dma_buf_detach"
    assert (rep.task, rep.pid, rep.line, rep.timestamp) == ("kworker/u2:1", 19, 2, 21.290148)
    assert [(e["index"], e["name"], e["usage"]) for e in rep.lock_chain] == [
        (1, "&msm_obj->lock", "+.+."), (0, "reservation_ww_class_mutex", "+.+.")]
    assert rep.lock_chain[0]["sites"][:2] == ["mutex_lock_nested", "msm_gem_get_and_pin_iova"]
    assert rep.acquiring["name"] == "reservation_ww_class_mutex"
    assert rep.acquiring["at"] == "dma_buf_detach"
    assert rep.holding["name"] == "&msm_obj->lock"
    assert classes(rep)[:2] == ["&msm_obj->lock", "reservation_ww_class_mutex"]


def test_circular_fs_reclaim_wait_types() -> None:
    rep = _one("lockdep-circular/20220628_linaro-mm-sig_circular_drm_gem_shmem_free_*.log")
    assert rep.title == "possible deadlock in drm_gem_shmem_free"
    assert (rep.task, rep.pid) == ("cc1", 295)
    assert [(e["index"], e["name"], e["wait"]) for e in rep.lock_chain] == [
        (1, "fs_reclaim", "0:0"), (0, "reservation_ww_class_mutex", "3:3")]
    assert rep.lock_chain[0]["sites"][:2] == ["fs_reclaim_acquire", "dma_resv_lockdep"]


def test_indented_multiline_records_keep_the_chain() -> None:
    rep = _one("lockdep-circular/20200512_linaro-mm-sig_circular_drm_atomic_helper_sus*.log")
    assert rep.title == "possible deadlock in drm_atomic_helper_suspend"
    assert [e["name"] for e in rep.lock_chain] == [
        "dma_fence_map", "crtc_ww_class_mutex", "crtc_ww_class_acquire"]
    assert rep.lock_chain[0]["sites"][0] == "dma_fence_begin_signalling"


def test_kasan_stacks() -> None:
    rep = _one("kasan/20240304_nouveau_kasan_drm_sched_entity_flush_*.log")
    assert rep.title == "KASAN: slab-use-after-free Read in drm_sched_entity_flush"
    assert rep.kasan["access"] == "Read" and rep.kasan["size"] == 8
    assert (rep.task, rep.pid) == ("rmmod", 4436)
    assert rep.kasan["alloc_stack"][:3] == ["kasan_save_stack", "kasan_set_track",
                                           "__kasan_kmalloc"]
    assert rep.kasan["free_stack"][:3] == ["kasan_save_stack", "kasan_set_track",
                                          "kasan_save_free_info"]


def test_new_warn_header_mail_wrapped() -> None:
    rep = _one("refcount/20260714_linaro-mm-sig_refcount_*.log")
    assert (rep.kind, rep.title, rep.refcount_event) == (
        "refcount", "WARNING: refcount bug in qxl_release_free", "underflow")
    assert (rep.task, rep.pid) == ("kworker/0:0", 1534)


def test_recursive_classes() -> None:
    rep = _one("lockdep-recursive/20240626_linaro-mm-sig_recursive_dma_buf_detach_*.log")
    assert rep.title == "possible deadlock in dma_buf_detach"
    assert classes(rep)[0] == "reservation_ww_class_mutex"
    assert (rep.task, rep.pid) == ("glxgears:sh0", 4675)
