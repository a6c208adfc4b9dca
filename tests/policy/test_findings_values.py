"""Severity and Finding values."""

from __future__ import annotations

import json

import pytest

from guard.findings import Finding, Severity, highest_severity


def test_severity_labels_and_order():
    assert [str(severity) for severity in Severity] == ["info", "warn", "high", "block"]
    assert Severity.INFO < Severity.WARN < Severity.HIGH < Severity.BLOCK
    assert Severity.HIGH.label == "high"


def test_severity_parse_any_case():
    assert Severity.parse(" Block ") is Severity.BLOCK


def test_severity_parse_rejects_unknown():
    with pytest.raises(ValueError, match="use one of info, warn, high, block"):
        Severity.parse("critical")


def test_finding_dict_round_trip():
    finding = Finding("path.dot-entry", Severity.HIGH, "PATH gets '.'", action_index=3, variant="foo-1.0[]")

    data = json.loads(json.dumps(finding.to_dict()))

    assert data["severity"] == "high"
    assert Finding.from_dict(data) == finding


def test_highest_severity_of_none():
    assert highest_severity(()) is None
    assert highest_severity([Finding("a", Severity.WARN, "m"), Finding("b", Severity.HIGH, "m")]) is Severity.HIGH


def test_severity_formats_as_label():
    assert f"{Severity.HIGH:>6}|" == "  high|"
