"""Hostile input that used to be a 500: JSON nested deeper than the parser
can recurse (issue 10 item 8), a NUL character reaching a PostgreSQL query
(item 9)."""

import logging

import pytest
from django.db import connection
from django.db.models import Q

from conversations.models import Tag, TagTranslation
from conversations.services import save_tag, save_tag_translation, set_conversation_tags
from tests.support.factories import ConversationFactory
from users.models import User
from workspaces.models import Workspace
from workspaces.services import create_api_key

DEEPLY_NESTED = "[" * 100_000 + "]" * 100_000


def assert_parse_error_logged_quietly(response, caplog) -> None:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert error["requestId"] == response["X-Request-ID"]
    assert len(caplog.records) <= 1, [record.getMessage() for record in caplog.records]
    assert not any(record.exc_info for record in caplog.records)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("body", [DEEPLY_NESTED, '{"a":' * 20_000 + "1" + "}" * 20_000])
def test_deeply_nested_json_on_an_anonymous_endpoint_is_a_400(api_client, db, caplog, body):
    with caplog.at_level(logging.DEBUG):
        response = api_client.post("/api/auth/token", body, content_type="application/json")
    assert_parse_error_logged_quietly(response, caplog)


@pytest.mark.parametrize("path", ["/api/messages", "/api/conversations"])
def test_deeply_nested_json_on_an_authenticated_endpoint_is_a_400(user_client, caplog, path):
    with caplog.at_level(logging.DEBUG):
        response = user_client.post(path, DEEPLY_NESTED, content_type="application/json")
    assert_parse_error_logged_quietly(response, caplog)


# NUL characters (issue 10 item 9) --------------------------------------------
#
# PostgreSQL text cannot hold U+0000, and psycopg refuses a query parameter
# with one (a 500). The sentinel below fails the test when a NUL reaches any
# query, so these tests also catch the bug on SQLite, which stores NUL fine.

NUL = "\x00"
URL_004 = "/api/chat/messages"


def contains_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, (list, tuple)):
        return any(contains_nul(item) for item in value)
    return False


@pytest.fixture
def no_nul_reaches_the_database(db):
    reached: list[str] = []

    def sentinel(execute, sql, params, many, context):
        if contains_nul(params):
            reached.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(sentinel):
        yield
    assert not reached, reached


@pytest.fixture
def api_key(db):
    return create_api_key(workspace=Workspace.objects.default(), name="bad input")


@pytest.fixture
def tagged_conversation(user, other_user):
    conversation = ConversationFactory(members=[user, other_user])
    tag = save_tag(Tag(workspace=conversation.workspace, name="Billing"))
    save_tag_translation(TagTranslation(tag=tag, language="pl", name="Rozliczenia"))
    set_conversation_tags(conversation, [tag])
    return conversation


def test_a_nul_in_the_seed_002_token_is_a_404(api_client, api_key, no_nul_reaches_the_database):
    _, secret = api_key
    response = api_client.get(
        "/conversations/%00/messages", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("lang", ["%00", "pl%00", "%00pl"])
def test_a_nul_in_seed_002_lang_is_ignored(
    api_client, api_key, tagged_conversation, no_nul_reaches_the_database, lang
):
    _, secret = api_key
    response = api_client.get(
        f"/conversations/{tagged_conversation.access_token}/messages?lang={lang}",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    assert response.json()["conversation"]["tags"] == ["Billing"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer a\x00b"},
        {"Authorization": "Token a\x00b"},
        {"asapp-api-id": "a\x00b", "asapp-api-secret": "secret"},
        {"x-api-key": "a\x00b"},
    ],
)
def test_a_nul_in_a_credential_header_is_a_401_or_403(
    api_client, no_nul_reaches_the_database, headers
):
    for path in ["/api/users/me", "/conversation/v1/conversations/1/messages", URL_004]:
        assert api_client.get(path, headers=headers).status_code in (401, 403), path


def test_a_nul_in_the_seed_004_user_header_is_a_404(
    api_client, api_key, direct_conversation, no_nul_reaches_the_database
):
    api_key_row, secret = api_key
    response = api_client.get(
        URL_004,
        {"workspaceId": api_key_row.workspace_id, "conversationId": direct_conversation.pk},
        headers={"x-api-key": secret, "userId": "a\x00b"},
    )
    assert response.status_code == 404


def test_a_nul_in_a_login_username_is_refused(api_client, client, no_nul_reaches_the_database):
    for username in ["a\x00b", NUL]:
        token = api_client.post(
            "/api/auth/token", {"username": username, "password": "x"}, format="json"
        )
        assert token.status_code in (400, 401)
        page = client.post("/accounts/login/", {"username": username, "password": "x"})
        assert page.status_code == 200


@pytest.mark.parametrize("query", ["search=%00", "search=a%00b", "limit=%00"])
def test_a_nul_in_the_user_directory_query_is_not_a_500(
    user_client, no_nul_reaches_the_database, query
):
    assert user_client.get(f"/api/users?{query}").status_code in (200, 400)


def test_a_nul_in_the_session_cookie_is_signed_out(client, no_nul_reaches_the_database):
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    response = client.get("/api/users/me")
    assert response.status_code == 401


def test_text_lookups_with_a_nul_match_no_row(user, no_nul_reaches_the_database):
    users = User.objects.all()
    assert not users.filter(username=f"{user.username}{NUL}").exists()
    assert not users.filter(username__icontains=NUL).exists()
    assert list(users.exclude(username=NUL)) == [user]
    assert list(users.filter(username__in=[NUL, user.username])) == [user]
    assert list(users.filter(Q(username=NUL) | Q(pk=user.pk))) == [user]
