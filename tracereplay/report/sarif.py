"""The gate's findings as SARIF 2.1.0 (GitHub code scanning, GitLab, IDE viewers).

Each finding is a result at the trace file and line of the event that triggered it, with the
evidence events as related locations; the rules come from the catalogue with their doc as help.
"""

from __future__ import annotations

import os
from importlib import metadata
from urllib.parse import quote

from ..gate import Outcome
from ..rules import catalogue

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def artifact_uri(path: str) -> str:
    """A URI for a path: relative paths stay relative (to the working directory), with '/'."""
    if path == "-":
        return "stdin"
    if os.path.isabs(path):
        return "file://" + quote(path.replace(os.sep, "/"))
    return quote(os.path.normpath(path).replace(os.sep, "/"))


def _location(path: str, line: int, message: str | None = None) -> dict:
    loc: dict = {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)},
                                      "region": {"startLine": max(1, line)}}}
    if message:
        loc["message"] = {"text": message}
    return loc


def _version() -> str:
    try:
        return metadata.version("tracereplay")
    except metadata.PackageNotFoundError:
        return "0"


def to_sarif(outcome: Outcome) -> dict:
    rules = sorted(catalogue().values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    driver = {
        "name": "tracereplay",
        "version": _version(),
        "rules": [
            {
                "id": r.id,
                "name": r.id.title().replace("-", ""),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.doc},
                "help": {"text": f"{r.doc}\n\nMirrors: {r.kernel}", "markdown": f"{r.doc}\n\nMirrors: `{r.kernel}`"},
                "defaultConfiguration": {"level": LEVEL[r.severity]},
                "properties": {"kernel": r.kernel, "family": r.family, "severity": r.severity},
            }
            for r in rules
        ],
    }
    results = []
    for cap in outcome.results:
        for f in cap.findings:
            res = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": LEVEL[f.severity],
                "message": {"text": f"{f.title} (objects: {', '.join(f.objects)})" if f.objects else f.title},
                "locations": [_location(f.file, f.line)],
                "partialFingerprints": {"tracereplay/v1": f.fingerprint},
                "properties": {"capture": cap.name, "objects": list(f.objects), "severity": f.severity,
                               "failing": outcome.is_failing(f)},
            }
            if f.evidence:
                res["relatedLocations"] = [
                    {"id": n, **_location(e.file, e.line, e.note or None)} for n, e in enumerate(f.evidence)
                ]
            if outcome.baseline is not None:
                res["baselineState"] = "new" if outcome.is_new(f) else "unchanged"
            results.append(res)
    notes = [
        {"level": "error", "message": {"text": err},
         "locations": [_location(cap.trace or cap.log or cap.name, 1)]}
        for cap in outcome.results for err in cap.errors
    ]
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "results": results,
            "invocations": [{"executionSuccessful": not notes, "toolExecutionNotifications": notes}],
            "columnKind": "unicodeCodePoints",
        }],
    }
