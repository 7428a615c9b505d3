"""How models name memory: an address as the trace prints it, normalised so that two prints of one
pointer compare alike, and the objects ``tracereplay history`` asks about.

%p prints a 32-bit hash padded to 16 hex digits (or the raw pointer under no_hash_pointers),
kprobes print 0x-prefixed raw values, and %p without an entropy source prints
"(____ptrval____)": ``addr_key`` keeps hashed and raw values apart and drops what names no
object.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from ..engine import shared_list


def norm_addr(addr: str | None) -> str:
    """An address as the trace prints it, with or without 0x and leading zeros, compared alike."""
    return (addr or "").lower().removeprefix("0x").lstrip("0")


@lru_cache(maxsize=1 << 16)
def addr_key(v) -> tuple[str, str] | None:
    """(namespace, normalised address), or None for NULL/unusable values."""
    if v is None:
        return None
    s = str(v).strip().lower()
    if not s or "ptrval" in s or s == "(null)":
        return None
    if s.startswith("0x"):
        try:
            n = int(s, 16)
        except ValueError:
            return None
        return None if n == 0 else ("raw", f"0x{n:x}")
    if s.strip("0") == "":
        return None
    # %p hashes are 32 bits printed in 16 hex digits (leading zeros); a 16-digit value that is
    # not zero-padded is a raw pointer printed by %p under no_hash_pointers (or %lx).
    if len(s) == 16 and not s.startswith("00000000"):
        try:
            return ("raw", f"0x{int(s, 16):x}")
        except ValueError:
            return ("hashed", s)
    return ("hashed", s)


def addr_key_list(s: pl.Series, values: list | None = None) -> list[tuple[str, str] | None]:
    """``addr_key`` of each value of ``s`` (``values``: ``s.to_list()`` if the caller has it).

    The shapes tracepoints and kprobes print (bare hex digits, 0x-prefixed hex) are normalised
    in one vectorised pass; any other value goes through ``addr_key`` itself."""
    values = s.to_list() if values is None else values
    if s.dtype not in (pl.String, pl.Categorical):
        return [addr_key(v) for v in values]
    text = s.cast(pl.String)
    f = pl.DataFrame({"s": text, "v": text.str.to_lowercase()})
    v = pl.col("v")
    f = f.with_columns(bare=v.str.contains(r"^[0-9a-f]+$"), prefixed=v.str.contains(r"^0x[0-9a-f]+$"))
    bare, prefixed = pl.col("bare"), pl.col("prefixed")
    digits = pl.when(prefixed).then(v.str.slice(2)).otherwise(v).str.strip_chars_start("0")
    # as addr_key: zero is NULL; 16 digits not zero-padded to 32 bits are a raw pointer
    shaped = (bare | prefixed).fill_null(False)
    raw = prefixed | (bare & (v.str.len_bytes() == 16) & ~v.str.starts_with("00000000"))
    f = f.with_columns(raw=raw, digits=digits, shaped=shaped)
    raw, digits = pl.col("raw"), pl.col("digits")
    addr = pl.when(raw).then("0x" + digits).otherwise(v)
    out = f.select(
        ns=pl.when(~pl.col("shaped") | (digits == "")).then(None).when(raw).then(pl.lit("raw"))
        .otherwise(pl.lit("hashed")),
        # null where the key's address is the value as printed: the caller's string is reused
        addr=pl.when(addr == pl.col("s")).then(None).otherwise(addr),
        shaped="shaped",
    )
    ns, addrs = shared_list(out["ns"]), out["addr"].to_list()
    if not out["ns"].null_count():  # every value shaped and not NULL
        same = out["addr"].null_count()
        if same == len(out):
            return list(zip(ns, values, strict=True))
        if not same:
            return list(zip(ns, addrs, strict=True))
    return [(n, x if a is None else a) if n is not None else (addr_key(x) if not ok else None)
            for n, a, ok, x in zip(ns, addrs, out["shaped"].to_list(), values, strict=True)]


@lru_cache(maxsize=64)
def query(obj: str) -> tuple[str, str]:
    """A ``tracereplay history`` object for ``Model.state_of``: (kind, normalised), with the
    kind from ``tracereplay.debug.history.object_kind`` (fence, task, address, name) and the
    value normalised as history matches it (an address without 0x and leading zeros, a pid)."""
    from ..debug.history import object_kind

    o = obj.strip()
    kind = object_kind(o)
    if kind == "address":
        return kind, norm_addr(o)
    if kind == "task":
        return kind, o if o.isdigit() else o.rsplit("-", 1)[1]
    return kind, o


def addr_keys(obj: str) -> list[tuple[str, str]]:
    """The ``addr_key`` values a history address may stand for, most likely first: as written,
    then as a raw pointer and as a zero-padded hashed %p (history matches either)."""
    kind, d = query(obj)
    if kind != "address" or not d:
        return []
    out = []
    for k in (addr_key(obj.strip()), ("raw", "0x" + d), ("hashed", d.zfill(16)), ("hashed", d)):
        if k is not None and k not in out:
            out.append(k)
    return out
