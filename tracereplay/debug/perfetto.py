"""Export a capture to the Chrome JSON trace-event format, which the Perfetto UI
(ui.perfetto.dev, "Open trace file") and chrome://tracing open offline.

What is drawn:
- per task (pid = thread group, tid = task) and per interrupt / idle context of a CPU: lock hold
  spans (``lock_acquire`` -> its ``lock_release`` in the same context, category ``lock.hold``)
  and wait spans (``lock_contended`` -> ``lock_acquired``, ``contention_begin`` ->
  ``contention_end``, category ``lock.wait``) as complete (``X``) slices; spans that overlap
  without nesting (A taken, B taken, A released first) go to an extra track of the thread,
  "comm-pid (overlapping holds N)", since viewers drop slices of one track that do not nest;
- per dma_fence timeline, in the process "dma_fence timelines": ``emit`` -> ``signaled`` of each
  fence as an async span (category ``dma_fence``; fences never signalled run to the end of the
  trace);
- in the process "slab objects": each object's lifetime, allocation -> free (category
  ``object``; objects still live run to the end of the trace);
- every finding as a global instant event (category ``finding``) carrying its rule, severity,
  title, fingerprint, objects and evidence lines.

The spans are paired with polars (tracereplay.stats: the same pairing as ``tracereplay stats``).
Time stamps are microseconds, as the format wants.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ..findings import Finding
from ..report.text import fmt_ns
from ..stats.common import CTX_NAMES, CTX_TASK, ORDER, ordered
from ..stats.fences import fence_events, fences
from ..stats.locks import hold_pairs, lock_events, wait_pairs
from ..stats.objects import objects
from ..table import TraceTable

FENCE_PID = 0x7FFF0001
OBJECT_PID = 0x7FFF0002
KERNEL_PID = 0  # idle tasks and interrupt contexts, one thread per CPU and context
_CTX_TID_BASE = 0x40000000
_LANE_TID_BASE = 0x60000000  # extra tracks for hold spans that overlap without nesting


def _us(col: str) -> pl.Expr:
    return (pl.col(col).cast(pl.Float64) / 1000.0)


def _thread_exprs() -> list[pl.Expr]:
    """pid/tid of the track an event's context draws on (needs ctx_kind, ctx_id, tgid)."""
    task = pl.col("ctx_kind") == CTX_TASK
    return [
        pl.when(task).then(pl.coalesce("tgid", "ctx_id")).otherwise(pl.lit(KERNEL_PID)).alias("tr_pid"),
        pl.when(task).then(pl.col("ctx_id"))
        .otherwise(pl.lit(_CTX_TID_BASE) + pl.col("ctx_id").fill_null(0) * 8 + pl.col("ctx_kind").cast(pl.Int64))
        .alias("tr_tid"),
    ]


def _with_ctx(rows: pl.DataFrame, ev: pl.DataFrame) -> pl.DataFrame:
    extra = ev.select(ORDER, "tgid", "file", "line")
    return rows.join(extra, on=ORDER, how="left").with_columns(_thread_exprs())


def lock_spans(events: pl.DataFrame) -> pl.DataFrame:
    """Hold and wait spans: cat, name, addr, ts_ns, dur_ns, tr_pid, tr_tid, file, line."""
    ev = ordered(events)
    rows = lock_events(ev)
    cols = ["cat", "name", "addr", "ts_ns", "dur_ns", "tr_pid", "tr_tid", "file", "line"]
    holds = hold_pairs(ev, rows).filter(pl.col("starts_pair")).with_columns(
        pl.lit("lock.hold").alias("cat"), pl.col("hold_ns").alias("dur_ns"))
    waits = wait_pairs(ev, rows).filter(pl.col("starts_pair")).with_columns(
        pl.lit("lock.wait").alias("cat"), pl.col("wait_ns").alias("dur_ns"))
    parts = [_with_ctx(p, ev).select(cols) for p in (holds, waits) if len(p)]
    if not parts:
        return pl.DataFrame(schema={c: pl.String for c in cols})
    return pl.concat(parts).sort("ts_ns", "cat", descending=[False, True])


def _lanes(spans: pl.DataFrame) -> pl.DataFrame:
    """Move spans that overlap without nesting (A taken, B taken, A released, B released) to
    extra tracks of their thread: a thread's complete slices must nest, or viewers drop them.
    ``lane`` 0 is the thread's own track."""
    if spans.is_empty():
        return spans.with_columns(pl.lit(0).alias("lane"))
    spans = spans.with_row_index("_k").sort("tr_pid", "tr_tid", "ts_ns", pl.col("dur_ns"),
                                            descending=[False, False, False, True])
    lanes: list[int] = []
    stacks: dict[tuple, list[list[int]]] = {}
    for pid, tid, ts, dur in spans.select("tr_pid", "tr_tid", "ts_ns", "dur_ns").iter_rows():
        end = ts + (dur or 0)
        per = stacks.setdefault((pid, tid), [])
        for lane, stack in enumerate(per):
            while stack and stack[-1] <= ts:
                stack.pop()
            if not stack or end <= stack[-1]:
                stack.append(end)
                lanes.append(lane)
                break
        else:
            per.append([end])
            lanes.append(len(per) - 1)
    out = spans.with_columns(pl.Series("lane", lanes, dtype=pl.Int64))
    extra = out.filter(pl.col("lane") > 0).select("tr_pid", "tr_tid", "lane").unique().sort(
        "tr_pid", "tr_tid", "lane")
    if extra.is_empty():
        return out.sort("_k").drop("_k")
    extra = extra.with_row_index("_n").with_columns(
        (pl.lit(_LANE_TID_BASE) + pl.col("_n").cast(pl.Int64)).alias("lane_tid"))
    out = out.join(extra.drop("_n"), on=["tr_pid", "tr_tid", "lane"], how="left")
    return out.with_columns(
        pl.col("tr_tid").alias("base_tid"),
        pl.coalesce("lane_tid", "tr_tid").alias("tr_tid"),
    ).drop("lane_tid").sort("_k").drop("_k")


def fence_spans(events: pl.DataFrame, end_ns: int | None) -> pl.DataFrame:
    """Fences from emit to signal (or to ``end_ns`` when never signalled)."""
    ev = ordered(events)
    per = fences(ev, fence_events(ev)).filter(pl.col("emit_ts").is_not_null())
    return per.with_columns(
        pl.coalesce("signal_ts", pl.lit(end_ns)).alias("end_ts"),
        pl.when(pl.col("signal_ts").is_null()).then(pl.lit("not signalled in the trace"))
        .otherwise(pl.lit("signalled")).alias("state"),
    ).filter(pl.col("end_ts").is_not_null() & (pl.col("end_ts") >= pl.col("emit_ts")))


def object_spans(events: pl.DataFrame, end_ns: int | None) -> pl.DataFrame:
    """Slab objects from allocation to free (or to ``end_ns`` while still live)."""
    ev = ordered(events)
    obj = objects(ev).filter(pl.col("alloc") & pl.col("state").is_in(["freed", "live"]))
    return obj.with_columns(
        pl.when(pl.col("state") == "freed").then(pl.col("ts_ns") + pl.col("lifetime_ns"))
        .otherwise(pl.lit(end_ns)).alias("end_ts"),
    ).filter(pl.col("end_ts").is_not_null())


def _meta(pid: int, name: str, tid: int | None = None) -> dict:
    if tid is None:
        return {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}
    return {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}


def _finding_events(table: TraceTable, findings: list[Finding]) -> list[dict]:
    ts_of = {(f, n): t for f, n, t in table.events.select("file", "line", "ts_ns").iter_rows()}
    out = []
    for f in findings:
        ts = f.ts_ns if f.ts_ns is not None else ts_of.get((f.file, f.line))
        evidence = [
            f"{e.file}:{e.line} @ {fmt_ns(ts_of.get((e.file, e.line)))}" + (f" {e.note}" if e.note else "")
            for e in f.evidence
        ]
        out.append({
            "ph": "i", "s": "g", "cat": "finding", "name": f"{f.rule}: {f.title}",
            "ts": (ts or 0) / 1000.0, "pid": KERNEL_PID, "tid": 0,
            "args": {"rule": f.rule, "severity": f.severity, "title": f.title,
                     "fingerprint": f.fingerprint, "where": f"{f.file}:{f.line}", "task": f.task,
                     "cpu": f.cpu, "objects": list(f.objects), "evidence": evidence,
                     "incomplete": f.incomplete, "detail": f.detail},
        })
    return out


def trace_events(table: TraceTable, findings: list[Finding]) -> dict:
    """The Chrome JSON trace (a dict with ``traceEvents``) of a capture and its findings."""
    ev = ordered(table.events)
    end_ns = ev["ts_ns"].max() if len(ev) else None
    out: list[dict] = []

    locks = _lanes(lock_spans(ev))
    if len(locks):
        out += locks.select(
            pl.lit("X").alias("ph"), "cat", pl.col("name").fill_null(pl.col("addr")).alias("name"),
            _us("ts_ns").alias("ts"), _us("dur_ns").alias("dur"),
            pl.col("tr_pid").alias("pid"), pl.col("tr_tid").alias("tid"),
            pl.struct(pl.col("addr"), (pl.col("file") + ":" + pl.col("line").cast(pl.String)).alias("start"))
            .alias("args"),
        ).to_dicts()

    fs = fence_spans(ev, end_ns)
    if len(fs):
        base = fs.select(
            pl.lit("dma_fence").alias("cat"),
            (pl.col("driver").fill_null("?") + " " + pl.col("timeline").fill_null("?")).alias("name"),
            (pl.col("context").cast(pl.String) + ":" + pl.col("seqno").cast(pl.String)).alias("id"),
            pl.lit(FENCE_PID).alias("pid"), pl.col("context").alias("tid"),
            "emit_ts", "end_ts", "state", "context", "seqno",
        )
        for r in base.iter_rows(named=True):
            common = {"cat": r["cat"], "name": r["name"], "id": r["id"], "pid": r["pid"], "tid": r["tid"]}
            out.append({**common, "ph": "b", "ts": r["emit_ts"] / 1000.0,
                        "args": {"fence": r["id"], "state": r["state"]}})
            out.append({**common, "ph": "e", "ts": r["end_ts"] / 1000.0})
        out.append(_meta(FENCE_PID, "dma_fence timelines"))

    objs = object_spans(ev, end_ns)
    if len(objs):
        base = objs.with_columns(
            (pl.col("ptr") + "#" + pl.col(ORDER).cast(pl.String)).alias("id"),
            pl.col("cache").fill_null("object").alias("name"),
        )
        for r in base.iter_rows(named=True):
            common = {"cat": "object", "name": r["name"], "id": r["id"], "pid": OBJECT_PID, "tid": 0}
            out.append({**common, "ph": "b", "ts": r["ts_ns"] / 1000.0,
                        "args": {"ptr": r["ptr"], "call_site": r["call_site"], "bytes_alloc": r["bytes_alloc"],
                                 "state": r["state"]}})
            out.append({**common, "ph": "e", "ts": r["end_ts"] / 1000.0})
        out.append(_meta(OBJECT_PID, "slab objects"))

    out += _finding_events(table, findings)
    out += _names(ev, locks)
    return {"traceEvents": out, "displayTimeUnit": "ns",
            "otherData": {"source": ", ".join(f.path for f in table.files), "generator": "tracereplay export"}}


def _names(ev: pl.DataFrame, locks: pl.DataFrame) -> list[dict]:
    """process_name / thread_name metadata for every track a lock span draws on."""
    if locks.is_empty():
        return []
    out = []
    if "base_tid" not in locks.columns:
        locks = locks.with_columns(pl.col("tr_tid").alias("base_tid"))
    tracks = locks.select("tr_pid", "tr_tid", "base_tid", "lane").unique().sort("tr_pid", "tr_tid")
    comm = dict(ev.filter(pl.col("pid").is_not_null()).group_by("pid").agg(pl.col("comm").last()).iter_rows())
    procs = set()
    for pid, tid, base, lane in tracks.iter_rows():
        if lane:
            owner = (_ctx_name(base) if base >= _CTX_TID_BASE else f"{comm.get(base, '?')}-{base}")
            out.append(_meta(pid, f"{owner} (overlapping holds {lane})", tid))
        elif tid >= _CTX_TID_BASE:
            out.append(_meta(pid, _ctx_name(tid), tid))
            if pid not in procs:
                out.append(_meta(pid, "idle and interrupt contexts"))
        else:
            out.append(_meta(pid, f"{comm.get(tid, '?')}-{tid}", tid))
            if pid not in procs:
                out.append(_meta(pid, f"{comm.get(pid, comm.get(tid, '?'))} ({pid})"))
        procs.add(pid)
    return out


def _ctx_name(tid: int) -> str:
    k, rest = divmod(tid - _CTX_TID_BASE, 8)
    kind = CTX_NAMES.get(rest, "cpu")
    return f"{'idle' if kind == 'cpu' else kind} CPU {k}"


def export_perfetto(table: TraceTable, findings: list[Finding], out: str) -> dict:
    """Write the Chrome JSON trace of a capture to ``out``; returns it."""
    data = trace_events(table, findings)
    Path(out).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return data
