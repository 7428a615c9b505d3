"""Text renderings of statistics frames (aligned table, CSV, JSON, Markdown) and parquet files.

Functions return strings or write files; printing is the CLI's business.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

TEXT_FORMATS = ("table", "csv", "json", "markdown")
FORMATS = TEXT_FORMATS + ("parquet",)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def text_table(df: pl.DataFrame) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cols = df.columns
    rows = [[_cell(v) for v in r] for r in df.iter_rows()]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    right = [_numeric(df.schema[c]) for c in cols]

    def line(cells: list[str]) -> str:
        return "  ".join(
            (c.rjust(w) if r else c.ljust(w)) for c, w, r in zip(cells, widths, right, strict=True)
        ).rstrip()

    out = [line(cols), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    if not rows:
        out.append("(none)")
    return "\n".join(out)


def markdown_table(df: pl.DataFrame) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    out = ["| " + " | ".join(esc(c) for c in df.columns) + " |",
           "|" + "|".join("---:" if _numeric(df.schema[c]) else "---" for c in df.columns) + "|"]
    for r in df.iter_rows():
        out.append("| " + " | ".join(esc("" if v is None else _cell(v)) for v in r) + " |")
    return "\n".join(out)


def render(frames: dict[str, pl.DataFrame], fmt: str, notes: dict[str, str] | None = None) -> str:
    """All frames in one text: `table` and `markdown` with a heading per frame, `csv` with a
    ``# name`` line before each frame when there are several, `json` as one object of row lists."""
    notes = notes or {}
    if fmt == "json":
        return json.dumps({k: v.to_dicts() for k, v in frames.items()}, indent=2, default=str) + "\n"
    parts = []
    for name, df in frames.items():
        note = f" ({notes[name]})" if name in notes else ""
        if fmt == "table":
            parts.append(f"== {name}{note} ==\n{text_table(df)}\n")
        elif fmt == "markdown":
            parts.append(f"## {name}{note}\n\n{markdown_table(df)}\n")
        elif fmt == "csv":
            head = f"# {name}\n" if len(frames) > 1 else ""
            parts.append(head + df.write_csv())
        else:
            raise ValueError(f"not a text format: {fmt}")
    return "\n".join(parts)


def parquet_paths(frames: dict[str, pl.DataFrame], output: str | Path) -> dict[str, Path]:
    """Where each frame goes: `output` itself for one frame, else ``<stem>-<name><suffix>``."""
    out = Path(output)
    if len(frames) == 1:
        return {next(iter(frames)): out}
    suffix = out.suffix or ".parquet"
    return {name: out.with_name(f"{out.stem}-{name}{suffix}") for name in frames}


def write_parquet(frames: dict[str, pl.DataFrame], output: str | Path) -> list[Path]:
    paths = parquet_paths(frames, output)
    for name, path in paths.items():
        frames[name].write_parquet(path)
    return list(paths.values())
