"""`tracereplay rules` and `tracereplay explain RULE`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tracereplay.cli import main
from tracereplay.rules import catalogue


def test_rules_text_lists_every_rule():
    res = CliRunner().invoke(main, ["rules"])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "SEVERITY"]
    for r in catalogue().values():
        row = next(line for line in lines if line.startswith(r.id + " "))
        assert row.split()[1] == r.severity and row.endswith(r.title)
        assert f"mirrors: {r.kernel}" in res.stdout


def test_rules_json():
    res = CliRunner().invoke(main, ["rules", "--format", "json"])
    assert res.exit_code == 0
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {r["id"] for r in rows} == set(catalogue())
    cycle = next(r for r in rows if r["id"] == "LOCK-CYCLE")
    rule = catalogue()["LOCK-CYCLE"]
    assert cycle == {"id": rule.id, "severity": rule.severity, "title": rule.title, "kernel": rule.kernel,
                     "family": rule.family, "doc": rule.doc}


def test_explain():
    res = CliRunner().invoke(main, ["explain", "LOCK-CYCLE"])
    assert res.exit_code == 0
    rule = catalogue()["LOCK-CYCLE"]
    assert res.stdout.startswith(f"LOCK-CYCLE: {rule.title}\nseverity: {rule.severity}\n")
    assert " ".join(res.stdout.split("\n\n", 1)[1].split()) == rule.doc
    assert CliRunner().invoke(main, ["explain", "lock-cycle"]).stdout == res.stdout


def test_explain_unknown_rule_is_a_usage_error():
    res = CliRunner().invoke(main, ["explain", "LOCK-NOPE"])
    assert res.exit_code == 2
    assert res.stderr.startswith("tracereplay: error: unknown rule 'LOCK-NOPE'")
    res = CliRunner().invoke(main, ["explain", "LOCK-HELD"])
    assert res.exit_code == 2 and "did you mean LOCK-HELD-AT-END, LOCK-HELD-AT-EXIT?" in res.stderr
