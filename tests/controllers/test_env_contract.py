"""The env contract between the operator and its workloads, for every container it generates.

For every Job, Deployment and CronJob the operator builds from ``examples/``
(:mod:`tests.controllers.generated`): every variable set on a container is a field of the
settings class of the program the container runs, every required field is set, and the
container's own command, run here with exactly that env (Secrets as dummy values) and
``--check-config``, accepts it.  A variable that no program reads is a setting that silently
does nothing, which is how ``CveFeed.spec.source.nvd.windowDays`` once went unused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controllers.dataplane.contract import PROGRAMS, env_var, env_vars, is_secret
from tests.controllers.generated import Container, containers

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = containers()
# Containers that run no workloads program: the LLM engines, configured by their own variables.
ENGINES = {"vllm", "ollama", "pull-model"}


def program_of(command: list[str]) -> str | None:
    """The workloads module a command runs: ``python -m workloads.x ...``, directly or as
    ``sh -c "exec python -m workloads.x ..."``."""
    words = " ".join(command[2:]).split() if Path(command[0]).name == "sh" else command
    for first, second, third in zip(words, words[1:], words[2:], strict=False):
        if Path(first).name == "python" and second == "-m" and third in PROGRAMS:
            return third
    return None


def contract_problems(container: Container) -> list[str]:
    """Variables the program does not read, and required ones missing; [] when the contract holds."""
    names = [var["name"] for var in container.env]
    module = program_of(container.command)
    if module is None:
        # Only the LLM engines run something else; the pull script uses every CVERAG_ variable it gets.
        engine = container.where.rsplit(" container ", 1)[-1].split()[0]
        assert engine in ENGINES, f"{container.where}: {container.command} runs no known program"
        script = " ".join(container.command)
        return [
            f"{n} is set but the script never uses it"
            for n in names
            if n.startswith("CVERAG_") and f"${n}" not in script
        ]
    program = PROGRAMS[module]
    known = env_vars(program)
    unread = [
        f"{n} is set but {module} ({program.__name__}) has no such setting" for n in names if n not in known
    ]
    required = [
        f"{env_var(program, f)} is required by {program.__name__} but not set"
        for f, info in program.model_fields.items()
        if info.is_required() and env_var(program, f) not in names
    ]
    duplicated = [f"{n} is set twice" for n in set(names) if names.count(n) > 1]
    return unread + required + duplicated


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.where)
def test_every_variable_is_a_setting_of_the_program(container: Container) -> None:
    assert contract_problems(container) == []


def test_the_contract_check_fails_on_a_variable_no_program_reads() -> None:
    """The check above can fail: a stray variable (or a misspelt one) is caught."""
    feed = next(c for c in CONTAINERS if program_of(c.command) == "workloads.feed")
    stray = Container(feed.where, feed.command, [*feed.env, {"name": "CVERAG_NVD_WINDOW_DAY", "value": "1"}])
    assert contract_problems(stray) == [
        "CVERAG_NVD_WINDOW_DAY is set but workloads.feed (FeedSettings) has no such setting"
    ]


def test_every_program_and_every_kind_of_workload_is_covered() -> None:
    """The generated set is not empty by accident: each program appears, and so does each engine."""
    modules = {program_of(c.command) for c in CONTAINERS}
    assert modules == {*PROGRAMS, None}
    kinds = {c.where.split(" container ")[0].split()[-2] for c in CONTAINERS}
    assert kinds == {"Job", "Deployment", "CronJob"}


def dry_run_env(container: Container) -> dict[str, str]:
    """The env as the kubelet would set it, with a dummy value for every Secret key it names."""
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    for var in container.env:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = (
                "SASL_PLAINTEXT" if ref["key"] == "security.protocol" else f"dummy-{ref['key']}"
            )
    return env


def _check_command(command: list[str]) -> list[str]:
    """The container's own command, asked to check its configuration instead of running."""
    if Path(command[0]).name == "sh":
        return [*command[:-1], command[-1] + " --check-config"]
    return [*command, "--check-config"]


RUNNABLE = {
    (tuple(c.command), json.dumps(c.env, sort_keys=True)): c for c in CONTAINERS if program_of(c.command)
}


def check_config(container: Container) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _check_command(container.command),
        cwd=ROOT,
        env=dry_run_env(container),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("container", list(RUNNABLE.values()), ids=lambda c: c.where)
def test_each_program_accepts_the_env_it_is_given(container: Container) -> None:
    done = check_config(container)
    assert done.returncode == 0, f"{container.command} refused its env:\n{done.stdout}\n{done.stderr}"
    program = PROGRAMS[str(program_of(container.command))]
    fields, env = env_vars(program), dry_run_env(container)
    secret = [n for n in env if n in fields and is_secret(program.model_fields[fields[n]])]
    assert secret or not any("valueFrom" in v for v in container.env)
    printed = [n for n in secret if env[n] in done.stdout + done.stderr]
    assert not printed, f"the values of {printed} were printed"


def test_the_dry_run_fails_when_a_program_lacks_what_it_needs() -> None:
    """The check above can fail: a consumer without its broker is refused, naming the variable."""
    consumer = next(c for c in RUNNABLE.values() if c.command[-1:] == ["consume"])
    env = [v for v in consumer.env if v["name"] != "CVERAG_KAFKA_BOOTSTRAP"]
    done = check_config(Container(consumer.where, consumer.command, env))
    assert done.returncode == 2 and "CVERAG_KAFKA_BOOTSTRAP" in done.stderr
