"""Regression tests for what schemathesis found (tests/fuzz): each was a 500, or an HTML answer
on an API path, and is now a 4xx JSON error with a message."""

from __future__ import annotations

import pytest

from app.text import json_input

NO_AUTH = {"authorization": ""}


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"].strip()
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    "url",
    [
        "/api/search?q=solar%00panels",
        "/api/documents?collection=a%00b",
        "/api/conversations?q=%00",
        "/api/documents/%00",
        "/api/chat?question=Hi%00",
    ],
)
def test_nul_in_the_query_or_path_gets_400_not_500(client, url):
    error = assert_json_error(client.get(url), 400, "bad_request")
    assert "NUL" in error["message"]


def test_nul_in_the_query_is_refused_before_authentication(client):
    assert_json_error(client.get("/api/search?q=%00", headers=NO_AUTH), 400, "bad_request")


@pytest.mark.parametrize("chunk_id", ["9223372036854775808", "99999999999999999999999", "²"])
def test_passage_id_beyond_bigint_or_not_ascii_digits_is_404_not_500(client, chunk_id):
    assert_json_error(client.get(f"/api/passages/{chunk_id}"), 404, "not_found")


@pytest.mark.parametrize(
    "url",
    [
        "/api/documents?offset=9223372036854775808",
        "/api/documents?limit=²",
        "/api/documents?offset=³",
        "/api/conversations?limit=²",
        "/api/search?q=solar&k=²",
    ],
)
def test_numbers_beyond_bigint_or_not_ascii_digits_get_400_not_500(client, url):
    error = assert_json_error(client.get(url), 400, "bad_request")
    assert "whole number" in error["message"]


NUL = '"a\\u0000b"'
LONE_SURROGATE = '"a\\ud800b"'


@pytest.mark.parametrize("text", [NUL, LONE_SURROGATE])
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/api/admin/collections/default/members", '{"email": %s}'),
        ("POST", "/api/chat", '{"question": %s}'),
        ("POST", "/api/account/keys", '{"name": %s}'),
        ("POST", "/api/admin/invitations", '{"email": %s}'),
        (
            "POST",
            "/v1/chat/completions",
            '{"model": "rag", "messages": [{"role": "user", "content": %s}]}',
        ),
        ("POST", "/api/auth/login", '{"email": %s, "password": "x"}'),
    ],
)
def test_nul_or_lone_surrogate_in_a_json_string_gets_400_not_500(
    client, method, path, template, text
):
    body = (template % text).encode()
    headers = {"content-type": "application/json"}
    response = client.request(method, path, content=body, headers=headers)
    assert_json_error(response, 400, "malformed_json")


def test_json_input_refuses_nul_and_lone_surrogates_anywhere_but_keeps_surrogate_pairs():
    for bad in ['{"\\u0000": 1}', '[[["\\udc00"]]]', '{"a": {"b": "\\u0000"}}']:
        with pytest.raises(json_input.BadRequest):
            json_input.loads(bad)
    assert json_input.loads('["\\ud83d\\ude00", "caf\\u00e9"]') == ["\U0001f600", "café"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/auth/login", 400, "malformed_json"),
        ("/api/auth/setup", 400, "malformed_json"),
        ("/api/auth/signup", 400, "malformed_json"),
    ],
)
def test_auth_posts_without_content_type_answer_json_not_a_page(client, path, status, code):
    assert_json_error(client.post(path, headers=NO_AUTH), status, code)


def test_logout_without_content_type_answers_json_not_a_redirect(client):
    response = client.post("/api/auth/logout", headers=NO_AUTH, follow_redirects=False)
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_login_form_posts_still_get_pages(client):
    form = {"email": "nobody@example.org", "password": "wrong password"}
    response = client.post("/api/auth/login", data=form, headers=NO_AUTH)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("password", [12345678, ["a list"], {"an": "object"}, True])
def test_login_with_a_password_that_is_not_text_is_401_not_500(client, password):
    body = {"email": "admin@example.org", "password": password}
    assert_json_error(
        client.post("/api/auth/login", json=body, headers=NO_AUTH), 401, "invalid_credentials"
    )


def test_collection_name_ending_in_a_newline_is_refused_not_a_500(client):
    assert_json_error(client.post("/api/collections", json={"name": "notes\n"}), 400)
    assert_json_error(client.get("/api/search?q=solar&collection=notes%0A"), 400)
    body = {"question": "Hi?", "collection": "notes\n"}
    assert_json_error(client.post("/api/chat", json=body), 400, "bad_collection")
