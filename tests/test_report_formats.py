"""The gate's report formats on a known outcome: JUnit, SARIF, markdown summary, --json."""

from __future__ import annotations

import json

import pytest
from gate_traces import LOCKDEP_LOG, lock_trace
from report_checks import check_junit, check_sarif

from tracereplay import gate
from tracereplay.report.junit import to_junit
from tracereplay.report.sarif import artifact_uri, to_sarif
from tracereplay.report.summary import to_markdown
from tracereplay.rules import catalogue


@pytest.fixture
def outcome(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.trace.txt").write_text(lock_trace("olddrv", abba=True))
    (tmp_path / "old.dmesg.txt").write_text(LOCKDEP_LOG.format(cls="olddrv"))
    (tmp_path / "new file.txt").write_text(lock_trace("newdrv", abba=True, seed=3))
    (tmp_path / "clean.txt").write_text(lock_trace("cleandrv", abba=False))
    (tmp_path / "broken.txt").write_bytes(b"\x00\x01binary")
    corpus, results = gate.check_corpus(["."], jobs=1)
    known = [e for e in gate.baseline_entries(results) if "olddrv" in e.title]
    known.append(gate.BaselineEntry("0123456789abcdef", "LOCK-CYCLE", "a bug fixed long ago", "gone.txt"))
    return gate.evaluate(results, fail_on="error", baseline=known, skipped=corpus.skipped)


def test_outcome(outcome):
    s = outcome.summary()
    assert (s["captures"], s["findings"], s["new"], s["known"], s["failing"], s["errors"], s["stale"]) == \
        (4, 2, 1, 1, 1, 1, 1)
    assert outcome.exit_code == 1
    assert [e.title for e in outcome.stale] == ["a bug fixed long ago"]


def test_junit(outcome, tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(to_junit(outcome))
    got = check_junit(path)
    assert got == {"tests": 4, "failures": {"new file.txt": ["LOCK-CYCLE"]}, "errors": {"broken.txt"}}
    text = path.read_text()
    # the known finding and the paired log's report are listed, not failed
    assert "known, fingerprint" in text and "kernel reports in old.dmesg.txt" in text
    assert "possible deadlock in drv_path_b" in text


def test_sarif(outcome):
    doc = check_sarif(json.loads(json.dumps(to_sarif(outcome))))
    run = doc["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(catalogue())
    cycle = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "LOCK-CYCLE")
    assert cycle["help"]["text"].startswith(catalogue()["LOCK-CYCLE"].doc)
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in run["results"]}
    assert set(by_uri) == {"new%20file.txt", "old.trace.txt"}
    new = by_uri["new%20file.txt"]
    assert new["level"] == "error" and new["baselineState"] == "new"
    assert new["locations"][0]["physicalLocation"]["region"]["startLine"] > 12
    assert by_uri["old.trace.txt"]["baselineState"] == "unchanged"
    assert len(new["relatedLocations"]) == 4
    assert run["invocations"][0]["executionSuccessful"] is False
    assert "binary file" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]


def test_sarif_uris():
    assert artifact_uri("a/b c.txt") == "a/b%20c.txt"
    assert artifact_uri("/abs/x.txt") == "file:///abs/x.txt"
    assert artifact_uri("./x/../y.txt") == "y.txt"


def test_markdown_summary(outcome):
    md = to_markdown(outcome)
    assert md.startswith("### tracereplay: failed\n")
    assert "4 captures checked: 2 findings (1 new, 1 known), 1 failing at or above `error`" in md
    assert "| `LOCK-CYCLE` | error |" in md and "newdrv" in md and "olddrv" not in md
    assert "`broken.txt`" in md and "`0123456789abcdef`" in md
    assert md.count("\n") < 25


def test_json_document(outcome):
    doc = json.loads(json.dumps(outcome.to_dict()))
    assert doc["summary"]["exit_code"] == 1
    caps = {c["name"]: c for c in doc["captures"]}
    assert caps["new file.txt"]["findings"][0]["new"] is True
    assert caps["old.trace.txt"]["findings"][0]["failing"] is False
    assert caps["old.trace.txt"]["reports"][0]["kind"]
    assert {"rule", "severity", "title", "file", "line", "objects", "evidence", "fingerprint"} <= \
        set(caps["new file.txt"]["findings"][0])
    assert doc["stale"][0]["fingerprint"] == "0123456789abcdef"


def test_passing_outcome_formats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.txt").write_text(lock_trace("c", abba=False))
    _, results = gate.check_corpus(["clean.txt"], jobs=1)
    out = gate.evaluate(results)
    assert out.exit_code == 0
    assert to_markdown(out).startswith("### tracereplay: passed")
    (tmp_path / "j.xml").write_text(to_junit(out))
    assert check_junit(tmp_path / "j.xml") == {"tests": 1, "failures": {}, "errors": set()}
    assert check_sarif(to_sarif(out))["runs"][0]["results"] == []
