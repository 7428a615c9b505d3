"""Validators for the gate's JUnit and SARIF files, shared by the tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from junitparser import Error, Failure, JUnitXml

# The elements and attributes of the JUnit schema Jenkins (jenkins-junit.xsd) and GitLab read.
_CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err", "properties"}
_SUITE_REQUIRED = {"name", "tests"}
_NUMERIC = ("tests", "failures", "errors", "skipped")

# A minimal SARIF 2.1.0 schema: the structure code-scanning consumers require.
SARIF_SCHEMA = {
    "type": "object",
    "required": ["version", "$schema", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "pattern": "sarif-2\\.1\\.0"},
        "runs": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object", "required": ["driver"],
                        "properties": {"driver": {
                            "type": "object", "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string"},
                                "rules": {"type": "array", "items": {
                                    "type": "object", "required": ["id", "shortDescription", "help"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "shortDescription": {"$ref": "#/$defs/message"},
                                        "fullDescription": {"$ref": "#/$defs/message"},
                                        "help": {"$ref": "#/$defs/message"},
                                        "defaultConfiguration": {"type": "object", "properties": {
                                            "level": {"$ref": "#/$defs/level"}}},
                                    },
                                }},
                            },
                        }},
                    },
                    "results": {"type": "array", "items": {
                        "type": "object", "required": ["ruleId", "level", "message", "locations"],
                        "properties": {
                            "ruleId": {"type": "string"},
                            "ruleIndex": {"type": "integer", "minimum": 0},
                            "level": {"$ref": "#/$defs/level"},
                            "message": {"$ref": "#/$defs/message"},
                            "locations": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/location"}},
                            "relatedLocations": {"type": "array", "items": {"$ref": "#/$defs/location"}},
                            "partialFingerprints": {"type": "object",
                                                    "additionalProperties": {"type": "string"}},
                            "baselineState": {"enum": ["new", "unchanged", "updated", "absent"]},
                        },
                    }},
                },
            },
        },
    },
    "$defs": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        "location": {
            "type": "object", "required": ["physicalLocation"],
            "properties": {"physicalLocation": {
                "type": "object", "required": ["artifactLocation", "region"],
                "properties": {
                    "artifactLocation": {"type": "object", "required": ["uri"],
                                         "properties": {"uri": {"type": "string", "minLength": 1}}},
                    "region": {"type": "object", "required": ["startLine"],
                               "properties": {"startLine": {"type": "integer", "minimum": 1}}},
                },
            }},
        },
    },
}


def check_sarif(doc: dict) -> dict:
    """Validate ``doc`` against SARIF_SCHEMA (with jsonschema when installed, else by hand) and
    check that every result's rule is in the driver's rules."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        jsonschema.validate(doc, SARIF_SCHEMA)
    else:
        assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
        for run in doc["runs"]:
            for r in run["results"]:
                assert r["level"] in ("none", "note", "warning", "error")
                for loc in r["locations"]:
                    pl = loc["physicalLocation"]
                    assert pl["artifactLocation"]["uri"] and pl["region"]["startLine"] >= 1
    for run in doc["runs"]:
        rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
        for r in run["results"]:
            assert r["ruleId"] in rules
            if "ruleIndex" in r:
                assert rules[r["ruleIndex"]] == r["ruleId"]
    return doc


def check_junit(path: Path) -> dict:
    """Load with junitparser, check the Jenkins/GitLab structure, and return
    {tests, failures: {case: [failure types]}, errors: {case names}}."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite" and _SUITE_REQUIRED <= set(suite.attrib)
        for key in _NUMERIC:
            if key in suite.attrib:
                int(suite.attrib[key])
        cases = list(suite.iter("testcase"))
        assert int(suite.attrib["tests"]) == len(cases)
        assert int(suite.attrib["failures"]) == sum(len(c.findall("failure")) for c in cases)
        assert int(suite.attrib["errors"]) == sum(1 for c in cases if c.find("error") is not None)
        for case in cases:
            assert case.attrib.get("name") and case.attrib.get("classname")
            float(case.attrib.get("time", "0"))
            assert {child.tag for child in case} <= _CASE_CHILDREN
            for res in case:
                if res.tag in ("failure", "error"):
                    assert res.attrib.get("message") and res.attrib.get("type")
    xml = JUnitXml.fromfile(str(path))
    tests = 0
    failures: dict[str, list[str]] = {}
    errors: set[str] = set()
    for suite in xml:
        for case in suite:
            tests += 1
            for res in case.result:
                if isinstance(res, Failure):
                    failures.setdefault(case.name, []).append(res.type)
                elif isinstance(res, Error):
                    errors.add(case.name)
    assert tests == xml.tests if hasattr(xml, "tests") and xml.tests is not None else True
    return {"tests": tests, "failures": failures, "errors": errors}
