"""Project settings for ``tracereplay check``: ``tracereplay.toml`` or ``[tool.tracereplay]`` in
``pyproject.toml``, found by searching from the current directory upward.

In each directory ``tracereplay.toml`` (its top level, or its ``[tool.tracereplay]`` table) is
looked at first, then ``pyproject.toml`` when it has a ``[tool.tracereplay]`` table; the first
directory that has either wins. Keys (``-`` or ``_`` spellings)::

    fail-on = "warning"           # error | warning | info
    select = ["LOCK-"]            # rule IDs or prefixes
    ignore = ["LOCK-SAME-CLASS"]
    baseline = "ci/known.json"    # relative to the settings file
    mapping = ["ci/mydriver.toml"]
    jobs = 4

Options given on the command line win over the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

FAIL_ON = ("error", "warning", "info")
_KEYS = {"fail-on", "select", "ignore", "baseline", "mapping", "jobs"}


@dataclass
class Config:
    fail_on: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    baseline: str | None = None
    mapping: list[str] = field(default_factory=list)
    jobs: int | None = None
    source: str | None = None  # the file the settings came from


def _table(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}") from None
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "tracereplay" in tool:
        return tool["tracereplay"]
    if path.name == "pyproject.toml":
        return None
    return {k: v for k, v in data.items() if k != "tool"}


def _strings(path: Path, key: str, value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"{path}: {key} must be a string or a list of strings")


def parse(path: Path, table: dict) -> Config:
    """Settings from one table; paths are made relative to the file's directory."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.tracereplay] must be a table")
    cfg = Config(source=str(path))
    base = path.parent
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        if key not in _KEYS:
            raise UsageError(f"{path}: unknown setting {raw_key!r} (known: {', '.join(sorted(_KEYS))})")
        if key == "fail-on":
            if value not in FAIL_ON:
                raise UsageError(f"{path}: fail-on must be one of {', '.join(FAIL_ON)}, not {value!r}")
            cfg.fail_on = value
        elif key in ("select", "ignore"):
            setattr(cfg, key, _strings(path, key, value))
        elif key == "baseline":
            if not isinstance(value, str):
                raise UsageError(f"{path}: baseline must be a path")
            cfg.baseline = str(base / value)
        elif key == "mapping":
            cfg.mapping = [str(base / v) for v in _strings(path, key, value)]
        elif key == "jobs":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{path}: jobs must be a positive integer")
            cfg.jobs = value
    return cfg


def find(start: str | Path | None = None) -> Path | None:
    """The settings file that applies in ``start`` (default: the current directory)."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        own = d / "tracereplay.toml"
        if own.is_file():
            return own
        py = d / "pyproject.toml"
        if py.is_file() and _table(py) is not None:
            return py
    return None


def load(path: str | Path | None = None, start: str | Path | None = None) -> Config:
    """Settings from ``path`` when given, else from the file :func:`find` finds, else defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"{p}: no such settings file")
    else:
        p = find(start)
        if p is None:
            return Config()
    table = _table(p)
    return parse(p, table if table is not None else {})
