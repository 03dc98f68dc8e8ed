"""The env contract with the data plane: each program's settings class, as the workloads define it.

A manifest names a pod's variables through these classes (``env_var(FeedSettings,
"nvd_window_days")``), never as string literals, so the operator cannot set a variable that
no program reads, nor misspell one that it does; ``tests/controllers/test_env_contract.py``
checks every container the operator generates against :data:`PROGRAMS`.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings

from workloads.common.settings import env_var, env_vars, is_secret
from workloads.feed.settings import FeedSettings
from workloads.index.settings import IndexSettings
from workloads.rag.settings import RagSettings
from workloads.store.settings import StoreSettings

__all__ = [
    "PROGRAMS",
    "FeedSettings",
    "IndexSettings",
    "RagSettings",
    "StoreSettings",
    "env_var",
    "env_vars",
    "is_secret",
]

# ``python -m <module>`` -> the settings class that program reads (the probe reads the consumer's).
PROGRAMS: dict[str, type[BaseSettings]] = {
    "workloads.feed": FeedSettings,
    "workloads.store": StoreSettings,
    "workloads.store.health": StoreSettings,
    "workloads.index": IndexSettings,
    "workloads.rag": RagSettings,
}
