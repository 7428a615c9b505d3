"""Object histories: every event that touched one object, in order, with the models' state of
the object after each event.

An object is named the way the trace prints it:
- a fence ``context:seqno`` (the dma_fence columns, or ``context=``/``ctx=`` and ``seqno=`` in a
  body or a kprobe's arguments);
- a task ``comm-pid`` or a pid (events of the task, and events naming its pid: sched_switch
  prev/next, ``pid=`` in sched_wakeup and friends);
- an address (``0x...`` or a hashed ``%p`` value such as ``00000000ee02c684``): a lock instance,
  a kmem ``ptr``, a GEM object, VM, vm_bo or VA pointer anywhere in an event's body or a
  kprobe's arguments, with or without ``0x`` and leading zeros;
- anything else: a name (a lock class, a slab cache), else any event whose body contains it.

The state column comes from ``Model.state_of`` of the models that handle the events (null for
models without it, and before the first event a model knows the object from).
"""

from __future__ import annotations

import re

import polars as pl

from ..engine import Model, replay
from ..models.addresses import norm_addr
from ..parse.fields import kv
from ..table import TraceTable
from .common import selection

_FENCE = re.compile(r"^(\d+):(\d+)$")
_TASK = re.compile(r"^(?P<comm>.+)-(?P<pid>\d+)$")
_ADDR = re.compile(r"^(?:0x[0-9a-fA-F]+|[0-9a-fA-F]*[0-9][0-9a-fA-F]*)$")

COLUMNS = ["file", "line", "ts_ns", "task", "cpu", "event", "body", "state"]


def object_kind(obj: str) -> str:
    """How ``obj`` is matched: fence, task, address or name."""
    o = obj.strip()
    if _FENCE.match(o):
        return "fence"
    if o.isdigit() and len(o) < 8:
        return "task"
    if _ADDR.match(o) and (o.lower().startswith("0x") or len(o) >= 8):
        return "address"
    if _TASK.match(o):
        return "task"
    return "name"


def _int_kv(key: str) -> pl.Expr:
    return kv(key).str.extract(r"^(-?\d+)", 1).cast(pl.Int64, strict=False)


def object_filter(obj: str) -> pl.Expr:
    """The rows of the event table that touch ``obj`` (see the module docstring)."""
    o = obj.strip()
    kind = object_kind(o)
    if kind == "fence":
        c, s = (int(x) for x in _FENCE.match(o).groups())
        typed = (pl.col("context") == c) & (pl.col("seqno") == s)
        ctx = pl.coalesce(_int_kv("context"), _int_kv("ctx"), _int_kv("fence_context"))
        loose = (ctx == c) & (_int_kv("seqno") == s)
        return (typed.fill_null(False) | loose.fill_null(False))
    if kind == "task":
        pid = int(o) if o.isdigit() else int(_TASK.match(o)["pid"])
        hit = ((pl.col("pid") == pid).fill_null(False)
               | (pl.col("prev_pid") == pid).fill_null(False)
               | (pl.col("next_pid") == pid).fill_null(False)
               | (_int_kv("pid") == pid).fill_null(False))
        return hit
    if kind == "address":
        digits = norm_addr(o) or "0"
        rx = rf"(?i)(?:^|[^0-9a-fx])(?:0x)?0*{re.escape(digits)}(?:[^0-9a-f]|$)"
        return pl.col("body").str.contains(rx).fill_null(False)
    return (pl.col("name") == o).fill_null(False)


def _touching(events: pl.DataFrame, obj: str) -> pl.DataFrame:
    ix = events.with_row_index("_i")
    rows = ix.filter(object_filter(obj))
    if rows.is_empty() and object_kind(obj) == "name":
        rows = ix.filter(pl.col("body").str.contains(obj, literal=True).fill_null(False))
    return rows


def states(table: TraceTable, obj: str, mappings: list[str] | None = None) -> pl.DataFrame:
    """(row ``_i``, ``state``) wherever the models' combined state of ``obj`` changes."""
    changes_i: list[int] = []
    changes_s: list[str | None] = []
    last: dict[int, str | None] = {}

    def observe(i: int, model: Model) -> None:
        s = model.state_of(obj)
        if last.get(id(model), None) == s and id(model) in last:
            return
        last[id(model)] = s
        combined = "; ".join(v for v in last.values() if v is not None) or None
        if changes_i and changes_i[-1] == i:
            changes_s[-1] = combined
        else:
            changes_i.append(i)
            changes_s.append(combined)

    replay(table, mappings=mappings, observer=observe)
    return pl.DataFrame({"_i": changes_i, "state": changes_s},
                        schema={"_i": pl.UInt32, "state": pl.String})


def history(table: TraceTable, obj: str, *, since=None, until=None, task=None, cpu=None,
            mappings: list[str] | None = None) -> pl.DataFrame:
    """Every event that touched ``obj``, in trace order: file, line, ts_ns, task, cpu, event,
    body, and ``state``, the models' state of the object after the event (null where no model
    knows it). ``since``/``until`` are seconds (``12.345678``), ``task`` a ``comm-pid``, pid or
    comm, ``cpu`` a CPU number (each filter also takes a list)."""
    rows = _touching(table.events, obj)
    rows = rows.filter(selection(since=since, until=until, task=task, cpu=cpu))
    if rows.is_empty():
        st = pl.DataFrame(schema={"_i": pl.UInt32, "state": pl.String})
    else:
        st = states(table, obj, mappings)
    rows = rows.sort("_i").join_asof(st.sort("_i"), on="_i", strategy="backward")
    task_col = (pl.col("comm").fill_null("?") + pl.lit("-") + pl.col("pid").cast(pl.String)).alias("task")
    return rows.select(
        "file", "line", "ts_ns",
        pl.when(pl.col("pid").is_not_null()).then(task_col).otherwise(pl.col("comm")).alias("task"),
        "cpu", "event", "body", "state",
    )
