"""`tracereplay probes gpuvm`: a definition for every event of the GPUVM vocabulary (issue 6)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from tracereplay.cli import main
from tracereplay.probes import render

VOCABULARY = [
    "gpuvm_init", "gpuvm_fini", "gpuvm_bo_create", "gpuvm_bo_create_ret", "gpuvm_bo_obtain",
    "gpuvm_bo_obtain_ret", "gpuvm_bo_obtain_prealloc", "gpuvm_bo_put", "gpuvm_bo_destroy", "gpuva_insert",
    "gpuva_insert_ret", "gpuva_remove", "gpuva_link", "gpuva_unlink", "gpuvm_bo_extobj_add", "gpuvm_bo_evict",
    "gem_free", "ww_mutex_lock", "ww_mutex_lock_ret", "ww_mutex_unlock", "ww_mutex_trylock", "ww_mutex_trylock_ret",
]


def _defs(text: str, commented: bool) -> dict[str, str]:
    pat = r"^# echo '([pr]):gpuvm/(\w+) (.*)' >>" if commented else r"^echo '([pr]):gpuvm/(\w+) (.*)' >>"
    return {m[2]: m[1] + " " + m[3] for m in re.finditer(pat, text, re.M)}


def test_every_event_defined_in_both_forms():
    out = CliRunner().invoke(main, ["probes", "gpuvm"])
    assert out.exit_code == 0
    btf, regs = _defs(out.output, False), _defs(out.output, True)
    for ev in VOCABULARY:
        assert ev in btf and ev in regs, ev
        assert btf[ev].startswith("r " if ev.endswith("_ret") else "p ")


def test_field_names_match_the_vocabulary():
    btf = _defs(render(), False)
    assert "vm_bo=$retval" in btf["gpuvm_bo_obtain_ret"]
    assert "ret=$retval" in btf["ww_mutex_lock_ret"]
    for ev, fields in {"gpuvm_init": "gpuvm name flags start range reserve_offset reserve_range r_obj",
                       "gpuva_insert": "gpuvm va addr range obj offset", "gem_free": "obj resv",
                       "gpuvm_bo_evict": "vm_bo evict", "gpuva_link": "va vm_bo"}.items():
        names = re.findall(r"(\w+)=", btf[ev])
        assert names == fields.split(), ev


def test_kref_callback_fallback_and_offsets():
    text = CliRunner().invoke(main, ["probes", "gpuvm", "--offset", "drm_gpuvm_bo.kref=0x20"]).output
    assert "kref=%di gpuvm=-32(%di) obj=-24(%di)" in text
    assert "offsetof(struct drm_gpuvm_bo, kref)" in text


def test_recording_commands():
    text = render()
    assert "options/hash-ptr" in text and "no_hash_pointers" in text
    assert "events/lock/lock_acquire/enable" in text and "events/dma_fence/enable" in text
    assert "trace-cmd record -e gpuvm" in text


def test_bad_offset():
    r = CliRunner().invoke(main, ["probes", "gpuvm", "--offset", "nope=1"])
    assert r.exit_code == 2 and "unknown offset" in r.output
