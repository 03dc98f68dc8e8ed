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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controllers.api.feed import CveFeed, CveFeedStatus
from controllers.api.times import parse_rfc3339, rfc3339, seconds
from controllers.clients import credentials, kube
from controllers.clients.objects import condition
from controllers.dataplane import releases
from controllers.handlers.outcome import merged
from controllers.machinery import config
from controllers.machinery.conditions import Cond
from controllers.manifests.common import labels
from controllers.manifests.feed import ATTEMPT_ANNOTATION, COMPONENT, RELEASE_ANNOTATION, sync_job

SYNCED = "Synced"
SOURCE_REACHABLE = "SourceReachable"
RETRY_MAX = 3600.0
Job = dict[str, Any]


@dataclass
class SyncStep:
    conditions: list[Cond]
    status: CveFeedStatus
    """The cursor, the pending releases, the running Job and its failures, the last poll time."""
    completed: bool = False


def release_of(job: Job) -> str:
    return str((job["metadata"].get("annotations") or {}).get(RELEASE_ANNOTATION, ""))


def attempt_of(job: Job) -> int:
    return int((job["metadata"].get("annotations") or {}).get(ATTEMPT_ANNOTATION, "0"))


def sync_jobs(feed: CveFeed) -> list[Job]:
    selector = labels("CveFeed", feed.metadata.name, COMPONENT)
    return kube.list_objects("batch/v1", "Job", feed.metadata.namespace, selector)


def step(feed: CveFeed, owner: Mapping[str, Any], topics_ready: bool, now: datetime) -> SyncStep:
    """One tick: account finished Jobs, poll when due, start the next Job when allowed."""
    jobs = sync_jobs(feed)
    conditions: list[Cond] = []
    status = CveFeedStatus(active_job=None, failed_attempts=None)
    last, pending = feed.status.last_release, list(feed.status.pending_releases or [])
    last, pending, completed = _account(jobs, last, pending)
    running = [j for j in jobs if not _finished(j)]
    if not running and _poll_due(feed, now):
        # A failed poll counts too: the source is asked once per pollInterval whatever it
        # answered, so a rate-limited API is not hammered every tick.
        status.last_poll_time = rfc3339(now)
        pending, reachable = _poll(feed, last, pending)
        conditions.append(reachable)
        last, pending, done = _account(jobs, last, pending)
        completed = completed or done
    status.last_release, status.pending_releases = last, pending
    synced, progress = _progress(feed, owner, jobs, running, last, pending, topics_ready, now)
    return SyncStep([*conditions, synced], merged(status, progress), completed)


def _progress(
    feed: CveFeed,
    owner: Mapping[str, Any],
    jobs: list[Job],
    running: list[Job],
    last: str | None,
    pending: list[str],
    topics_ready: bool,
    now: datetime,
) -> tuple[Cond, CveFeedStatus]:
    """The Synced condition, and the running Job with its release's failures."""
    if running:
        job = running[0]
        name, release = job["metadata"]["name"], release_of(job)
        failures = len(_failures(jobs, release)) or None
        message = f"Job {name} is publishing release {release}"
        return _synced(False, "SyncJobRunning", message), CveFeedStatus(
            active_job=name, failed_attempts=failures
        )
    if feed.spec.suspend:
        message = f"spec.suspend is true; {len(pending)} release(s) pending"
        return _synced(False, "Suspended", message), CveFeedStatus()
    if not pending:
        message = f"release {last} is the newest" if last else "nothing to sync yet"
        return _synced(True, "UpToDate", message), CveFeedStatus()
    if not topics_ready:
        return _synced(False, "WaitingForTopic", "sync Jobs start once the topics are ready"), CveFeedStatus()
    return _start(feed, owner, jobs, pending[0], last, now)


def _account(jobs: list[Job], last: str | None, pending: list[str]) -> tuple[str | None, list[str], bool]:
    """Advance the cursor over every pending release whose Job completed."""
    complete = {release_of(j) for j in jobs if condition(j, "Complete")}
    done = False
    while pending and pending[0] in complete:
        last, pending, done = pending[0], pending[1:], True
    return last, pending, done


def _failures(jobs: list[Job], release: str) -> list[Job]:
    """The release's Failed Jobs, oldest attempt first."""
    failed = (j for j in jobs if release_of(j) == release and condition(j, "Failed"))
    return sorted(failed, key=attempt_of)


def _finished(job: Job) -> bool:
    return bool(condition(job, "Complete") or condition(job, "Failed"))


def _poll_due(feed: CveFeed, now: datetime) -> bool:
    polled = feed.status.last_poll_time
    return polled is None or now >= parse_rfc3339(polled) + timedelta(
        seconds=seconds(feed.spec.poll_interval)
    )


def _poll(feed: CveFeed, last: str | None, pending: list[str]) -> tuple[list[str], Cond]:
    """Ask the source what is new since ``last``: the pending releases and SourceReachable.

    When the source does not answer, the old list stays pending."""
    ns, src = feed.metadata.namespace, feed.spec.source
    token_ref = src.cvelist_v5.github_token_secret_ref if src.cvelist_v5 else None
    key_ref = src.nvd.api_key_secret_ref if src.nvd else None
    try:
        token = credentials.optional_key(ns, token_ref, "spec.source.cvelistV5.githubTokenSecretRef")
        key = credentials.optional_key(ns, key_ref, "spec.source.nvd.apiKeySecretRef")
        fresh = releases.pending_releases(feed, last, token, key)
    except credentials.MissingSecret as exc:
        return pending, Cond(SOURCE_REACHABLE, False, "SecretNotFound", str(exc))
    except releases.SourceError as exc:
        return pending, Cond(SOURCE_REACHABLE, False, exc.reason, str(exc))
    listed = f"{len(fresh)} new release(s)" if fresh else "no new release"
    return fresh, Cond(SOURCE_REACHABLE, True, "SourceAnswered", f"{src.type}: {listed} at last poll")


def _synced(ok: bool, reason: str, message: str) -> Cond:
    return Cond(SYNCED, ok, reason, message)


def _start(
    feed: CveFeed, owner: Mapping[str, Any], jobs: list[Job], release: str, last: str | None, now: datetime
) -> tuple[Cond, CveFeedStatus]:
    """Create the Job for ``release`` (next attempt after failures, once the backoff has passed)."""
    failed = _failures(jobs, release)
    attempt = attempt_of(failed[-1]) + 1 if failed else 0
    status = CveFeedStatus(failed_attempts=len(failed)) if failed else CveFeedStatus()
    if failed:
        cond = condition(failed[-1], "Failed") or {}
        retry_at = parse_rfc3339(str(cond.get("lastTransitionTime") or rfc3339(now))) + timedelta(
            seconds=min(config.current().sync_retry_seconds * 2 ** (len(failed) - 1), RETRY_MAX)
        )
        if now < retry_at:
            name = failed[-1]["metadata"]["name"]
            why = cond.get("message") or cond.get("reason") or "failed"
            message = f"Job {name} for release {release} failed ({why}); attempt {attempt + 1} at {rfc3339(retry_at)}"
            return _synced(False, "SyncJobFailed", message), status
    job, _created = kube.create(sync_job(feed, release, releases.cursor_of(last), attempt), owner)
    name = job["metadata"]["name"]
    status.active_job = name
    return _synced(False, "SyncJobRunning", f"Job {name} is publishing release {release}"), status
