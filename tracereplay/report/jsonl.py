"""Findings as JSON Lines: one finding per line (keys: rule, severity, title, file, line,
objects, evidence, fingerprint, ...)."""

from __future__ import annotations

import json

from ..findings import Finding


def to_jsonl(findings: list[Finding]) -> str:
    return "".join(json.dumps(f.to_dict(), sort_keys=False) + "\n" for f in findings)
