"""The gate's results as JUnit XML: one test case per capture, one failure per new finding.

Follows the schema Jenkins and GitLab read (``testsuites > testsuite > testcase``, with
``failure``/``error`` children carrying ``message`` and ``type`` and the details as text, and
``system-out`` for what does not fail the gate: known findings, findings below --fail-on and the
kernel reports of a paired log).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..gate import CaptureResult, Outcome
from .text import format_finding

SUITE = "tracereplay"


def _case(outcome: Outcome, r: CaptureResult) -> tuple[ET.Element, int, int]:
    case = ET.Element("testcase", {"classname": "tracereplay.check", "name": r.name, "file": r.trace or r.log or r.name,
                                   "time": "0"})
    failures = outcome.failures(r)
    for f in failures:
        el = ET.SubElement(case, "failure", {"message": f"{f.file}:{f.line}: [{f.rule}] {f.title}",
                                             "type": f.rule})
        el.text = format_finding(f)
    for err in r.errors:
        el = ET.SubElement(case, "error", {"message": err, "type": "InputError"})
        el.text = err
    out: list[str] = []
    failing = {id(f) for f in failures}
    rest = [f for f in r.findings if id(f) not in failing]
    if rest:
        out.append("findings that do not fail the gate (known in the baseline or below --fail-on):")
        out += [f"  {f.file}:{f.line}: {f.severity}: [{f.rule}] {f.title} "
                f"({'new' if outcome.is_new(f) else 'known'}, fingerprint {f.fingerprint})" for f in rest]
    if r.reports:
        out.append(f"kernel reports in {r.log}:")
        out += [f"  {r.log}:{rep['line']}: {rep['kind']}: {rep['title']}" for rep in r.reports]
    if out:
        ET.SubElement(case, "system-out").text = "\n".join(out) + "\n"
    return case, len(failures), len(r.errors)


def to_junit(outcome: Outcome) -> str:
    """The JUnit XML document (UTF-8 text with an XML declaration)."""
    suite = ET.Element("testsuite", {"name": SUITE})
    fails = errs = 0
    for r in outcome.results:
        case, nf, ne = _case(outcome, r)
        suite.append(case)
        fails += nf
        errs += ne and 1
    counts = {"tests": str(len(outcome.results)), "failures": str(fails), "errors": str(errs),
              "skipped": "0", "time": "0"}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
