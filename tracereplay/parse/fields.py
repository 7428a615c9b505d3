"""Typed fields of known events, extracted from the body in vectorised passes.

The body formats are the kernel's TP_printk strings (../shared/kernel-spec.md section 2): lock.h,
dma_fence.h, kmem.h, sched.h, rcu.h, and the kprobe/kretprobe layout of trace_kprobe.c. Each
family is extracted only on the rows of its events.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from .grammar import terminal

LOCK_EVENTS = ["lock_acquire", "lock_release", "lock_contended", "lock_acquired"]
CONTENTION_EVENTS = ["contention_begin", "contention_end"]
FENCE_EVENTS = [
    "dma_fence_init", "dma_fence_emit", "dma_fence_enable_signal", "dma_fence_signaled",
    "dma_fence_destroy", "dma_fence_wait_start", "dma_fence_wait_end",
    "dma_fence_used_as_dependency",
    # pre-4.10 names
    "fence_init", "fence_emit", "fence_enable_signal", "fence_signaled", "fence_destroy",
    "fence_wait_start", "fence_wait_end",
]
KMEM_ALLOC = ["kmalloc", "kmem_cache_alloc", "kmalloc_node", "kmem_cache_alloc_node"]
KMEM_FREE = ["kfree", "kmem_cache_free"]

# Typed columns and their dtypes: every table has all of them (null where not applicable).
# Names that repeat (lock classes, call sites, timelines, task names) are Categorical: a null or a
# repeated name costs 4 bytes a row instead of a 16-byte string view, which is most of the
# table's memory on large traces. Per-object values (addresses, pointers, arguments) stay String.
TYPED: dict[str, pl.DataType] = {
    "addr": pl.String,
    "name": pl.Categorical,
    "trylock": pl.Boolean,
    "read": pl.Boolean,
    "lock_flags": pl.Categorical,
    "ret": pl.Int32,  # int, as the kernel's own fields (pid_t, int) are
    "driver": pl.Categorical,
    "timeline": pl.Categorical,
    "context": pl.Int64,
    "seqno": pl.Int64,
    "call_site": pl.Categorical,
    "ptr": pl.String,
    "bytes_req": pl.Int64,
    "bytes_alloc": pl.Int64,
    "gfp_flags": pl.Categorical,
    "prev_comm": pl.Categorical,
    "prev_pid": pl.Int32,
    "prev_state": pl.Categorical,
    "next_comm": pl.Categorical,
    "next_pid": pl.Int32,
    "rcu_name": pl.Categorical,
    "gp_seq": pl.Int64,
    "gp_event": pl.Categorical,
    "probe_site": pl.Categorical,
    "probe_func": pl.String,
    "args": pl.String,
}


def _lock() -> list[pl.Expr]:
    """lock.h: "%p %s%s%s" -> address, "try ", "read ", name (the name may hold spaces).

    Split on the first blank and peel the two markers off: the same fields a regex would give,
    at a third of the cost; an address that is not a LOCK_ADDR voids the row.
    """
    sp = pl.col("body").str.splitn(" ", 2)
    addr, rest = sp.struct.field("field_0"), sp.struct.field("field_1")
    ok = addr.str.contains(rf"^{terminal('LOCK_ADDR')}$") & rest.is_not_null()
    trylock = rest.str.starts_with("try ")
    rest = rest.str.strip_prefix("try ")
    read = rest.str.starts_with("read ")
    name = rest.str.strip_prefix("read ")
    return [
        pl.when(ok).then(addr).alias("addr"),
        pl.when(ok).then(name).alias("name"),
        pl.when(ok).then(trylock).alias("trylock"),
        pl.when(ok).then(read).alias("read"),
    ]


def _contention() -> list[pl.Expr]:
    pat = rf"^(?P<addr>{terminal('LOCK_ADDR')}) \((?:flags=(?P<flags>[^)]*)|ret=(?P<ret>-?\d+))\)"
    m = pl.col("body").str.extract_groups(pat)
    return [
        m.struct.field("addr").alias("addr"),
        m.struct.field("flags").alias("lock_flags"),
        m.struct.field("ret").cast(pl.Int64).alias("ret"),
    ]


def _fence() -> list[pl.Expr]:
    pat = r"driver=(?P<driver>.*?) timeline=(?P<timeline>.*?) context=(?P<context>\d+) seqno=(?P<seqno>\d+)"
    m = pl.col("body").str.extract_groups(pat)
    return [
        m.struct.field("driver").alias("driver"),
        m.struct.field("timeline").alias("timeline"),
        m.struct.field("context").cast(pl.Int64).alias("context"),
        m.struct.field("seqno").cast(pl.Int64).alias("seqno"),
    ]


def kv(key: str, source: str = "body") -> pl.Expr:
    """The value of `key=value` in a body (values end at whitespace)."""
    return pl.col(source).str.extract(rf"(?:^|[\s(]){key}=([^\s,]+)", 1)


def _int_kv(key: str) -> pl.Expr:
    """An integer field: decimal (TP_printk) or 0x-hex (print_fields, `bytes_req=0x10 (16)`)."""
    v = kv(key)
    return (
        pl.when(v.str.starts_with("0x"))
        .then(v.str.slice(2).str.to_integer(base=16, strict=False))
        .otherwise(v.str.extract(r"^(-?\d+)", 1).cast(pl.Int64))
    )


def _kmem() -> list[pl.Expr]:
    return [
        kv("call_site").alias("call_site"),
        kv("ptr").alias("ptr"),
        _int_kv("bytes_req").alias("bytes_req"),
        _int_kv("bytes_alloc").alias("bytes_alloc"),
        kv("gfp_flags").alias("gfp_flags"),
        kv("name").alias("name"),
    ]


def _kmem_layout(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """kmem.h's own layout, "call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s
    node=%d accounted=%s", and its shorter forms (kfree, kmem_cache_free's name=, kernels before
    6.0 without node/accounted): (the fields of the rows in that layout, the other rows).

    The call site and the pointer are the first two words; what follows them repeats from one
    allocation to the next, so its pattern runs once per distinct text. Other layouts (a module
    after the call site, print_fields' hex) go through ``_kmem``.
    """
    words = pl.col("body").str.splitn(" ", 3)
    cs, ptr, rest = (words.struct.field(f"field_{i}") for i in range(3))
    split = rows.select(
        "_row", "event", "body",
        cs.str.strip_prefix("call_site=").alias("call_site"), ptr.str.strip_prefix("ptr=").alias("ptr"),
        rest.alias("rest"),
        (cs.str.starts_with("call_site=") & ptr.str.starts_with("ptr=")
         & ~(cs + ptr).str.contains(",", literal=True)).fill_null(False).alias("ok"),
    )
    tail = (
        r"^(?:bytes_req=(?P<bytes_req>\d+) bytes_alloc=(?P<bytes_alloc>\d+) gfp_flags=(?P<gfp_flags>[^\s,]+)"
        r"(?: node=-?\d+)?(?: accounted=\w+)?|name=(?P<name>[^\s,]+))$"
    )
    m = pl.col("rest").str.extract_groups(tail)
    fields = [
        m.struct.field("bytes_req").cast(pl.Int64).alias("bytes_req"),
        m.struct.field("bytes_alloc").cast(pl.Int64).alias("bytes_alloc"),
        m.struct.field("gfp_flags").alias("gfp_flags"),
        m.struct.field("name").alias("name"),
        (pl.col("rest").is_null() | m.struct.field("bytes_req").is_not_null() | m.struct.field("name").is_not_null())
        .alias("tail_ok"),
    ]
    ok = split.filter("ok")
    distinct = _typed(ok.select("rest").unique().with_columns(fields))
    done = ok.join(distinct, on="rest", how="left", maintain_order="left", nulls_equal=True)
    good = pl.col("tail_ok")
    taken = _typed(done.filter(good).select("_row", "call_site", "ptr", "bytes_req", "bytes_alloc", "gfp_flags", "name"))
    left = pl.concat([split.filter(~pl.col("ok")), done.filter(~good).select(split.columns)])
    return taken, left.select("_row", "event", "body")


def _sched_switch() -> list[pl.Expr]:
    pat = (
        r"prev_comm=(?P<pc>.*?) prev_pid=(?P<pp>-?\d+) .*?prev_state=(?P<ps>\S+) (?:==> )?"
        r"next_comm=(?P<nc>.*?) next_pid=(?P<np>-?\d+)"
    )
    m = pl.col("body").str.extract_groups(pat)
    return [
        m.struct.field("pc").alias("prev_comm"),
        m.struct.field("pp").cast(pl.Int64).alias("prev_pid"),
        m.struct.field("ps").alias("prev_state"),
        m.struct.field("nc").alias("next_comm"),
        m.struct.field("np").cast(pl.Int64).alias("next_pid"),
    ]


def _rcu_gp() -> list[pl.Expr]:
    m = pl.col("body").str.extract_groups(r"^(?P<n>\S+) (?P<s>-?\d+) (?P<e>\S+)")
    return [
        m.struct.field("n").alias("rcu_name"),
        m.struct.field("s").cast(pl.Int64).alias("gp_seq"),
        m.struct.field("e").alias("gp_event"),
    ]


def _probe() -> list[pl.Expr]:
    pat = (
        rf"^\((?P<site>{terminal('PROBE_SITE')})(?: <- (?P<func>{terminal('PROBE_FUNC')}))?\)"
        r"(?: (?P<args>.*))?$"
    )
    m = pl.col("body").str.extract_groups(pat)
    site = m.struct.field("site")
    return [
        site.alias("probe_site"),
        # For an entry probe the probed function is the site's symbol without offset/module.
        pl.coalesce(m.struct.field("func"), site.str.extract(r"^([^+\s]+)", 1)).alias("probe_func"),
        m.struct.field("args").alias("args"),
    ]


# A family: the events it types (None: kprobe/kretprobe bodies of any other event, which start
# with "("), the general extraction, and optionally a faster route for the kernel's own
# layout: rows -> (their fields, the rows not in that layout).
Layout = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]
FAMILIES: list[tuple[list[str] | None, list[pl.Expr], Layout | None]] = []


def _families() -> list[tuple[list[str] | None, list[pl.Expr], Layout | None]]:
    if not FAMILIES:
        FAMILIES.extend([
            (LOCK_EVENTS, _lock(), None),
            (CONTENTION_EVENTS, _contention(), None),
            (FENCE_EVENTS, _fence(), None),
            (KMEM_ALLOC + KMEM_FREE, _kmem(), _kmem_layout),
            (["sched_switch"], _sched_switch(), None),
            (["rcu_grace_period"], _rcu_gp(), None),
            (None, _probe(), None),
        ])
    return FAMILIES


def _family_codes() -> dict[str, int]:
    return {e: k for k, (events, _, _) in enumerate(_families()) for e in events or ()}


def add_typed_fields(df: pl.DataFrame) -> pl.DataFrame:
    """Add every TYPED column; each family's patterns run only on that family's rows.

    Each family is extracted on its own rows only, so the patterns never touch the other rows,
    and the results are put back by row number without re-sorting the table. Each row's family
    is decided in one pass, and absent families cost nothing (a chunk is parsed with a few
    dozen polars calls, so their number matters as much as their size).
    """
    n = len(df)
    probe = len(_families()) - 1
    rows = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "event", "body",
        pl.col("event").replace_strict(_family_codes(), default=None, return_dtype=pl.Int8).alias("_family"),
    ).with_columns(
        pl.when(pl.col("_family").is_null() & pl.col("body").str.starts_with("("))
        .then(pl.lit(probe, dtype=pl.Int8)).otherwise(pl.col("_family")).alias("_family")
    )
    subs: list[pl.DataFrame] = []
    for (code,), family in rows.filter(pl.col("_family").is_not_null()).group_by("_family", maintain_order=True):
        _, exprs, layout = _families()[code]
        family = family.drop("_family")
        if layout is not None:
            done, family = layout(family)
            subs.append(done)
        if len(family):
            subs.append(_extract(family, exprs))
    del rows
    # Each family's columns are put in place by row number (typed already: scattering
    # Categorical codes is cheaper than gathering every column of all families).
    placed: dict[str, pl.Series] = {}
    for sub in subs:
        for c in sub.columns:
            if c in TYPED:
                col = placed.get(c)
                if col is None:
                    col = pl.Series(c, dtype=TYPED[c]).extend_constant(None, n)
                placed[c] = col.scatter(sub["_row"], sub[c])
    return df.with_columns(
        placed[c] if c in placed else pl.lit(None, dtype=dtype).alias(c) for c, dtype in TYPED.items()
    )


_SAMPLE = 2048  # rows of a family looked at to decide whether its bodies repeat


def _extract(rows: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``_row`` and the family's fields of each row.

    Bodies repeat a lot in some families (the same lock taken again and again, the same pair
    of tasks switching): there the patterns run once per distinct body and are joined back.
    Where they do not (allocations: every pointer is new), they run on every row.
    """
    sample = rows["body"].head(_SAMPLE)
    if sample.n_unique() * 2 > len(sample):
        return _typed(rows.lazy().with_columns(exprs).drop("event", "body").collect())
    distinct = _typed(rows.select("body").unique().lazy().with_columns(exprs).collect())
    return rows.join(distinct, on="body", how="left", maintain_order="left").drop("event", "body")


def _typed(df: pl.DataFrame) -> pl.DataFrame:
    """The TYPED dtypes (Categorical names are hashed here, on as few rows as possible)."""
    return df.with_columns(pl.col(c).cast(TYPED[c], strict=False) for c in df.columns if c in TYPED)
