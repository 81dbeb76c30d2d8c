"""Settings: one pydantic-settings object from ``revmon.toml`` and ``REVMON_*`` variables.

The TOML file (path in ``REVMON_CONFIG``, default ``./revmon.toml`` when it exists) lists what to
watch; the environment overrides any top-level value and carries the secrets, which are typed
``SecretStr`` so that they never show up in a log line or a repr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from crawlers.items import PLATFORMS

DEFAULT_USER_AGENT = "revmon/0.1 (+https://github.com/revmon/revmon; review monitoring bot)"


def default_data_dir() -> Path:
    """Where the embedded SQLite database and the model cache live unless told otherwise."""
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "revmon"


class SourceConfig(BaseModel):
    """One thing to watch for a location: a platform and a start URL or an API target."""

    platform: str
    url: str | None = None
    target: str | None = None
    name: str | None = Field(default=None, description="spider or client name, if not the platform")

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS and value not in {"google_business", "google_places"}:
            raise ValueError(f"unknown platform {value!r}; known: {', '.join(sorted(PLATFORMS))}")
        return value

    @model_validator(mode="after")
    def _url_or_target(self) -> SourceConfig:
        if not (self.url or self.target):
            raise ValueError("a source needs `url` (for a spider) or `target` (for an API client)")
        return self


class LocationConfig(BaseModel):
    """A business, branch or competitor whose reviews are watched."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    timezone: str = "UTC"
    is_competitor: bool = False
    sources: list[SourceConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. Europe/Warsaw)") from None
        return value


class SlaConfig(BaseModel):
    """When a negative review must be answered: by default 10:00 the next business day."""

    respond_by_hour: int = Field(default=10, ge=0, le=23)
    business_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="Monday is 0")
    holidays: list[str] = Field(default_factory=list, description="ISO dates")


class Settings(BaseSettings):
    """Everything revmon reads at start. A bad value fails here, naming the field."""

    model_config = SettingsConfigDict(
        env_prefix="REVMON_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots: bool = True
    redis_url: str | None = None
    sentiment_model: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    locations: list[LocationConfig] = Field(default_factory=list)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    alerts: dict[str, Any] = Field(default_factory=dict)
    users: list[dict[str, Any]] = Field(default_factory=list)
    google_access_token: SecretStr | None = None

    @property
    def db_url(self) -> str:
        """The database to use: ``REVMON_DATABASE_URL`` or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'revmon.db'}"

    @model_validator(mode="after")
    def _unique_location_keys(self) -> Settings:
        keys = [loc.key for loc in self.locations]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise ValueError(f"locations: duplicate key(s) {', '.join(duplicated)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments beat the environment, which beats the TOML file."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_path()))


def config_path() -> Path | None:
    """``REVMON_CONFIG`` if set (it must exist), else ``./revmon.toml`` if there is one."""
    explicit = os.environ.get("REVMON_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"REVMON_CONFIG points at {path}, which is not a file")
        return path
    local = Path("revmon.toml")
    return local if local.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once per entry point; callers pass the result down."""
    return Settings(**overrides)
