"""The replay engine: drives model operations, in trace order, through the shadow models.

The mapping turns events into operations in vectorised passes (one per mapping entry); the
engine then merges them into one stream ordered like the event table and calls each model's
handler with the row index and the operands. Models read per-event context (task, cpu, irq
flags, time, file:line) from ``Replay`` by row index; they never see text.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from functools import cached_property

import polars as pl

from .findings import Evidence, Finding
from .mapping import MapEntry, condition, load_mappings, operand, validate
from .table import TraceTable

# Per-row columns models read, by attribute name: converted to Python lists on first use.
COLUMN_ATTRS = {
    "file": "file", "line": "line", "ts": "ts_ns", "cpu": "cpu", "pid": "pid", "comm": "comm",
    "irqs_off": "irqs_off", "bh_off": "bh_off", "hardirq": "hardirq", "softirq": "softirq",
    "nmi": "nmi", "event": "event",
}


# How far apart (ns) two events on different CPUs must be before their order is trusted.
CROSS_CPU_SLACK_NS = 20_000


# Columns models read only when they report (file:line, time, task name): indexed in place.
BY_ROW = frozenset({"file", "line", "ts", "comm"})


_KINDS = ("nmi", "hardirq", "softirq", "idle", "task")

# Scalar reads (reporting) a Replay serves by indexing the table before it converts the columns
# it reads to lists: a few findings should not cost a list of every row.
SCALAR_READS = 4096


def _context_ids(k: pl.DataFrame) -> pl.Series:
    """Per row of ``k`` (kind index ``k``, value ``v``), an integer numbering its (kind, value)
    pair: packed beside the kind when the values are narrow enough, else ranked."""
    if k["v"].dtype.is_integer() or k["v"].dtype == pl.Null:
        lo, hi = k["v"].min(), k["v"].max()
        if lo is None:
            lo = hi = 0
        if -(2**40) < lo and hi < 2**40:
            value = (pl.col("v").cast(pl.Int64) - lo + 1).fill_null(0)  # 0: no value
            return k.select(value * len(_KINDS) + pl.col("k"))[:, 0]
    return k.select(pl.struct("k", "v").rank("dense").cast(pl.Int64))[:, 0]


def context_kind() -> pl.Expr:
    """Per row (columns nmi, hardirq, softirq, pid), the index in ``_KINDS`` of the kind of
    context that owns locks taken there (``contexts_of(ev)[i][0] == _KINDS[kind[i]]``)."""
    return (
        pl.when(pl.col("nmi")).then(pl.lit(0))
        .when(pl.col("hardirq")).then(pl.lit(1))
        .when(pl.col("softirq")).then(pl.lit(2))
        .when(pl.col("pid").is_null() | (pl.col("pid") == 0)).then(pl.lit(3))
        .otherwise(pl.lit(4))
        .cast(pl.Int64)
    )


def contexts_of(ev: pl.DataFrame) -> list[tuple]:
    """Per row of ``ev`` (event table columns nmi, hardirq, softirq, pid, cpu), who owns locks
    taken there: (kind, cpu) for an interrupt or the idle task, ("task", pid) otherwise. Rows of
    one context share one tuple."""
    kind = context_kind()
    k = ev.select(kind.alias("k"), pl.when(kind == 4).then(pl.col("pid")).otherwise(pl.col("cpu")).alias("v"))
    ids = _context_ids(k)
    uniq = k.with_columns(id=ids).unique("id")
    shared = {i: (_KINDS[kk], v) for i, kk, v in zip(uniq["id"].to_list(), uniq["k"].to_list(),
                                                     uniq["v"].to_list(), strict=True)}
    return list(map(shared.__getitem__, ids.to_list()))


def shared_list(s: pl.Series) -> list:
    """``s.to_list()``, with one Python object per distinct text value: a column of few distinct
    strings (lock names and addresses) costs a list of references, not a string per row."""
    if s.dtype == pl.String:
        s = s.cast(pl.Categorical)
    elif s.dtype != pl.Categorical:
        return s.to_list()
    u = s.unique()
    values = dict(zip(u.to_physical().to_list(), u.cast(pl.String).to_list(), strict=True))
    values[None] = None
    return list(map(values.__getitem__, s.to_physical().to_list()))


class Replay:
    """Per-event context shared by the models, indexed by row of the event table.

    ``r.pid[i]``, ``r.cpu[i]``, ``r.irqs_off[i]``, ... (see COLUMN_ATTRS) are plain lists,
    made on first use so a trace pays only for the columns its models read.
    """

    def __init__(self, table: TraceTable) -> None:
        self.table = table
        self.findings: list[Finding] = []
        self._scalar_reads = 0

    def __getattr__(self, name: str) -> list:
        col = COLUMN_ATTRS.get(name)
        if col is None:
            raise AttributeError(name)
        if name in BY_ROW:
            # read for findings only (a few rows): index the column, do not copy it
            values = self.table.events[col]
        else:
            values = self.table.events[col].to_list()
        setattr(self, name, values)  # later lookups find the instance attribute directly
        return values

    def _at(self, name: str, i: int):
        """``getattr(self, name)[i]``, for reporting: indexes the table until the column is a
        list or SCALAR_READS reads were served that way."""
        values = self.__dict__.get(name)
        if values is None:
            if self._scalar_reads < SCALAR_READS:
                self._scalar_reads += 1
                return self.table.events[COLUMN_ATTRS[name]][i]
            values = getattr(self, name)
        return values[i]

    @cached_property
    def contexts(self) -> list[tuple]:
        """Per row, who owns locks taken there: the interrupt on its CPU, else the task.

        Locks taken in interrupt context belong to that interrupt, not to the interrupted
        task's stack; pid 0 is a per-CPU idle task.
        """
        return contexts_of(self.table.events)

    def contexts_at(self, ix: pl.Series) -> list[tuple]:
        """``[contexts[i] for i in ix]``, computed for those rows only."""
        contexts = self.__dict__.get("contexts")
        if contexts is not None:
            return list(map(contexts.__getitem__, ix.to_list()))
        ev = self.table.events
        return contexts_of(pl.DataFrame([ev[c].gather(ix) for c in ("nmi", "hardirq", "softirq", "pid", "cpu")]))

    # -- context helpers --------------------------------------------------------------------
    def task(self, i: int) -> str:
        comm = self.comm[i] if self.comm[i] is not None else "?"
        pid = self._at("pid", i)
        return f"{comm}-{pid}" if pid is not None else comm

    def context(self, i: int) -> tuple:
        """Who owns locks taken at event i (see ``contexts``)."""
        contexts = self.__dict__.get("contexts")
        if contexts is None:
            if self._scalar_reads < SCALAR_READS:
                at = self._at
                if at("nmi", i):
                    return ("nmi", at("cpu", i))
                if at("hardirq", i):
                    return ("hardirq", at("cpu", i))
                if at("softirq", i):
                    return ("softirq", at("cpu", i))
                pid = at("pid", i)
                return ("idle", at("cpu", i)) if pid is None or pid == 0 else ("task", pid)
            contexts = self.contexts
        return contexts[i]

    def context_name(self, ctx: tuple, i: int) -> str:
        if ctx[0] == "task" or ctx[0] == "idle":
            return self.task(i)
        return f"{ctx[0]} on CPU {ctx[1]} (interrupting {self.task(i)})"

    def evidence(self, i: int, note: str = "") -> Evidence:
        return Evidence(self.file[i], self.line[i], note, self.ts[i])

    def order_uncertain(self, i: int, j: int) -> bool:
        """Events on different CPUs closer in time than per-CPU trace clocks can be trusted:
        the merged trace may show them in the wrong order (equal stamps are common under
        emulation and with coarse clocks)."""
        a, b = self.ts[i], self.ts[j]
        return self._at("cpu", i) != self._at("cpu", j) and a is not None and b is not None and abs(a - b) < CROSS_CPU_SLACK_NS

    def where(self, i: int) -> str:
        return f"{self.file[i]}:{self.line[i]}"

    def incomplete(self, i: int) -> str | None:
        return self.table.incomplete_at(self.file[i], self.ts[i], self._at("cpu", i))

    def gap_between(self, j: int, i: int) -> str | None:
        """Why the trace is incomplete somewhere between rows j and i, if it is."""
        if self.ts[j] is None or self.ts[i] is None:
            return self.incomplete(i)
        lo, hi = sorted((self.ts[j], self.ts[i]))
        return self.table.incomplete_between(self.file[i], lo, hi) or self.incomplete(i)

    def _incomplete_span(self, i: int, evidence: list[Evidence]) -> str | None:
        """Is the trace incomplete anywhere between the earliest evidence and event i? A task's
        history that crosses a lost or overwritten window may be missing the event that makes
        the finding wrong (it may have migrated to a CPU whose older events were overwritten)."""
        stamps = [e.ts_ns for e in evidence if e.ts_ns is not None and e.file == self.file[i]]
        hi = self.ts[i]
        if not stamps or hi is None:
            return self.incomplete(i)
        return self.table.incomplete_between(self.file[i], min(min(stamps), hi), max(max(stamps), hi)) \
            or self.incomplete(i)

    def emit(self, rule: str, i: int, title: str, objects: list[str], evidence: Iterable[Evidence] = (),
             **kw) -> Finding:
        """Record a finding triggered by event i; a finding in an incomplete window says so."""
        evidence = list(evidence)
        f = Finding(
            rule=rule,
            title=title,
            file=self.file[i],
            line=self.line[i],
            objects=objects,
            evidence=evidence,
            ts_ns=self.ts[i],
            task=self.task(i),
            cpu=self._at("cpu", i),
            incomplete=kw.pop("incomplete", None) or self._incomplete_span(i, evidence),
            **kw,
        )
        self.findings.append(f)
        return f


# One mapping entry's operations: (op, event name, frame of ``_i`` (the event's row) and the
# operands).
Group = tuple[str, str, pl.DataFrame]


class Model:
    """A shadow model. OPS maps each operation it consumes to the operands it needs; for an
    operation ``fence.signal`` the model defines ``op_signal(self, i, *operands)``."""

    name = "model"
    OPS: dict[str, tuple[str, ...]] = {}

    def __init__(self, replay: Replay) -> None:
        self.r = replay

    def handler(self, op: str) -> Callable:
        return getattr(self, "op_" + op.split(".", 1)[1])

    def run(self, groups: list[Group], order: list[int]) -> None:
        """Apply this model's operations in trace order: ``order[k]`` is the group of the k-th.

        One handler call per operation; a model with a hot path overrides this with one loop
        over operands it derives in polars (the handlers stay the reference semantics)."""
        handlers = [self.handler(op) for op, _, _ in groups]
        nexts = [iter(zip(*(sub[c].to_list() for c in sub.columns), strict=True)).__next__ for _, _, sub in groups]
        for g in order:
            handlers[g](*nexts[g]())

    def finish(self) -> None:
        """End of trace: report what is still open."""

    def state_of(self, obj: str) -> str | None:
        """The model's view of one object (a lock class or address, a fence ``context:seqno``,
        a pointer) right now, for ``tracereplay history``; None when the model does not know it."""
        return None


def all_model_classes() -> list[type[Model]]:
    from .models import MODEL_CLASSES

    return list(MODEL_CLASSES)


def known_ops(models: list[type[Model]] | None = None) -> dict[str, tuple[str, ...]]:
    ops: dict[str, tuple[str, ...]] = {}
    for m in models or all_model_classes():
        ops.update(m.OPS)
    return ops


def operations(table: TraceTable, entries: list[MapEntry], ops: dict[str, tuple[str, ...]]) -> list[Group]:
    """Per mapping entry: (op, event, frame of ``_i`` (the row) and the operands), in table order.

    The rows of the mapped events are found in one pass; each entry then gathers only the
    columns its condition and operands read, for its own rows (a body is copied only for the
    events whose operands parse it). Frames stay polars: a model may derive operands in
    vectorised passes (``Model.run``) before it turns them into lists."""
    ev = table.events
    wanted = [e for e in entries if e.op in ops]
    names = sorted({e.event for e in wanted})
    if not names or ev.is_empty():
        return []
    rows = (ev.select("event").with_row_index("_i").filter(pl.col("event").is_in(names))
            .partition_by("event", as_dict=True, maintain_order=True))
    out = []
    conditions: dict[tuple, pl.DataFrame] = {}  # (event, columns) -> those columns of its rows
    for e in wanted:
        part = rows.get((e.event,))
        if part is None:
            continue
        ix = part["_i"]
        if e.where:
            columns = _columns_of(e.where.partition("=")[0])
            src = conditions.get((e.event, *columns))
            if src is None:  # entries that select rows of one event by one column share it
                src = conditions[(e.event, *columns)] = _gather(ev, ix, columns)
            ix = ix.filter(src.select(condition(e.where, src.schema).fill_null(False))[:, 0])
            if ix.is_empty():
                continue
        specs = [e.fields[n] for n in ops[e.op]]
        src = _gather(ev, ix, sorted({c for spec in specs for c in _columns_of(spec)}))
        sub = src.select(pl.col("_i"), *(operand(spec).alias(n) for n, spec in zip(ops[e.op], specs, strict=True)))
        if sub.is_empty():
            continue
        out.append((e.op, e.event, sub))
    return out


def _gather(ev: pl.DataFrame, ix: pl.Series, columns: list[str]) -> pl.DataFrame:
    """Rows ``ix`` of the table's ``columns``, with ``_i``."""
    return pl.DataFrame([ix.alias("_i"), *(ev[c].gather(ix) for c in columns)])


def _columns_of(spec: str) -> list[str]:
    """The table columns an operand spec reads."""
    if spec.startswith("kv:"):
        return ["args", "body"]
    return [] if spec.startswith("lit:") else [spec]


def stream_order(groups: list[Group]) -> list[int]:
    """The group of each operation of the merged stream, in trace order (ties: mapping order).

    Each group's own rows come in order, so the stream needs only the group sequence."""
    if not groups:
        return []
    if len(groups) == 1:
        return [0] * groups[0][2].height
    # one sort of (row, group) packed into one integer: rows are below 2**32
    n = len(groups)
    keys = pl.concat([sub["_i"].cast(pl.UInt64) * n + g for g, (_, _, sub) in enumerate(groups)])
    return (keys.sort() % n).cast(pl.UInt32).to_list()


def replay(table: TraceTable, *, mappings: list[str] | None = None,
           models: list[type[Model]] | None = None,
           observer: Callable[[int, Model], None] | None = None) -> list[Finding]:
    """Run every model over the trace and return the findings, in trace order.

    ``observer`` (optional) is called after each handled operation with the event's row and the
    model that handled it (``tracereplay history`` reads ``Model.state_of`` there)."""
    # The replay allocates millions of small tuples and records and frees almost none of them
    # until the end: the cyclic collector would rescan them all again and again (a third of the
    # time on a 5M-event trace), and they hold no cycles worth collecting early.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _replay(table, mappings, models, observer)
    finally:
        if was_enabled:
            gc.enable()


def _replay(table: TraceTable, mappings: list[str] | None, models: list[type[Model]] | None,
            observer: Callable[[int, Model], None] | None) -> list[Finding]:
    classes = models or all_model_classes()
    ops = known_ops(classes)
    entries = load_mappings(mappings)
    validate(entries, known_ops(), table.events.columns)
    groups = operations(table, entries, ops)
    findings = None if observer is not None else _replay_by_model(table, classes, groups)
    if findings is None:
        findings = _replay_interleaved(table, classes, groups, observer)
    return sorted(findings, key=lambda f: (f.file, f.line, f.rule))


def _replay_by_model(table: TraceTable, classes: list[type[Model]], groups: list[Group]) -> list[Finding] | None:
    """Each model over its own operations in one run (models share no state, so each sees the
    same operations in the same order as in the merged stream).

    Findings are sorted by (file, line, rule) afterwards, stably: the result equals the merged
    replay's unless two models report the same rule at the same line, where the order would
    depend on the interleaving. Then return None (the caller replays merged)."""
    r = Replay(table)
    owner_of: dict[str, int] = {}
    for k, cls in enumerate(classes):
        for op in cls.OPS:
            owner_of[op] = k  # a later class takes an op over, as in the merged replay
    first: dict[tuple, int] = {}  # (file, line, rule) -> the model that reported it
    for k, cls in enumerate(classes):
        m = cls(r)
        start = len(r.findings)
        mine = [grp for grp in groups if owner_of[grp[0]] == k]
        if mine:
            m.run(mine, stream_order(mine))
        m.finish()
        for f in r.findings[start:]:
            if first.setdefault((f.file, f.line, f.rule), k) != k:
                return None
    return r.findings


def _replay_interleaved(table: TraceTable, classes: list[type[Model]], groups: list[Group],
                        observer: Callable[[int, Model], None] | None) -> list[Finding]:
    """All models over the merged stream, one operation at a time (``history`` observes each)."""
    r = Replay(table)
    instances = [cls(r) for cls in classes]
    owner = {op: m for m in instances for op in m.OPS}
    if groups:
        handlers = [owner[op].handler(op) for op, _, _ in groups]
        nexts = [iter(zip(*(sub[c].to_list() for c in sub.columns), strict=True)).__next__ for _, _, sub in groups]
        models_of = [owner[op] for op, _, _ in groups]
        if observer is None:
            for g in stream_order(groups):
                handlers[g](*nexts[g]())
        else:
            for g in stream_order(groups):
                args = nexts[g]()
                handlers[g](*args)
                observer(args[0], models_of[g])
    for m in instances:
        m.finish()
    return r.findings
