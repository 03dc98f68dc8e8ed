"""The alert rules, checked and unit-tested by Prometheus' own promtool (built from the Go proxy)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from devstack.promtool import VERSION, promtool

MONITORING = Path(__file__).resolve().parents[2] / "bundles" / "monitoring"
RULES = MONITORING / "prometheus-rules.yaml"
RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks.md"


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def run(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool()), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_promtool_accepts_the_rules() -> None:
    done = run("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"SUCCESS: {sum(len(g['rules']) for g in yaml.safe_load(RULES.read_text())['groups'])} rules found"
        in done.stdout
    )


@pytest.mark.parametrize("tests", sorted((MONITORING / "tests").glob("*.yaml")), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(tests: Path) -> None:
    done = run("test", "rules", tests.name, cwd=tests.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_fails_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests can fail: the same series with the alert expected too early is refused."""
    source = yaml.safe_load((MONITORING / "tests" / "alerts.yaml").read_text())
    source["rule_files"] = [str(RULES)]
    first = source["tests"][1]["alert_rule_test"]
    first[0]["exp_alerts"] = first[1]["exp_alerts"]  # LLMReady False for 20m: too early to fire
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(source))
    done = run("test", "rules", str(broken), cwd=tmp_path)
    assert done.returncode != 0
    assert "CveragLLMNotReady" in done.stdout + done.stderr


def test_every_alert_has_a_runbook_section_and_a_summary() -> None:
    anchors = {
        re.sub(r"[^a-z0-9-]", "", line[3:].strip().lower())
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in alerts():
        notes = rule["annotations"]
        assert isinstance(notes, dict)
        assert notes.get("summary"), rule["alert"]
        anchor = str(notes["runbook_url"]).rsplit("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: docs/runbooks.md has no section #{anchor}"


def test_the_issue_s_alerts_are_all_there() -> None:
    names = {rule["alert"] for rule in alerts()}
    assert {
        "CveragReconcileErrors",
        "CveragConsumerLagGrowing",
        "CveragDeadLetters",
        "CveragIndexLag",
        "CveragLLMNotReady",
        "CveragRag5xxRatio",
        "CveragRateLimitSaturation",
    } <= names
    assert VERSION.startswith("v0.3")
