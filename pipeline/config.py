"""Settings: one pydantic-settings object from ``revmon.toml`` and ``REVMON_*`` variables.

The TOML file (path in ``REVMON_CONFIG``, default ``./revmon.toml`` when it exists) lists what to
watch; the environment overrides any top-level value and carries the secrets, which are typed
``SecretStr`` so that they never show up in a log line or a repr.
"""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.platforms import PLATFORMS

DEFAULT_USER_AGENT = "revmon/0.1 (+https://github.com/revmon/revmon; review monitoring bot)"


def default_data_dir() -> Path:
    """Where the embedded SQLite database and the model cache live unless told otherwise."""
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "revmon"


# sentiment.encoder.Precision, repeated here so that reading settings does not import torch
SentimentPrecision = Literal["auto", "fp32", "bf16"]


def http_url(value: str | None) -> str | None:
    """``value`` stripped, if it is an http(s) URL with a host; ValueError otherwise. Start URLs
    come from the config and from spider arguments: nothing else (``file:``) may start a crawl."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    return value.strip()


class SourceConfig(BaseModel):
    """One thing to watch for a location: a platform and a start URL or an API target.

    ``platform`` is a review platform or the name of the spider or API client that collects it
    (``google_business``, ``google_places``); ``name`` picks the collector explicitly. Which
    collector exists, and whether it needs a ``url`` or a ``target``, is checked against the
    source registry when revmon starts (``revmon.sources``).
    """

    model_config = ConfigDict(extra="forbid")
    platform: str
    url: str | None = None
    target: str | None = None
    name: str | None = Field(default=None, description="spider or client name, if not the platform")
    interval: float | None = Field(
        default=None, gt=0, description="minutes between collections; default [service]"
    )
    allow_hosts: list[str] = Field(
        default_factory=list, description="more hosts the spider may follow links to"
    )

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS and value not in {"google_business", "google_places"}:
            raise ValueError(f"unknown platform {value!r}; known: {', '.join(sorted(PLATFORMS))}")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @model_validator(mode="after")
    def _url_or_target(self) -> SourceConfig:
        if not (self.url or self.target):
            raise ValueError("a source needs `url` (for a spider) or `target` (for an API client)")
        return self


class LocationConfig(BaseModel):
    """A business, branch or competitor whose reviews are watched."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
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


class SlaRule(BaseModel):
    """A tighter (or looser) deadline for some reviews, e.g. 2 business hours for health/safety.

    A rule matches when the review carries any of ``signals`` or reaches ``min_urgency``; when
    several match, the earliest deadline wins, so adding a rule can never make a review later.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    signals: list[str] = Field(default_factory=list, description="urgency signals, e.g. health")
    min_urgency: int | None = Field(default=None, ge=0, le=100)
    business_hours: float | None = Field(default=None, gt=0, description="within N business hours")
    hours: float | None = Field(default=None, gt=0, description="within N clock hours, 24/7")
    respond_by_hour: int | None = Field(default=None, ge=0, le=23, description="next business day")

    @model_validator(mode="after")
    def _one_deadline(self) -> SlaRule:
        given = [self.business_hours, self.hours, self.respond_by_hour]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of business_hours, hours, respond_by_hour")
        if not (self.signals or self.min_urgency is not None):
            raise ValueError("a rule needs `signals` or `min_urgency` to match anything")
        return self


class SlaConfig(BaseModel):
    """When a negative review must be answered: by default 10:00 the next business day, in the
    location's own timezone, skipping weekends and holidays."""

    respond_by_hour: int = Field(default=10, ge=0, le=23)
    business_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="Monday is 0")
    opens: time = Field(default=time(9, 0), description="business hours, for business_hours rules")
    closes: time = time(18, 0)
    holidays: list[date] = Field(default_factory=list, description="ISO dates, every location")
    location_holidays: dict[str, list[date]] = Field(default_factory=dict)
    rules: list[SlaRule] = Field(default_factory=list)

    @field_validator("business_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= d <= 6 for d in value):
            raise ValueError("business_days needs at least one weekday number 0 (Mon) .. 6 (Sun)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _hours_order(self) -> SlaConfig:
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")
        return self


class ApiConfig(BaseModel):
    """Official API clients (``revmon collect``): where they connect and how patiently.

    ``base_urls`` maps a client name (``google_business``, ``app_store``, ``reddit``, ...) to the
    scheme and host it talks to, e.g. ``REVMON_API__BASE_URLS__MASTODON=https://fosstodon.org``
    for another Mastodon instance, or a local server in tests.
    """

    base_urls: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10, description="tries per request")
    max_wait_s: float = Field(
        default=120.0, ge=0, description="longest Retry-After or rate-limit pause obeyed"
    )
    max_pages: int = Field(default=50, ge=1, description="pages per call, a guard on cursors")


ENV_NAME = r"^REVMON_[A-Z0-9_]+$"
NAME = r"^[a-z0-9][a-z0-9_-]*$"


class _Channel(BaseModel):
    """Where alerts go. Secrets are never in the file: fields ending in ``_env`` name the
    ``REVMON_*`` environment variable that holds them, read when the notifiers are built."""

    model_config = {"extra": "forbid"}
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class EmailChannel(_Channel):
    type: Literal["email"]
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    from_addr: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[str] = Field(min_length=1)


class SlackChannel(_Channel):
    type: Literal["slack"]
    webhook_url_env: str = Field(pattern=ENV_NAME, description="the incoming-webhook URL")


class TelegramChannel(_Channel):
    type: Literal["telegram"]
    base_url: str = "https://api.telegram.org"
    bot_token_env: str = Field(pattern=ENV_NAME)
    chat_id: str


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = Field(default=None, pattern=ENV_NAME, description="if the URL is secret")
    secret_env: str = Field(pattern=ENV_NAME, description="HMAC-SHA256 key")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url, url_env")
        return self


ChannelConfig = Annotated[
    EmailChannel | SlackChannel | TelegramChannel | WebhookChannel, Field(discriminator="type")
]


class AlertRule(BaseModel):
    """One review-level rule: every condition given must hold (write two rules for "or")."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=NAME, max_length=64)
    channels: list[str] = Field(min_length=1)
    negative: bool = Field(default=False, description="label (or correction) is negative")
    mixed: bool = Field(default=False, description="negative or mixed")
    max_rating: float | None = Field(default=None, ge=1, le=5)
    min_urgency: int | None = Field(default=None, ge=0, le=100)
    keywords: list[str] = Field(default_factory=list, description="any of, case-insensitive")
    overdue: bool = Field(default=False, description="its SLA deadline passed unanswered")
    locations: list[str] = Field(default_factory=list, description="empty: all own locations")
    include_competitors: bool = False
    max_age_hours: float = Field(default=72, gt=0, description="older ones stay quiet")

    @model_validator(mode="after")
    def _has_condition(self) -> AlertRule:
        conditions = [self.negative, self.mixed, self.max_rating is not None]
        conditions += [self.min_urgency is not None, bool(self.keywords), self.overdue]
        if not any(conditions):
            raise ValueError("a rule needs a condition: negative, mixed, max_rating, ...")
        return self


class SpikeRule(BaseModel):
    """A location's share of negative reviews in the last window, well above its usual share."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=NAME, max_length=64)
    channels: list[str] = Field(min_length=1)
    window_hours: float = Field(default=24, gt=0)
    baseline_days: float = Field(default=28, gt=0)
    factor: float = Field(default=2.0, gt=1)
    min_negatives: int = Field(default=3, ge=1)


class IncidentRule(BaseModel):
    """An incident (the same complaint across platforms and places) that grows past
    ``min_reviews`` reviews published within ``within_hours``; fires once per incident."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=NAME, max_length=64)
    channels: list[str] = Field(min_length=1)
    min_reviews: int = Field(default=3, ge=2)
    within_hours: float = Field(default=24, gt=0)
    locations: list[str] = Field(default_factory=list, description="empty: all own locations")


class TopicRule(BaseModel):
    """A newly emerging topic at a location (its share of recent reviews well above its usual
    share); fires once per topic."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=NAME, max_length=64)
    channels: list[str] = Field(min_length=1)
    min_reviews: int = Field(default=3, ge=1, description="recent reviews in the topic")
    locations: list[str] = Field(default_factory=list, description="empty: all own locations")


class DigestConfig(BaseModel):
    """A daily summary for one recipient (a channel), sent once a day after ``hour``."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=NAME, max_length=64)
    channels: list[str] = Field(min_length=1)
    hour: int = Field(default=8, ge=0, le=23)
    timezone: str = "UTC"
    locations: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str) -> str:
        return LocationConfig._real_timezone(value)


class RetryConfig(BaseModel):
    """Backoff for a failing channel: base * 2**(attempt-1), capped; dead after max_attempts."""

    base_seconds: float = Field(default=60, gt=0)
    max_seconds: float = Field(default=3600, gt=0)
    max_attempts: int = Field(default=10, ge=1)
    lease_seconds: float = Field(
        default=300, gt=0, description="> every channel's timeout; renewed while a send runs"
    )


class AlertsConfig(BaseModel):
    model_config = {"extra": "forbid"}
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=list)
    spikes: list[SpikeRule] = Field(default_factory=list)
    digests: list[DigestConfig] = Field(default_factory=list)
    incidents: list[IncidentRule] = Field(default_factory=list)
    topics: list[TopicRule] = Field(default_factory=list)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        named = [*self.rules, *self.spikes, *self.digests, *self.incidents, *self.topics]
        names = [r.name for r in named]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate rule name(s) {', '.join(duplicated)}")
        for rule in named:
            unknown = [c for c in rule.channels if c not in self.channels]
            if unknown:
                raise ValueError(f"rule {rule.name!r}: unknown channel(s) {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> AlertsConfig:
        """A lease that can end while a send is still waiting on its channel lets a second
        worker send the same alert; it is renewed during a send, but must first outlast one
        wait for the channel."""
        for name, channel in self.channels.items():
            if self.retry.lease_seconds <= channel.timeout_seconds:
                raise ValueError(
                    f"retry.lease_seconds ({self.retry.lease_seconds:g}) must be longer than "
                    f"channel {name!r}'s timeout_seconds ({channel.timeout_seconds:g})"
                )
        return self


class ServiceConfig(BaseModel):
    """How often `revmon run` does each job, in minutes.

    A source is collected every ``interval`` minutes when its entry gives one, else every
    ``platform_minutes[platform]``, else the collector's own default (Google Places, billed per
    request, asks for 360), else ``crawl_minutes``."""

    model_config = ConfigDict(extra="forbid")
    crawl_minutes: float = Field(default=60, gt=0)
    platform_minutes: dict[str, float] = Field(default_factory=dict)
    score_minutes: float = Field(default=5, gt=0)
    alerts_minutes: float = Field(default=1, gt=0)
    lease_minutes: float = Field(
        default=120, gt=0, description="a source held this long by a process that died is freed"
    )
    run_stale_seconds: float = Field(
        default=180, gt=0, description="a crawl run this long without a heartbeat is interrupted"
    )

    @field_validator("platform_minutes")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(name for name, minutes in value.items() if minutes <= 0)
        if bad:
            raise ValueError(f"minutes must be > 0 for {', '.join(bad)}")
        return value


ROLES = ("viewer", "responder", "admin")


class UserConfig(BaseModel):
    """A dashboard user; ``password_hash`` comes from ``revmon user hash-password``."""

    model_config = ConfigDict(hide_input_in_errors=True)  # a pasted password never reaches a log
    username: str = Field(min_length=1, max_length=64)
    password_hash: str
    role: Literal["viewer", "responder", "admin"] = "viewer"
    name: str | None = None

    @field_validator("password_hash")
    @classmethod
    def _a_hash_not_a_password(cls, value: str) -> str:
        if not re.fullmatch(r"scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", value):
            raise ValueError(
                "must be a scrypt hash made by `revmon user hash-password`, never a plain password"
            )
        return value


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
    # auto: bf16 on CPUs with AMX (revmon score 2.7x faster, 762 of 764 held-out labels as in
    # fp32; model card), fp32 elsewhere
    sentiment_precision: SentimentPrecision = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # where the dashboard reads Trends: the daily rollups, or the raw tables (slow at scale;
    # for checking the rollups and for bench/trends_browser.py's baseline)
    trends_source: Literal["rollups", "raw"] = "rollups"
    locations: list[LocationConfig] = Field(default_factory=list)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    users: list[UserConfig] = Field(default_factory=list)
    google_access_token: SecretStr | None = None
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_refresh_token: SecretStr | None = None
    google_places_api_key: SecretStr | None = None
    yelp_api_key: SecretStr | None = None
    tripadvisor_api_key: SecretStr | None = None
    vk_access_token: SecretStr | None = None
    mastodon_access_token: SecretStr | None = None
    api: ApiConfig = Field(default_factory=ApiConfig)

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
