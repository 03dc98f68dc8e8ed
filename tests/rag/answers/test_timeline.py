"""Time-aware answers from the version log, cited down to the version (``CVE-…@vN``).

The expected versions are found in cve-history.jsonl.gz here (its rows in commit order,
repeats collapsed, as the store numbers them), never written down."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.rag.answers.conftest import HistoryStore, when

pytestmark = [pytest.mark.postgres]


def _ask(store: HistoryStore, question: str, **extra: object) -> dict[str, Any]:
    with store.client() as client:
        response = client.post("/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cna_scores(record: dict[str, Any]) -> list[float]:
    return [
        body["baseScore"]
        for metric in record["containers"]["cna"].get("metrics", [])
        for key, body in metric.items()
        if key.startswith("cvssV")
    ]


def _kev_added(record: dict[str, Any]) -> str | None:
    for adp in record["containers"].get("adp", []):
        for metric in adp.get("metrics", []):
            if metric.get("other", {}).get("type") == "kev":
                return str(metric["other"]["content"]["dateAdded"])[:10]
    return None


def _stamp(row: dict[str, Any]) -> str:
    return when(row["commit_date"]).strftime("%Y-%m-%d %H:%M UTC")


@pytest.mark.parametrize("cve", ["CVE-2022-0551", "CVE-2024-2911"])
def test_how_the_cvss_changed_cites_each_rescoring(history_store: HistoryStore, cve: str) -> None:
    chain = history_store.chain(cve)
    steps = [
        n
        for n, row in enumerate(chain, 1)
        if n == 1 or _cna_scores(row["record"]) != _cna_scores(chain[n - 2]["record"])
    ]
    body = _ask(history_store, f"How did the CVSS score of {cve} change over time?")
    answer = body["answer"]
    assert answer.startswith(
        f"The CVSS of {cve} changed {len(steps) - 1} time(s) over its {len(chain)} stored versions:"
    )
    lines = answer.split("\n")[1 : 1 + len(steps)]
    for line, n in zip(lines, steps, strict=True):
        assert line.startswith(f"  {cve}@v{n} (valid from {_stamp(chain[n - 1])}): ")
        for score in _cna_scores(chain[n - 1]["record"]):
            assert f" {float(score):.1f} " in line
    refs = [c["ref"] for c in body["citations"]]
    assert refs[0] == f"{cve}@v{len(chain)}" and {f"{cve}@v{n}" for n in steps} <= set(refs)
    assert (
        answer.endswith(body["answer"].split("Facts from the store:\n")[1])
        and f"Facts from the store:\n{cve}" in answer
    )


def test_when_added_to_kev_names_the_catalog_date_and_the_version(history_store: HistoryStore) -> None:
    cve = "CVE-2024-4358"
    chain = history_store.chain(cve)
    first = next(n for n, row in enumerate(chain, 1) if _kev_added(row["record"]))
    added = history_store.kev[cve]["dateAdded"]
    answer = _ask(history_store, f"When was {cve} added to KEV?")["answer"]
    assert answer.startswith(f"{cve} was added to CISA's Known Exploited Vulnerabilities catalog on {added}")
    assert f"in {cve}@v{first} (valid from {_stamp(chain[first - 1])})." in answer.split("\n")[1]


def test_the_last_update_lists_the_fields_it_changed(history_store: HistoryStore) -> None:
    cve = "CVE-2024-4879"
    chain = history_store.chain(cve)
    n = len(chain)
    answer = _ask(history_store, f"What changed in the last update of {cve}?")["answer"]
    assert answer.startswith(
        f"The last update of {cve} is {cve}@v{n} (valid from {_stamp(chain[-1])}), after {cve}@v{n - 1}"
    )
    old, new = chain[-2]["record"], chain[-1]["record"]
    changed = [line.strip() for line in answer.split("\n") if line.startswith("    /")]
    assert changed, answer
    for line in changed:  # every path named differs between the two records as the file has them
        path = line.split(": ", 1)[0]
        assert _at(old, path) != _at(new, path), line


def _at(doc: Any, pointer: str) -> Any:
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, list):
            doc = doc[int(key)] if int(key) < len(doc) else None
        else:
            doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def test_what_the_record_said_on_a_date_is_that_version(history_store: HistoryStore) -> None:
    cve = "CVE-2024-4358"
    chain = history_store.chain(cve)
    then = max(
        n for n, row in enumerate(chain, 1) if when(row["commit_date"]).date().isoformat() <= "2024-06-05"
    )
    for body in (
        _ask(history_store, f"What did {cve} say on 2024-06-05?"),
        _ask(history_store, f"What does {cve} say?", as_of="2024-06-05"),
    ):
        assert body["answer"].startswith(f"As of 2024-06-05 the store held {cve}@v{then}")
        assert [c["ref"] for c in body["citations"]] == [f"{cve}@v{then}"]
        assert "Known exploited" not in body["answer"]  # KEV added it on 2024-06-13
    now = _ask(history_store, f"What does {cve} say?")
    assert [c["ref"] for c in now["citations"]] == [f"{cve}@v{len(chain)}"] and "Known exploited" in now[
        "answer"
    ]


def test_which_cves_of_a_vendor_changed_this_week(history_store: HistoryStore) -> None:
    as_of = "2024-07-20"
    end = when(as_of + "T23:59:59.999999Z")
    start = end - timedelta(days=7)
    linux = {
        cve
        for cve in {r["cve_id"] for r in history_store.rows}
        if any(
            (a.get("vendor") or "").lower() == "linux" or (a.get("product") or "").lower() == "linux"
            for c in [
                history_store.chain(cve)[-1]["record"]["containers"]["cna"],
                *history_store.chain(cve)[-1]["record"]["containers"].get("adp", []),
            ]
            for a in c.get("affected", [])
        )
    }
    expected = {
        f"{cve}@v{n}"
        for cve in linux
        for n, row in enumerate(history_store.chain(cve), 1)
        if start <= when(row["commit_date"]) < end
    }
    assert expected, "the history file has Linux changes that week"
    body = _ask(history_store, "Which CVEs of Linux changed this week?", as_of=as_of)
    lines = body["answer"].split("\n")
    count = len({e.split("@")[0] for e in expected})
    assert re.match(
        rf"{count} CVE record\(s\) naming linux\b.* changed from 2024-07-13 to 2024-07-20 23:59 UTC", lines[0]
    )
    listed = {line.split(" ")[2] for line in lines[1:] if line.startswith("  CVE-")}
    assert listed == expected


def test_diff_endpoint(history_store: HistoryStore) -> None:
    cve = "CVE-2024-4358"
    chain = history_store.chain(cve)
    first = next(n for n, row in enumerate(chain, 1) if _kev_added(row["record"]))
    with history_store.client() as client:
        last = client.get(f"/v1/cves/{cve.lower()}/diff").json()
        kev = client.get(f"/v1/cves/{cve}/diff", params={"from": f"v{first - 1}", "to": str(first)}).json()
        dated = client.get(f"/v1/cves/{cve}/diff", params={"from": "2024-06-05", "to": "2024-06-20"}).json()
        problems = [
            client.get(f"/v1/cves/{cve}/diff", params={"from": "v99"}),
            client.get(f"/v1/cves/{cve}/diff", params={"to": "last tuesday"}),
            client.get(f"/v1/cves/{cve}/diff", params={"from": "2024-02-30"}),
            client.get(f"/v1/cves/{cve}/diff", params={"from": "2020-01-01"}),
            client.get("/v1/cves/CVE-2031-99999/diff"),
            client.get("/v1/cves/CVE-31-9/diff"),
        ]
    assert (last["from"]["version"], last["to"]["version"]) == (len(chain) - 1, len(chain))
    assert last["to"]["ref"] == f"{cve}@v{len(chain)}"
    assert "kev" in kev["changes"] and any(d["path"].startswith("/containers/adp") for d in kev["diff"])
    assert kev["to"]["valid_from"].startswith(chain[first - 1]["commit_date"][:19])
    assert "kev" in dated["changes"]
    assert [p.status_code for p in problems] == [422, 422, 422, 422, 404, 400]
    assert (
        problems[0].json()["errors"][0]["field"] == "from"
        and f"1 to {len(chain)}" in problems[0].json()["detail"]
    )
    assert problems[1].json()["errors"][0]["field"] == "to"
    assert all(p.headers["content-type"] == "application/problem+json" for p in problems)


def test_between_two_named_versions_is_the_store_diff(history_store: HistoryStore) -> None:
    cve = "CVE-2024-3727"
    chain = history_store.chain(cve)
    answer = _ask(history_store, f"What changed in {cve} between v2 and v5?")["answer"]
    assert answer.startswith(
        f"Between {cve}@v2 (valid from {_stamp(chain[1])}) and {cve}@v5 (valid from {_stamp(chain[4])})"
    )
    for line in (line.strip() for line in answer.split("\n") if line.startswith("    /")):
        path = line.split(": ", 1)[0]
        assert _at(chain[1]["record"], path) != _at(chain[4]["record"], path), line
    beyond = _ask(history_store, f"What changed in {cve} between v2 and v{len(chain) + 1}?")["answer"]
    assert beyond.startswith(f"{cve} has versions 1 to {len(chain)}, not 'v{len(chain) + 1}'.")


def test_a_month_named_means_the_record_as_that_month_ended(history_store: HistoryStore) -> None:
    cve = "CVE-2022-0551"
    chain = history_store.chain(cve)
    then = max(n for n, row in enumerate(chain, 1) if row["commit_date"][:10] <= "2024-06-30")
    body = _ask(history_store, f"What was the severity of {cve} in June 2024?")
    assert body["answer"].startswith(f"As of 2024-06-30 the store held {cve}@v{then}")
    assert [c["ref"] for c in body["citations"]] == [f"{cve}@v{then}"]
