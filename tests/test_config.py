import pytest

from app.config import ConfigError, load_settings


def test_defaults_without_environment():
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.port == 8000
    assert settings.max_upload_bytes == 20 * 1024 * 1024
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("WEB_CONCURRENCY", "0"),
        ("MAX_UPLOAD_MB", "-5"),
        ("LOG_LEVEL", "LOUD"),
        ("EMBEDDING_PROVIDER", "magic"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("WORKER_LOCK_SECONDS", "0"),
        ("WORKER_LOCK_SECONDS", "soon"),
        ("ALLOW_PRIVATE_URLS", "maybe"),
        ("URL_TIMEOUT_SECONDS", "-1"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_values_are_parsed_and_normalised():
    settings = load_settings({"PORT": "9000", "LOG_LEVEL": "debug", "MAX_UPLOAD_MB": "3"})
    assert (settings.port, settings.log_level, settings.max_upload_bytes) == (
        9000,
        "DEBUG",
        3 << 20,
    )


def test_redis_url_must_be_a_redis_url():
    assert load_settings({"REDIS_URL": "redis://127.0.0.1:6379/0"}).redis_url.startswith("redis")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings({"REDIS_URL": "127.0.0.1:6379"})


def test_ingestion_settings():
    settings = load_settings(
        {"ALLOW_PRIVATE_URLS": "yes", "URL_TIMEOUT_SECONDS": "2.5", "WORKER_LOCK_SECONDS": "30"}
    )
    assert settings.allow_private_urls is True
    assert (settings.url_timeout_seconds, settings.worker_lock_seconds) == (2.5, 30.0)
    assert load_settings({}).allow_private_urls is False


OIDC = {
    "OIDC_ISSUER": "https://id.example.org/",
    "OIDC_CLIENT_ID": "rag",
    "OIDC_CLIENT_SECRET": "s",
}


def test_oidc_settings_are_read_together():
    assert load_settings({}).auth.oidc is None
    oidc = load_settings(
        {**OIDC, "OIDC_ROLES_CLAIM": "groups", "OIDC_ROLE_MAP": "staff=Editor, ops=admin"}
    ).auth.oidc
    assert oidc is not None
    assert oidc.issuer == "https://id.example.org"  # as the discovery document spells it
    assert oidc.role_map == (("staff", "editor"), ("ops", "admin"))
    assert (oidc.name, oidc.default_role) == ("single sign-on", "reader")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OIDC_ISSUER": "https://id.example.org"}, "OIDC_CLIENT_ID"),
        ({**OIDC, "OIDC_ISSUER": "http://id.example.org"}, "OIDC_ISSUER"),
        ({**OIDC, "OIDC_DEFAULT_ROLE": "owner"}, "OIDC_DEFAULT_ROLE"),
        ({**OIDC, "OIDC_ROLE_MAP": "staff=editor"}, "OIDC_ROLES_CLAIM"),
        ({**OIDC, "OIDC_ROLES_CLAIM": "groups", "OIDC_ROLE_MAP": "staff"}, "OIDC_ROLE_MAP"),
    ],
)
def test_a_bad_oidc_setting_is_named(env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(env)
