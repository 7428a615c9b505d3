"""`tracereplay dmesg`: text, JSON Lines, --group and exit codes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracereplay.kernlog
from tracereplay.errors import InputError


def _load_command():
    """The dmesg command; loaded from its file while sibling commands are still missing."""
    try:
        from tracereplay.cli.dmesg_cmd import command as cmd
    except ImportError:
        path = Path(tracereplay.kernlog.__file__).parents[1] / "cli" / "dmesg_cmd.py"
        spec = importlib.util.spec_from_file_location("_tracereplay_dmesg_cmd", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cmd = module.command
    return cmd


command = _load_command()

LOCKDEP = """\
[   21.283902] ======================================================
[   21.290148] WARNING: possible circular locking dependency detected
[   21.296409] 5.5.13 #1 Not tainted
[   21.299785] ------------------------------------------------------
[   21.306030] kworker/u2:1/19 is trying to acquire lock:
[   21.311236] dc888ae8 (reservation_ww_class_mutex){+.+.}-{3:3}, at: dma_buf_detach+0x78/0x1e0
[   21.319341]
[   21.319341] but task is already holding lock:
[   21.325232] dc88838c (&msm_obj->lock#2/1){+.+.}-{3:3}, at: msm_gem_free_work+0x100/0x188
[   21.332587]
[   21.332587] which lock already depends on the new lock.
[   21.340823]
[   21.340823] the existing dependency chain (in reverse order) is:
[   21.348362]
[   21.348362] -> #1 (&msm_obj->lock#2/1){+.+.}-{3:3}:
[   21.353989]        mutex_lock_nested+0x1c/0x24
[   21.358514]        msm_gem_get_and_pin_iova+0x30/0x158
[   21.392670]
[   21.392670] -> #0 (reservation_ww_class_mutex){+.+.}-{3:3}:
[   21.399333]        lock_acquire+0xcc/0x1ec
[   21.413261]        dma_buf_detach+0x78/0x1e0
[   21.496985] 1 lock held by kworker/u2:1/19:
[   21.501311]  #0: dc88838c (&msm_obj->lock#2/1){+.+.}-{3:3}, at: msm_gem_free_work+0x100/0x188
[   21.501400] stack backtrace:
[   21.501500] Call Trace:
[   21.501600]  dump_stack+0x10/0x20
[   21.501700]  msm_gem_free_work+0x88/0x188
[   21.501800]  process_one_work+0x2c4/0x754
[   21.501900]  worker_thread+0x2c/0x590
"""


@pytest.fixture
def logs(tmp_path):
    a = tmp_path / "a.log"
    a.write_text(LOCKDEP.replace("\n", "\r\n"))
    b = tmp_path / "b.log"
    b.write_text("[    1.0] hello\n" + LOCKDEP)
    empty = tmp_path / "empty.log"
    empty.write_text("[    0.1] Booting Linux\n[    0.2] nothing to see\n")
    return a, b, empty


def test_json_lines(logs) -> None:
    a, b, _ = logs
    res = CliRunner().invoke(command, [str(a), str(b), "--format", "json"])
    assert res.exit_code == 1
    rows = [json.loads(x) for x in res.output.splitlines()]
    assert [(r["file"], r["line"]) for r in rows] == [(str(a), 2), (str(b), 3)]
    r = rows[0]
    assert {"kind", "title", "corrupted", "file", "line", "lock_chain", "held_locks"} <= set(r)
    assert (r["kind"], r["title"], r["corrupted"]) == (
        "circular_locking", "possible deadlock in dma_buf_detach", False)
    assert (r["task"], r["pid"], r["timestamp"]) == ("kworker/u2:1", 19, 21.290148)
    assert r["lock_chain"][0] == {
        "index": 1, "name": "&msm_obj->lock", "name_version": 2, "subclass": 1,
        "usage": "+.+.", "wait": "3:3",
        "sites": ["mutex_lock_nested", "msm_gem_get_and_pin_iova"]}
    assert r["held_locks"] == [{"index": 0, "addr": "dc88838c", "name": "&msm_obj->lock#2/1",
                                "usage": "+.+.", "wait": "3:3", "at": "msm_gem_free_work"}]
    assert r["frames"] == ["dump_stack", "msm_gem_free_work", "process_one_work", "worker_thread"]


def test_text(logs) -> None:
    a, _, _ = logs
    res = CliRunner().invoke(command, [str(a)])
    assert res.exit_code == 1
    assert res.output.splitlines()[:3] == [
        f"{a}:2: circular_locking: possible deadlock in dma_buf_detach",
        "  task: kworker/u2:1/19",
        "  -> #1 &msm_obj->lock {+.+.} at mutex_lock_nested, msm_gem_get_and_pin_iova"]


def test_group(logs) -> None:
    a, b, empty = logs
    res = CliRunner().invoke(command, [str(a), str(empty), str(b), "--group", "--format", "json"])
    assert res.exit_code == 1
    assert [json.loads(x) for x in res.output.splitlines()] == [{
        "title": "possible deadlock in dma_buf_detach", "kind": "circular_locking", "count": 2,
        "first": f"{a}:2", "last": f"{b}:3"}]


def test_no_report_exit_0(logs) -> None:
    _, _, empty = logs
    res = CliRunner().invoke(command, [str(empty)])
    assert (res.exit_code, res.output) == (0, "")


def test_missing_file_raises_input_error(tmp_path) -> None:
    res = CliRunner().invoke(command, [str(tmp_path / "nope.log")])
    assert isinstance(res.exception, InputError)


def test_missing_file_exit_2_through_main(tmp_path) -> None:
    try:
        from tracereplay.cli import main
    except ImportError as e:  # other commands of the group are not written yet
        pytest.skip(f"tracereplay.cli group not importable yet: {e}")
    res = CliRunner().invoke(main, ["dmesg", str(tmp_path / "nope.log")])
    assert res.exit_code == 2
    assert "nope.log" in res.output
