"""Release monitoring of a CveFeed: one sync Job per new upstream release, in order.

Everything that matters is derived from the cluster and the status on every tick, so a
restarted operator picks up exactly where it stopped:

* Job names are deterministic per (feed, release, attempt); creating one that exists
  returns the existing Job instead of a second one.
* A Complete Job whose release heads ``pendingReleases`` advances the cursor
  (``lastRelease``), whenever it is noticed.
* While any sync Job of the feed runs, no other starts (releases build on each other).
* A Failed Job is retried as the next attempt after an exponential backoff measured from
  its failure time, which the Job itself records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.api.feed import CveFeed
from controllers.clients import children, credentials
from controllers.dataplane import releases
from controllers.machinery import config
from controllers.machinery.conditions import Cond
from controllers.manifests.common import labels
from controllers.manifests.feed import ATTEMPT_ANNOTATION, COMPONENT, RELEASE_ANNOTATION, sync_job

SYNCED = "Synced"
SOURCE_REACHABLE = "SourceReachable"
RETRY_MAX = 3600.0
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
Job = dict[str, Any]


@dataclass
class SyncStep:
    conditions: list[Cond] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    completed: bool = False


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _seconds(duration: str) -> float:
    """A Go-style duration ("15m", "1h30m", "500ms") in seconds; the CRD's pattern admits no other."""
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def release_of(job: Job) -> str:
    return str((job["metadata"].get("annotations") or {}).get(RELEASE_ANNOTATION, ""))


def attempt_of(job: Job) -> int:
    return int((job["metadata"].get("annotations") or {}).get(ATTEMPT_ANNOTATION, "0"))


def sync_jobs(feed: CveFeed) -> list[Job]:
    selector = labels("CveFeed", feed.metadata.name, COMPONENT)
    return children.list_objects("batch/v1", "Job", feed.metadata.namespace, selector)


def step(feed: CveFeed, owner: Mapping[str, Any], topics_ready: bool, now: datetime) -> SyncStep:
    """One tick: account finished Jobs, poll when due, start the next Job when allowed."""
    jobs = sync_jobs(feed)
    out = SyncStep()
    last, pending = feed.status.last_release, list(feed.status.pending_releases or [])
    last, pending, out.completed = _account(jobs, last, pending)
    running = [j for j in jobs if not _finished(j)]
    if not running and _poll_due(feed, now):
        pending = _poll(feed, last, pending, out, now)
        last, pending, done = _account(jobs, last, pending)
        out.completed = out.completed or done
    out.status.update(lastRelease=last, pendingReleases=pending, activeJob=None, failedAttempts=None)
    if running:
        job = running[0]
        out.status["activeJob"] = job["metadata"]["name"]
        out.status["failedAttempts"] = len(_failures(jobs, release_of(job))) or None
        message = f"Job {job['metadata']['name']} is publishing release {release_of(job)}"
        return _synced(out, False, "SyncJobRunning", message)
    if feed.spec.suspend:
        return _synced(out, False, "Suspended", f"spec.suspend is true; {len(pending)} release(s) pending")
    if not pending:
        return _synced(
            out, True, "UpToDate", f"release {last} is the newest" if last else "nothing to sync yet"
        )
    if not topics_ready:
        return _synced(out, False, "WaitingForTopic", "sync Jobs start once the topics are ready")
    return _start(feed, owner, jobs, pending[0], last, out, now)


def _account(jobs: list[Job], last: str | None, pending: list[str]) -> tuple[str | None, list[str], bool]:
    """Advance the cursor over every pending release whose Job completed."""
    complete = {release_of(j) for j in jobs if children.condition(j, "Complete")}
    done = False
    while pending and pending[0] in complete:
        last, pending, done = pending[0], pending[1:], True
    return last, pending, done


def _failures(jobs: list[Job], release: str) -> list[Job]:
    """The release's Failed Jobs, oldest attempt first."""
    failed = (j for j in jobs if release_of(j) == release and children.condition(j, "Failed"))
    return sorted(failed, key=attempt_of)


def _finished(job: Job) -> bool:
    return bool(children.condition(job, "Complete") or children.condition(job, "Failed"))


def _poll_due(feed: CveFeed, now: datetime) -> bool:
    polled = feed.status.last_poll_time
    return polled is None or now >= _parse_time(polled) + timedelta(seconds=_seconds(feed.spec.poll_interval))


def _poll(feed: CveFeed, last: str | None, pending: list[str], out: SyncStep, now: datetime) -> list[str]:
    """Ask the source what is new since ``last``; on failure keep the old list.

    A failed poll counts as a poll too: the source is asked once per ``pollInterval``
    whatever it answered, so a rate-limited API is not hammered every tick.
    """
    ns, src = feed.metadata.namespace, feed.spec.source
    out.status["lastPollTime"] = _stamp(now)
    token_ref = src.cvelist_v5.github_token_secret_ref if src.cvelist_v5 else None
    key_ref = src.nvd.api_key_secret_ref if src.nvd else None
    try:
        token = credentials.optional_key(ns, token_ref, "spec.source.cvelistV5.githubTokenSecretRef")
        key = credentials.optional_key(ns, key_ref, "spec.source.nvd.apiKeySecretRef")
        fresh = releases.pending_releases(feed, last, token, key)
    except credentials.MissingSecret as exc:
        out.conditions.append(Cond(SOURCE_REACHABLE, False, "SecretNotFound", str(exc)))
        return pending
    except releases.SourceError as exc:
        out.conditions.append(Cond(SOURCE_REACHABLE, False, exc.reason, str(exc)))
        return pending
    listed = f"{len(fresh)} new release(s)" if fresh else "no new release"
    out.conditions.append(
        Cond(SOURCE_REACHABLE, True, "SourceAnswered", f"{src.type}: {listed} at last poll")
    )
    return fresh


def _synced(out: SyncStep, ok: bool, reason: str, message: str) -> SyncStep:
    out.conditions.append(Cond(SYNCED, ok, reason, message))
    return out


def _start(
    feed: CveFeed,
    owner: Mapping[str, Any],
    jobs: list[Job],
    release: str,
    last: str | None,
    out: SyncStep,
    now: datetime,
) -> SyncStep:
    """Create the Job for ``release`` (next attempt after failures, once the backoff has passed)."""
    failed = _failures(jobs, release)
    attempt = attempt_of(failed[-1]) + 1 if failed else 0
    if failed:
        out.status["failedAttempts"] = len(failed)
        cond = children.condition(failed[-1], "Failed") or {}
        retry_at = _parse_time(str(cond.get("lastTransitionTime") or _stamp(now))) + timedelta(
            seconds=min(config.current().sync_retry_seconds * 2 ** (len(failed) - 1), RETRY_MAX)
        )
        if now < retry_at:
            name = failed[-1]["metadata"]["name"]
            why = cond.get("message") or cond.get("reason") or "failed"
            message = f"Job {name} for release {release} failed ({why}); attempt {attempt + 1} at {_stamp(retry_at)}"
            return _synced(out, False, "SyncJobFailed", message)
    job, _created = children.create(sync_job(feed, release, releases.cursor_of(last), attempt), owner)
    out.status["activeJob"] = job["metadata"]["name"]
    return _synced(
        out, False, "SyncJobRunning", f"Job {job['metadata']['name']} is publishing release {release}"
    )
