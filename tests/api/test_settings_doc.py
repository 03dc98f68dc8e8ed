"""docs/configuration.md must be exactly what the settings classes generate: one source of truth."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from controllers.dataplane.contract import PROGRAMS, env_var
from controllers.machinery.config import OperatorSettings
from devstack.settingsdoc import DOC, render

CLASSES: list[type[BaseSettings]] = [OperatorSettings, *dict.fromkeys(PROGRAMS.values())]


def test_configuration_reference_matches_the_settings_classes() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md drifted from the settings classes; run `make docs`"
    )


@pytest.mark.parametrize("program", CLASSES, ids=lambda c: c.__name__)
def test_every_setting_is_described_and_listed(program: type[BaseSettings]) -> None:
    """A setting without a description is a variable nobody can look up; each one is on the page."""
    assert [name for name, info in program.model_fields.items() if not info.description] == []
    page = DOC.read_text()
    assert [name for name in program.model_fields if f"`{env_var(program, name)}`" not in page] == []
