"""Settings read once from environment variables into a frozen, typed object."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.auth.settings import AuthSettings, load_auth_settings

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EMBEDDING_PROVIDERS = ("local", "openai")
LLM_PROVIDERS = ("auto", "extractive", "openai")


class ConfigError(Exception):
    """A setting has a value the app cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    host: str
    port: int
    web_concurrency: int
    embedding_provider: str
    embedding_model: str | None
    max_upload_mb: int
    log_level: str
    worker_lock_seconds: float = 60.0
    allow_private_urls: bool = False
    url_timeout_seconds: float = 15.0
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_max_tokens: int = 512
    llm_provider: str = "extractive"  # resolved: "auto" becomes openai or extractive
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "default"
    llm_connect_timeout: float = 5.0
    llm_read_timeout: float = 60.0
    llm_context_tokens: int = 3000
    auth: AuthSettings = AuthSettings()

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be a number of seconds above 0")
    return number


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError("must be between 0 and 65535")
    return number


def _one_of(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        for option in options:
            if value.lower() == option.lower():
                return option
        raise ValueError(f"must be one of {', '.join(options)}")

    return parse


def _database_url(value: str) -> str:
    if not value.startswith(("postgres://", "postgresql://")):
        raise ValueError("must start with postgresql://")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:11434/v1)")
    return value.rstrip("/")


def _redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment; raise ConfigError naming a bad variable."""
    env = os.environ if environ is None else environ

    def get(name: str, parse: Callable[[str], T], default: T) -> T:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is invalid: {exc}") from None

    provider = get("EMBEDDING_PROVIDER", _one_of(EMBEDDING_PROVIDERS), "local")
    base_url = get("EMBEDDING_BASE_URL", _http_url, None)
    if provider == "openai":
        if not base_url:
            raise ConfigError(
                "EMBEDDING_BASE_URL is required when EMBEDDING_PROVIDER=openai"
                " (e.g. the server's /v1 address)"
            )
        if not env.get("EMBEDDING_MODEL", "").strip():
            raise ConfigError("EMBEDDING_MODEL is required when EMBEDDING_PROVIDER=openai")
    llm_base_url = get("LLM_BASE_URL", _http_url, None)
    llm_provider = get("LLM_PROVIDER", _one_of(LLM_PROVIDERS), "auto")
    if llm_provider == "openai" and llm_base_url is None:
        raise ConfigError("LLM_PROVIDER='openai' needs LLM_BASE_URL (the server's /v1 URL)")
    if llm_provider == "auto":
        llm_provider = "openai" if llm_base_url else "extractive"
    host = get("HOST", str, "127.0.0.1")
    return Settings(
        database_url=get("DATABASE_URL", _database_url, None),
        redis_url=get("REDIS_URL", _redis_url, None),
        data_dir=get("DATA_DIR", Path, Path("data")),
        host=host,
        port=get("PORT", _port, 8000),
        web_concurrency=get("WEB_CONCURRENCY", _positive_int, 2),
        embedding_provider=provider,
        embedding_model=get("EMBEDDING_MODEL", str, None),
        max_upload_mb=get("MAX_UPLOAD_MB", _positive_int, 20),
        log_level=get("LOG_LEVEL", _one_of(LOG_LEVELS), "INFO"),
        worker_lock_seconds=get("WORKER_LOCK_SECONDS", _positive_float, 60.0),
        allow_private_urls=get("ALLOW_PRIVATE_URLS", _bool, False),
        url_timeout_seconds=get("URL_TIMEOUT_SECONDS", _positive_float, 15.0),
        embedding_base_url=base_url,
        embedding_api_key=get("EMBEDDING_API_KEY", str, None),
        embedding_max_tokens=get("EMBEDDING_MAX_TOKENS", _positive_int, 512),
        llm_provider=llm_provider,
        llm_base_url=llm_base_url,
        llm_api_key=get("LLM_API_KEY", str, None),
        llm_model=get("LLM_MODEL", str, "default"),
        llm_connect_timeout=get("LLM_CONNECT_TIMEOUT", _positive_float, 5.0),
        llm_read_timeout=get("LLM_READ_TIMEOUT", _positive_float, 60.0),
        llm_context_tokens=get("LLM_CONTEXT_TOKENS", _positive_int, 3000),
        # HOST unset (gunicorn binds 0.0.0.0:$PORT): any Host, unless ALLOWED_HOSTS says.
        auth=load_auth_settings(get, host if env.get("HOST", "").strip() else ""),
    )
