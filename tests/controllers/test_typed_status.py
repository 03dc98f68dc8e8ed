"""What a handler's typed status turns into on the wire, and the readings every handler shares."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import mypy.api

from controllers.api.feed import CveFeedStatus
from controllers.api.times import parse_rfc3339, rfc3339, seconds
from controllers.clients.objects import Rollout
from controllers.handlers.outcome import merged
from controllers.machinery.conditions import status_fields

ROOT = Path(__file__).resolve().parents[2]


def test_a_status_patch_carries_exactly_the_fields_a_handler_set() -> None:
    status = CveFeedStatus(active_job=None, last_release="cve_2024-06-01_0000Z")
    status.pending_releases = []
    # Unset fields stay out (the stored value is kept); None is sent as null (the field goes).
    assert status_fields(status) == {
        "activeJob": None,
        "lastRelease": "cve_2024-06-01_0000Z",
        "pendingReleases": [],
    }
    assert status_fields(None) == {}


def test_merged_takes_each_part_s_set_fields_left_to_right() -> None:
    first = CveFeedStatus(topic="cves", active_job="sync-1")
    result = merged(first, CveFeedStatus(active_job=None), CveFeedStatus(partitions=6))
    assert status_fields(result) == {"topic": "cves", "activeJob": None, "partitions": 6}
    assert status_fields(first) == {"topic": "cves", "activeJob": "sync-1"}  # the parts are not changed


def test_one_reading_of_durations_and_timestamps() -> None:
    assert [seconds(d) for d in ("1m30s", "2h", "250ms")] == [90, 7200, 0.25]
    moment = datetime(2024, 6, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2024-06-01T12:30:05Z"
    assert parse_rfc3339("2024-06-01T12:30:05Z") == moment.replace(microsecond=0)


def test_a_rollout_is_done_only_on_the_current_template() -> None:
    status: dict[str, Any] = {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2}
    deployment = {
        "metadata": {"name": "api", "generation": 3},
        "spec": {"replicas": 2},
        "status": status,
    }
    assert not Rollout.of(deployment).done  # the controller has not seen generation 3 yet
    status["observedGeneration"] = 3
    assert Rollout.of(deployment).done and not Rollout.of(deployment).stuck
    status["conditions"] = [{"type": "Progressing", "status": "False"}]
    assert Rollout.of(deployment).stuck


def test_a_misspelt_status_field_is_a_type_error(tmp_path: Path) -> None:
    handler = tmp_path / "handler.py"
    handler.write_text(
        "from controllers.api.feed import CveFeedStatus\n"
        "status = CveFeedStatus(activ_job='sync-1')\n"
        "status.records_publshed = 3\n"
    )
    out, _, code = mypy.api.run(["--config-file", str(ROOT / "pyproject.toml"), str(handler)])
    assert code == 1
    assert 'Unexpected keyword argument "activ_job"' in out and '"records_publshed"' in out
