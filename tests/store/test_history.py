"""Real CVE history (cve-history.jsonl.gz) ingested in commit order through Kafka.

Expectations are computed here from the file alone: the versions of a CVE are its
contents in commit order with consecutive duplicates collapsed (a return to an earlier
content counts), each valid from the commit that introduced it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import settings
from tests.store.helpers import history_messages, history_rows, produce
from workloads.common.records import content_hash
from workloads.store import StoreReader, StoreTarget
from workloads.store.consumer import StoreConsumer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

# selection_reason of a CVE in the file -> the change-summary topic one of its versions must name.
REASON_TOPIC = {
    "kev_added": "kev",
    "cna_cvss_changed": "cvss",
    "cisa_adp_cvss_changed": "cvss",
    "ssvc_changed": "ssvc",
    "cna_description_changed": "description",
    "state:PUBLISHED->REJECTED": "state",
    "state:REJECTED->PUBLISHED": "state",
    "cisa_adp_cwe_changed": "cwe",
    "cna_affected_changed": "affected",
    "cna_references_changed": "references",
    "dataVersion_changed": "data_version",
}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_versions(rows: list[dict[str, Any]]) -> dict[str, list[tuple[str, datetime]]]:
    """cve_id -> [(sha256, valid_from)] with consecutive identical contents collapsed."""
    versions: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for row in rows:
        sha = content_hash(row["record"])
        chain = versions[row["cve_id"]]
        if not chain or chain[-1][0] != sha:
            chain.append((sha, when(row["commit_date"])))
    return versions


@pytest.fixture(scope="module")
def history(kafka: Any, postgres: Any, shared_data: Path) -> Any:
    from devstack.scratch import create_topic, drop_schema, unique
    from workloads.store.migrate import migrate

    rows = history_rows(shared_data)
    target = StoreTarget(postgres.dsn, unique("history"))
    migrate(target)
    topic = create_topic(kafka.bootstrap)
    produce(kafka.bootstrap, topic, history_messages(rows))
    summary = StoreConsumer(settings(kafka, topic, batch_size=97), target).run()
    yield rows, target, summary
    drop_schema(postgres.dsn, target.schema)


def test_versions_are_the_content_changes_in_commit_order(history: Any) -> None:
    rows, target, summary = history
    expected = expected_versions(rows)
    assert summary["consumed"] == len(rows)
    assert summary["versions"] == sum(len(chain) for chain in expected.values())
    with StoreReader(target) as store:
        for cve, chain in expected.items():
            stored = store.history(cve)
            assert [v.version for v in stored] == list(range(1, len(chain) + 1)), cve
            assert [(v.sha256, v.valid_from) for v in stored] == chain, cve
            assert [v.valid_to for v in stored] == [start for _, start in chain[1:]] + [None], cve


def test_flip_backs_make_new_versions(history: Any) -> None:
    rows, target, _ = history
    flipping = {
        cve: chain
        for cve, chain in expected_versions(rows).items()
        if len({s for s, _ in chain}) < len(chain)
    }
    assert flipping, "the history file is known to contain records that flip back"
    with StoreReader(target) as store:
        for cve, chain in flipping.items():
            assert len(store.history(cve)) == len(chain)


def test_get_as_of_each_commit_returns_the_version_current_then(history: Any) -> None:
    rows, target, _ = history
    with StoreReader(target) as store:
        for row in rows:
            found = store.get(row["cve_id"], as_of=row["commit_date"])
            assert found is not None and found.sha256 == content_hash(row["record"]), row["commit"]
            assert found.record == row["record"]
        first = min(rows, key=lambda r: when(r["commit_date"]))
        before = when(first["commit_date"]).replace(year=2000)
        assert store.get(first["cve_id"], as_of=before) is None
        latest = {row["cve_id"]: row for row in rows}
        for cve, row in latest.items():
            current = store.get(cve)
            assert (
                current is not None and current.is_current and current.sha256 == content_hash(row["record"])
            )


def test_change_summaries_name_what_changed(history: Any) -> None:
    rows, target, _ = history
    reasons = {row["cve_id"]: row["selection_reason"] for row in rows}
    with StoreReader(target) as store:
        for cve, reason in reasons.items():
            versions = store.history(cve)
            assert versions[0].changes == ["created"] and versions[0].diff is None
            named = {topic for v in versions[1:] for topic in v.changes}
            if reason in REASON_TOPIC:
                assert REASON_TOPIC[reason] in named, (cve, reason, named)
            for older, newer in itertools.pairwise(versions):
                assert ("state" in newer.changes) == (older.state != newer.state), (cve, newer.version)
            if reason.startswith("state:"):
                assert {"PUBLISHED", "REJECTED"} <= {v.state for v in versions}, cve


def resolve(doc: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    return doc


def test_field_diffs_lead_from_each_version_to_the_next(history: Any) -> None:
    _, target, _ = history
    checked = 0
    with StoreReader(target) as store:
        for cve in sorted(_cves(target)):
            versions = store.history(cve, with_records=True)
            for older, newer in itertools.pairwise(versions):
                assert newer.diff, (cve, newer.version)
                for entry in newer.diff:
                    if entry["op"] in ("replace", "remove"):
                        assert resolve(older.record, entry["path"]) == entry["old"]
                    if entry["op"] in ("replace", "add"):
                        assert resolve(newer.record, entry["path"]) == entry["new"]
                    checked += 1
    assert checked > 100


def _cves(target: StoreTarget) -> set[str]:
    with StoreReader(target) as store:
        return {str(row[0]) for row in store.conn.execute("SELECT cve_id FROM cves").fetchall()}


def test_out_of_order_flags_follow_date_updated(history: Any) -> None:
    _rows, target, summary = history
    with StoreReader(target) as store:
        flagged = store.conn.execute("SELECT count(*) FROM cve_versions WHERE out_of_order").fetchone()
        backwards = store.conn.execute(
            "SELECT count(*) FROM cve_versions v JOIN cve_versions p ON p.cve_id = v.cve_id"
            " AND p.version = v.version - 1 WHERE v.date_updated < p.date_updated"
        ).fetchone()
    assert flagged is not None and backwards is not None
    assert flagged[0] == backwards[0] == summary["out_of_order"]
    assert flagged[0] > 0, "real history has dateUpdated going backwards"
