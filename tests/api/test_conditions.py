"""The conditions helper against a real API server: coexistence, transition times, generations."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from controllers.api import GROUP, VERSION
from controllers.api.feed import CveFeed
from controllers.machinery import conditions
from controllers.machinery.conditions import Cond
from controllers.machinery.rest import Rest
from tests.support.kube import load_yaml_docs

FEED = load_yaml_docs(Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "10-cvefeed.yaml")[0]
OLD = "2020-01-01T00:00:00Z"


MERGE = "application/merge-patch+json"


def _path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/cvefeeds"


def _feed(api: Rest, namespace: str) -> Rest:
    api.request("POST", _path(namespace), FEED)
    return api


def _conditions(api: Rest, namespace: str) -> dict[str, dict[str, Any]]:
    obj = api.request("GET", f"{_path(namespace)}/cvelist")
    return {c["type"]: c for c in obj["status"]["conditions"]}


def test_merge_keeps_transition_time_unless_status_flips() -> None:
    first, flips = conditions.merge([], [Cond("Ready", False, "Waiting")], 1, now=OLD)
    assert [t.type for t in flips] == ["Ready"]
    same, flips = conditions.merge(
        first, [Cond("Ready", False, "StillWaiting", "m")], 2, now="2021-01-01T00:00:00Z"
    )
    assert flips == [] and same[0]["lastTransitionTime"] == OLD and same[0]["reason"] == "StillWaiting"
    flipped, flips = conditions.merge(same, [Cond("Ready", True, "Ok")], 3, now="2022-01-01T00:00:00Z")
    assert flipped[0]["lastTransitionTime"] == "2022-01-01T00:00:00Z" and flips[0].old_status == "False"
    assert flipped[0]["observedGeneration"] == 3


def test_two_controllers_conditions_coexist(operator_api: Rest, cverag_crds: Any, namespace: str) -> None:
    api = _feed(operator_api, namespace)
    errors: list[BaseException] = []

    def writer(kind: str, rounds: int) -> None:
        try:
            for i in range(rounds):
                conditions.apply(api, CveFeed, namespace, "cvelist", [Cond(kind, i % 2 == 0, f"Round{i}")])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t, 15)) for t in ("TopicReady", "SourceReachable")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    found = _conditions(api, namespace)
    assert set(found) == {"TopicReady", "SourceReachable"}
    assert found["TopicReady"]["reason"] == "Round14" and found["SourceReachable"]["reason"] == "Round14"


def test_unchanged_condition_keeps_transition_time(
    operator_api: Rest, cverag_crds: Any, namespace: str
) -> None:
    api = _feed(operator_api, namespace)
    conditions.apply(api, CveFeed, namespace, "cvelist", [Cond("Ready", True, "Synced")])
    # Pretend the condition became True long ago, then re-set it with the same status.
    old = _conditions(api, namespace)["Ready"] | {"lastTransitionTime": OLD}
    api.request(
        "PATCH", f"{_path(namespace)}/cvelist/status", {"status": {"conditions": [old]}}, content_type=MERGE
    )
    _, transitions = conditions.apply(
        api, CveFeed, namespace, "cvelist", [Cond("Ready", True, "StillSynced")]
    )
    ready = _conditions(api, namespace)["Ready"]
    assert transitions == []
    assert ready["lastTransitionTime"] == OLD and ready["reason"] == "StillSynced"
    _, transitions = conditions.apply(api, CveFeed, namespace, "cvelist", [Cond("Ready", False, "Broken")])
    assert [t.type for t in transitions] == ["Ready"]
    assert _conditions(api, namespace)["Ready"]["lastTransitionTime"] != OLD


def test_observed_generation_follows_spec(operator_api: Rest, cverag_crds: Any, namespace: str) -> None:
    api = _feed(operator_api, namespace)
    written, _ = conditions.apply(api, CveFeed, namespace, "cvelist", [Cond("Ready", True, "Synced")])
    assert written["status"]["observedGeneration"] == written["metadata"]["generation"] == 1
    api.request("PATCH", f"{_path(namespace)}/cvelist", {"spec": {"pollInterval": "5m"}}, content_type=MERGE)
    written, _ = conditions.apply(api, CveFeed, namespace, "cvelist", [Cond("Ready", True, "Synced")])
    assert written["metadata"]["generation"] == 2
    assert written["status"]["observedGeneration"] == 2
    assert _conditions(api, namespace)["Ready"]["observedGeneration"] == 2
