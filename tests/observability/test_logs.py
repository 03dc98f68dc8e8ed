"""Every line the suite's real programs logged parses as Fluent Bit's ``cverag_json`` parser would.

The parser's settings are read from bundles/logging/parsers.conf (Format json, Time_Key,
Time_Format); Fluent Bit's ``%L`` (fractional seconds) is Python's ``%f``.  Each line must be
one JSON object with the shared keys, its time in that format.  This checks the parser's
contract on real output; Fluent Bit itself does not run here (no binary is buildable offline).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from controllers.machinery.logging_json import OperatorJsonFormatter
from tests.observability.processes import Observed
from workloads.common.logs import JsonFormatter

PARSERS = Path(__file__).resolve().parents[2] / "bundles" / "logging" / "parsers.conf"
SHAPE = {"time", "level", "logger", "message"}
LEVELS = {"debug", "info", "warning", "error", "critical"}


def parser_settings(name: str = "cverag_json") -> dict[str, str]:
    """The ``[PARSER]`` section called ``name``, as key -> value."""
    sections: list[dict[str, str]] = []
    for raw in PARSERS.read_text().splitlines():
        line = raw.strip()
        if line == "[PARSER]":
            sections.append({})
        elif line and not line.startswith("#") and sections:
            key, _, value = line.partition(" ")
            sections[-1][key] = value.strip()
    return next(s for s in sections if s.get("Name") == name)


def parse(line: str) -> dict[str, object]:
    """What the parser makes of one line: the JSON object, its time key read with Time_Format."""
    settings = parser_settings()
    assert settings["Format"] == "json"
    record = json.loads(line)
    assert isinstance(record, dict), line
    when = str(record[settings["Time_Key"]])
    datetime.strptime(when, settings["Time_Format"].replace("%L", "%f"))
    return record


def test_every_program_logged_only_parsable_lines(observed: list[Observed]) -> None:
    for program in observed:
        assert program.log_lines, f"{program.program} logged nothing"
        for line in program.log_lines:
            if line.startswith('{"event"'):
                continue  # the programs' JSON summaries (stdout in pods), not log records
            record = parse(line)
            assert record.keys() >= SHAPE, f"{program.program}: {line}"
            assert record["level"] in LEVELS, line


def test_identifiers_are_fields(observed_operator: Observed, observed_store: Observed) -> None:
    """The operator's lines about a custom resource name it; a consumer's line about a CVE names it."""
    operator = [parse(line) for line in observed_operator.log_lines]
    assert any({"kind", "namespace", "resource"} <= r.keys() for r in operator), operator[-5:]
    assert all(r["logger"] for r in operator)
    store = [parse(line) for line in observed_store.log_lines]
    assert any(r["logger"] == "workloads.store" for r in store), store[-5:]


def test_the_parser_refuses_a_plain_text_line() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse("2026-12-02 06:50:00,123 INFO workloads.store: consumed 5")
    with pytest.raises(ValueError, match="does not match format"):
        parse('{"time": "2026-12-02 06:50:00", "level": "info", "logger": "x", "message": "m"}')


def test_workloads_and_operator_write_the_same_shape() -> None:
    """controllers cannot import workloads, so the operator has its own formatter: same output."""
    record = logging.makeLogRecord(
        {
            "name": "cverag",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "CVE-2024-3400 is %s",
            "args": ("late",),
            "created": 1_780_000_000.25,
        }
    )
    record.k8s_ref = {"kind": "CveStore", "namespace": "cve", "name": "main"}
    record.kind, record.namespace, record.resource = "CveStore", "cve", "main"
    assert (
        json.loads(JsonFormatter().format(record))
        == json.loads(OperatorJsonFormatter().format(record))
        == {
            "time": "2026-05-28T20:26:40.250Z",
            "level": "warning",
            "logger": "cverag",
            "message": "CVE-2024-3400 is late",
            "cve_id": "CVE-2024-3400",
            "kind": "CveStore",
            "namespace": "cve",
            "resource": "main",
        }
    )
