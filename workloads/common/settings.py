"""How every program reads its configuration: one ``pydantic-settings`` class, variables ``CVERAG_*``.

Each program (``workloads.feed``, ``.store``, ``.index``, ``.rag``) has one
:class:`ProgramSettings` subclass whose fields *are* its environment: a field ``topic`` is the
variable ``CVERAG_TOPIC`` (a field may name another variable with ``validation_alias``, as
libpq's ``PG*`` ones do), its default is written once, beside its description.  The operator
builds pod env from the same fields (:func:`env_var`), a contract test checks that every
variable a manifest sets is a field of the program it runs, and docs/configuration.md is
generated from them.

The environment is read only by :meth:`ProgramSettings.from_env` (``os.environ`` or a mapping
given to it); constructing a class directly takes only its arguments and defaults, as the
dataclasses these replaced did, so code and tests that build settings are never changed by
whatever variables happen to be set in their process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Self

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "CVERAG_"
# The mapping :meth:`ProgramSettings.from_env` reads; None while a class is built from arguments only.
_READING: ContextVar[Mapping[str, str] | None] = ContextVar("cverag_settings_env", default=None)


class SettingsError(ValueError):
    """The environment (or a flag) holds a value the program cannot use; the message names the variable."""


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' own env source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


@contextmanager
def _reading(env: Mapping[str, str]) -> Iterator[None]:
    token = _READING.set(env)
    try:
        yield
    finally:
        _READING.reset(token)


class ProgramSettings(BaseSettings):
    """Base of every program's settings: prefix ``CVERAG_``, empty values count as unset."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env = _READING.get()
        return (init_settings,) if env is None else (init_settings, _MappingSource(settings_cls, env))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """The settings from ``env`` (default ``os.environ``); non-None ``overrides`` (flags) win."""
        with _reading(os.environ if env is None else env):
            try:
                return cls(**{k: v for k, v in overrides.items() if v is not None})
            except ValidationError as exc:
                raise SettingsError(explain(cls, exc)) from None

    def describe(self) -> dict[str, Any]:
        """Every field by its variable, secrets masked: what ``--check-config`` and logs may show."""
        shown = self.model_dump(mode="json")
        return {
            env_var(type(self), name): ("<set>" if shown[name] else None) if is_secret(info) else shown[name]
            for name, info in type(self).model_fields.items()
        }


def env_var(program: type[BaseSettings], field: str) -> str:
    """The variable behind ``field`` of ``program``: ``env_var(FeedSettings, "topic") == "CVERAG_TOPIC"``.

    A name the class does not have is a KeyError, so a manifest cannot set a variable that
    no program reads."""
    info = program.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{program.model_config.get('env_prefix', '')}{field}".upper()


def env_vars(program: type[BaseSettings]) -> dict[str, str]:
    """Every variable ``program`` reads (other names of a field included), mapped to its field."""
    out = {}
    for name, info in program.model_fields.items():
        out[env_var(program, name)] = name
        if isinstance(info.validation_alias, AliasChoices):
            out.update({str(choice): name for choice in info.validation_alias.choices})
    return out


def is_secret(info: FieldInfo) -> bool:
    """A credential: a ``SecretStr`` field, or one kept out of ``repr``."""
    return info.repr is False or SecretStr in _types(info.annotation)


def _types(annotation: Any) -> set[Any]:
    found = {annotation}
    for arg in getattr(annotation, "__args__", ()):
        found |= _types(arg)
    return found


def explain(program: type[BaseSettings], exc: ValidationError) -> str:
    """One line per problem, by variable name (what an operator can fix), never the secret's value."""
    lines = []
    for error in exc.errors(include_url=False):
        where = str(error["loc"][0]) if error["loc"] else ""
        field = where if where in program.model_fields else env_vars(program).get(where, "")
        info = program.model_fields.get(field)
        message = error["msg"].removeprefix("Value error, ")
        if info is None:
            lines.append(message)
            continue
        value = "" if is_secret(info) or "input" not in error else f" (got {error['input']!r})"
        lines.append(f"{env_var(program, field)}: {message}{value}")
    return "; ".join(lines)


def secret_value(secret: SecretStr | None) -> str | None:
    """The secret's text, or None when unset or empty."""
    return (secret.get_secret_value() or None) if secret is not None else None


def comma_separated(value: Any) -> Any:
    """``"a, b,,c"`` as ``["a", "b", "c"]``: how a list setting is written in one env var; any
    other value is left for pydantic to validate."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value
