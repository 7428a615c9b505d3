"""The rule catalogue: one TOML file per model family, one table per rule.

Each rule has a stable ID, a severity, a one-line title, the kernel rule it mirrors and a doc
paragraph. Models may only emit findings for rules listed here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    kernel: str  # the kernel check or report this rule mirrors, with its source file
    doc: str
    family: str


@cache
def catalogue() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        family = entry.name[: -len(".toml")]
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for rid, row in data.items():
            if rid in rules:
                raise ValueError(f"rule {rid} defined twice ({family}, {rules[rid].family})")
            if row["severity"] not in ("error", "warning", "info"):
                raise ValueError(f"rule {rid}: bad severity {row['severity']!r}")
            rules[rid] = Rule(
                id=rid,
                severity=row["severity"],
                title=row["title"],
                kernel=row["kernel"],
                doc=" ".join(row["doc"].split()),
                family=family,
            )
    return rules


def rule(rule_id: str) -> Rule:
    try:
        return catalogue()[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule {rule_id!r}") from None
