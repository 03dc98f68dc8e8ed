"""Every metric the dashboard and the alert rules name is exported by a real running cverag process.

The processes (tests/observability/conftest.py) are the programs as their pods run them: the
store consumer, the index sync, a feed Job, the RAG API and the operator, each scraped over
HTTP while it works.  Names made by Prometheus' recording rules (``level:metric:op``) are not
exported by anyone and are left out; everything else must be seen in a scrape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import RECORDS
from tests.observability.processes import Observed

MONITORING = Path(__file__).resolve().parents[2] / "bundles" / "monitoring"
NAME = re.compile(r"\b(cverag_[a-z0-9_]+)\b")
# A metric selector: a name followed by a label matcher, a range, or the end of an argument.
SELECTOR = re.compile(r"(?<![\w:.$\"'])([a-zA-Z_][a-zA-Z0-9_]*)\s*(?=\{|\[)")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def rule_exprs() -> list[str]:
    groups = yaml.safe_load((MONITORING / "prometheus-rules.yaml").read_text())["groups"]
    return [str(rule["expr"]) for group in groups for rule in group["rules"]]


def named(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in NAME.findall(expr)}


def exported(observed: list[Observed]) -> set[str]:
    return set().union(*(o.names() for o in observed))


def test_every_dashboard_query_names_exported_metrics(observed: list[Observed]) -> None:
    wanted = named(dashboard_exprs())
    assert len(wanted) >= 15
    assert wanted - exported(observed) == set()


def test_every_rule_names_exported_metrics(observed: list[Observed]) -> None:
    wanted = named(rule_exprs())
    assert wanted - exported(observed) == set()


def test_queries_select_only_cverag_metrics() -> None:
    """Every selector in a query is a cverag name (so the cross-check above covers it all)."""
    for expr in [*dashboard_exprs(), *rule_exprs()]:
        for name in SELECTOR.findall(expr):
            assert name.startswith("cverag_") or name in PROMQL_WORDS, f"{name!r} in {expr}"


def test_the_cross_check_notices_a_metric_nobody_exports(observed: list[Observed]) -> None:
    assert named(["rate(cverag_store_recordz_total[5m])"]) - exported(observed) == {
        "cverag_store_recordz_total"
    }


def test_store_consumer_counts_what_it_did(observed_store: Observed) -> None:
    assert observed_store.value("cverag_store_records_consumed_total") == RECORDS + 1
    assert observed_store.value("cverag_store_versions_written_total") == RECORDS
    assert observed_store.value("cverag_store_dead_lettered_total", reason="invalid-json") == 1
    assert (observed_store.value("cverag_store_batch_duration_seconds_count") or 0) >= 1
    lag = [observed_store.value("cverag_store_consumer_lag_records", partition=str(p)) for p in range(3)]
    assert lag == [0, 0, 0]


def test_index_sync_counts_documents_and_passes(observed_index: Observed) -> None:
    assert observed_index.value("cverag_index_documents_embedded_total") == RECORDS
    assert observed_index.value("cverag_index_backlog_documents") == 0
    assert (observed_index.value("cverag_index_pass_duration_seconds_count") or 0) >= 1


def test_feed_job_is_scraped_while_it_runs(observed_feed: Observed) -> None:
    assert observed_feed.value("cverag_feed_release_info", source="file", release="file:records.jsonl") == 1
    assert observed_feed.value("cverag_feed_records_total", outcome="published") == 0  # still downloading


def test_operator_exports_conditions_and_reconciles(observed_operator: Observed) -> None:
    assert observed_operator.value("cverag_condition_status", kind="CveStore", condition="Ready") == 0
    assert (observed_operator.value("cverag_reconciles_total", kind="CveStore", outcome="success") or 0) >= 1


def test_names_follow_prometheus_conventions(observed: list[Observed]) -> None:
    """cverag_ prefix, snake case, counters end in _total, units spelt out in the name."""
    for program in observed:
        for family in text_string_to_metric_families(program.scrapes[-1]):
            if not family.name.startswith("cverag_"):
                continue
            assert re.fullmatch(r"cverag_[a-z0-9_]+", family.name), family.name
            if family.type == "histogram":
                assert family.name.endswith(("_seconds", "_bytes")), f"{program.program}: {family.name}"
            for sample in family.samples:
                if family.type == "counter" and not sample.name.endswith("_created"):
                    assert sample.name.endswith("_total"), f"{program.program}: {sample.name}"
