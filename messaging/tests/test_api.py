"""The messages API: send (idempotent), history (paging, Link header,
sinceVersion catch-up), edit and delete, and the errors of each."""

import re
from datetime import datetime

import pytest
from django.conf import settings

from conversations.models import Conversation
from messaging import services
from messaging.models import Message
from tests.support.api import assert_error, post_message
from tests.support.factories import ConversationFactory

LINK = re.compile(r'<([^>]+)>;\s*rel="([a-z]+)"')


def links(response) -> dict[str, str]:
    """The RFC 8288 Link header as {rel: url}."""
    found = LINK.findall(response.get("Link", ""))
    return {rel: url for url, rel in found}


def seqs(response) -> list[int]:
    return [message["seq"] for message in response.json()]


def fill(conversation, senders, count: int) -> list[Message]:
    """`count` messages through the service, alternating senders."""
    return [
        services.send_message(
            sender=senders[number % len(senders)], conversation=conversation, text=f"m{number + 1}"
        )[0]
        for number in range(count)
    ]


def history(client, conversation, **query):
    return client.get(f"/api/messages/{conversation.pk}", query)


def message_path(conversation, message) -> str:
    return f"/api/messages/{conversation.pk}/{message.pk}"


# Send ------------------------------------------------------------------------


def test_send_returns_the_documented_message(user_client, user, direct_conversation):
    response = post_message(user_client, direct_conversation, user, "Hello, how are you?")

    assert response.status_code == 200
    body = response.json()
    stored = Message.objects.get()
    assert body["id"] == str(stored.pk)
    assert body["conversationId"] == str(direct_conversation.pk)
    assert body["sender"] == str(user.pk)
    assert body["text"] == "Hello, how are you?"
    assert body["seq"] == 1
    assert body["version"] == 1
    assert body["kind"] == "text"
    assert datetime.fromisoformat(body["createdAt"]) == stored.created_at
    assert body["editedAt"] is None
    assert body["deletedAt"] is None


def test_send_numbers_messages_in_order(user_client, other_client, user, other_user):
    conversation = ConversationFactory(members=[user, other_user])

    first = post_message(user_client, conversation, user, "one").json()
    second = post_message(other_client, conversation, other_user, "two").json()

    assert (first["seq"], second["seq"]) == (1, 2)
    assert (first["version"], second["version"]) == (1, 2)
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.last_version) == (2, 2)


def test_send_accepts_numeric_ids_and_client_fields(user_client, user, direct_conversation):
    response = user_client.post(
        "/api/messages",
        {
            "conversationId": direct_conversation.pk,
            "sender": user.pk,
            "text": "numbers",
            "clientMessageId": "c-1",
            "clientTimestamp": "2024-05-01T12:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["clientMessageId"] == "c-1"
    assert response.json()["clientTimestamp"] == "2024-05-01T12:00:00Z"


def test_send_with_forged_sender_is_403(user_client, other_user, direct_conversation):
    response = post_message(user_client, direct_conversation, other_user, "pretending")

    assert_error(response, 403, "permission_denied")
    assert not Message.objects.exists()


def test_send_by_non_member_is_403(outsider_client, outsider, direct_conversation):
    response = post_message(outsider_client, direct_conversation, outsider, "let me in")

    assert_error(response, 403, "permission_denied")
    assert not Message.objects.exists()


def test_send_to_unknown_conversation_is_404(user_client, user, direct_conversation):
    response = user_client.post(
        "/api/messages",
        {
            "conversationId": str(direct_conversation.pk + 1000),
            "sender": str(user.pk),
            "text": "anyone?",
        },
        format="json",
    )

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("text", ["", "   \n\t"], ids=["empty", "whitespace"])
def test_send_empty_text_is_400(user_client, user, direct_conversation, text):
    error = assert_error(
        post_message(user_client, direct_conversation, user, text), 400, "validation_error"
    )

    assert "text" in error["details"]["fields"]
    assert not Message.objects.exists()


def test_send_text_at_the_limit_is_accepted(user_client, user, direct_conversation):
    text = "x" * settings.CHAT_MESSAGE_MAX_LENGTH

    response = post_message(user_client, direct_conversation, user, text)

    assert response.status_code == 200
    assert len(response.json()["text"]) == settings.CHAT_MESSAGE_MAX_LENGTH


def test_send_text_over_the_limit_is_422(user_client, user, direct_conversation):
    text = "x" * (settings.CHAT_MESSAGE_MAX_LENGTH + 1)

    error = assert_error(
        post_message(user_client, direct_conversation, user, text), 422, "message_too_long"
    )

    assert error["details"]["maxLength"] == settings.CHAT_MESSAGE_MAX_LENGTH
    assert not Message.objects.exists()


@pytest.mark.parametrize("missing", ["conversationId", "sender", "text"])
def test_send_missing_field_is_400(user_client, user, direct_conversation, missing):
    body = {
        "conversationId": str(direct_conversation.pk),
        "sender": str(user.pk),
        "text": "hi",
    }
    del body[missing]

    response = user_client.post("/api/messages", body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]["fields"]) == [missing]


@pytest.mark.parametrize(
    ("field", "value"),
    [("conversationId", "abc"), ("sender", "1; DROP"), ("conversationId", True)],
)
def test_send_malformed_id_is_400(user_client, user, direct_conversation, field, value):
    body = {"conversationId": str(direct_conversation.pk), "sender": str(user.pk), "text": "hi"}
    body[field] = value

    error = assert_error(
        user_client.post("/api/messages", body, format="json"), 400, "validation_error"
    )

    assert list(error["details"]["fields"]) == [field]


def test_send_is_idempotent_with_client_message_id(user_client, user, direct_conversation):
    first = post_message(user_client, direct_conversation, user, "once", clientMessageId="abc-1")
    retry = post_message(user_client, direct_conversation, user, "once", clientMessageId="abc-1")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert Message.objects.count() == 1
    direct_conversation.refresh_from_db()
    assert (direct_conversation.last_seq, direct_conversation.last_version) == (1, 1)


def test_send_is_idempotent_with_idempotency_key_header(user_client, user, direct_conversation):
    headers = {"Idempotency-Key": "key-42"}

    first = post_message(user_client, direct_conversation, user, "once", headers=headers)
    retry = post_message(user_client, direct_conversation, user, "once", headers=headers)
    other = post_message(
        user_client, direct_conversation, user, "once", headers={"Idempotency-Key": "key-43"}
    )

    assert first.status_code == retry.status_code == other.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert first.json()["clientMessageId"] == "key-42"
    assert other.json()["id"] != first.json()["id"]
    assert Message.objects.count() == 2


def test_client_message_id_reused_for_different_text_is_409(user_client, user, direct_conversation):
    first = post_message(user_client, direct_conversation, user, "first", clientMessageId="dup")

    response = post_message(user_client, direct_conversation, user, "second", clientMessageId="dup")

    error = assert_error(response, 409, "client_message_id_reused")
    assert error["details"]["messageId"] == first.json()["id"]
    assert list(Message.objects.values_list("text", flat=True)) == ["first"]


def test_same_client_message_id_from_two_senders_is_two_messages(
    user_client, other_client, user, other_user, direct_conversation
):
    mine = post_message(user_client, direct_conversation, user, "hi", clientMessageId="same")
    theirs = post_message(
        other_client, direct_conversation, other_user, "hi", clientMessageId="same"
    )

    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] != theirs.json()["id"]
    assert Message.objects.count() == 2


# History ---------------------------------------------------------------------


def test_history_is_ascending_with_the_documented_shape(
    user_client, user, other_user, direct_conversation
):
    fill(direct_conversation, [user, other_user], 4)

    response = history(user_client, direct_conversation)

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [message["seq"] for message in body] == [1, 2, 3, 4]
    assert [message["text"] for message in body] == ["m1", "m2", "m3", "m4"]
    assert [message["sender"] for message in body] == [str(user.pk), str(other_user.pk)] * 2
    assert all(message["conversationId"] == str(direct_conversation.pk) for message in body)
    assert "Link" not in response


def test_history_of_an_empty_conversation(user_client, direct_conversation):
    response = history(user_client, direct_conversation)

    assert response.status_code == 200
    assert response.json() == []
    assert "Link" not in response


def test_history_default_limit_is_the_newest_50(user_client, user, direct_conversation):
    fill(direct_conversation, [user], 55)

    response = history(user_client, direct_conversation)

    assert settings.CHAT_HISTORY_DEFAULT_LIMIT == 50
    assert seqs(response) == list(range(6, 56))
    assert set(links(response)) == {"prev"}
    assert "before=6" in links(response)["prev"]


def test_history_limit_is_capped(user_client, user, direct_conversation):
    fill(direct_conversation, [user], 3)

    at_cap = history(user_client, direct_conversation, limit=settings.CHAT_HISTORY_MAX_LIMIT)
    over_cap = history(user_client, direct_conversation, limit=settings.CHAT_HISTORY_MAX_LIMIT + 1)

    assert settings.CHAT_HISTORY_MAX_LIMIT == 200
    assert seqs(at_cap) == [1, 2, 3]
    error = assert_error(over_cap, 400, "validation_error")
    assert "limit" in error["details"]["fields"]


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": "ten"}, {"before": 0}, {"after": -1}, {"before": 3, "after": 1}],
    ids=["limit-zero", "limit-text", "before-zero", "after-negative", "before-and-after"],
)
def test_history_bad_query_is_400(user_client, direct_conversation, query):
    assert_error(history(user_client, direct_conversation, **query), 400, "validation_error")


def test_history_before_and_after_pages(user_client, user, direct_conversation):
    fill(direct_conversation, [user], 7)

    assert seqs(history(user_client, direct_conversation, limit=3)) == [5, 6, 7]
    assert seqs(history(user_client, direct_conversation, limit=3, before=5)) == [2, 3, 4]
    assert seqs(history(user_client, direct_conversation, limit=3, before=2)) == [1]
    assert seqs(history(user_client, direct_conversation, limit=3, after=0)) == [1, 2, 3]
    assert seqs(history(user_client, direct_conversation, limit=3, after=5)) == [6, 7]
    assert seqs(history(user_client, direct_conversation, limit=3, after=7)) == []


@pytest.mark.parametrize("count", [1, 7, 9, 10])
def test_following_prev_links_yields_every_message_once(
    user_client, user, direct_conversation, count
):
    fill(direct_conversation, [user], count)
    pages = []
    response = history(user_client, direct_conversation, limit=3)
    while True:
        assert response.status_code == 200
        pages.insert(0, seqs(response))
        if "prev" not in links(response):
            break
        response = user_client.get(links(response)["prev"])
        assert len(pages) <= count, "the prev links do not end"

    assert [seq for page in pages for seq in page] == list(range(1, count + 1))
    assert all(len(page) <= 3 for page in pages)


@pytest.mark.parametrize("count", [1, 7, 9, 10])
def test_following_next_links_yields_every_message_once(
    user_client, user, direct_conversation, count
):
    fill(direct_conversation, [user], count)
    collected = []
    response = history(user_client, direct_conversation, limit=3, after=0)
    while True:
        assert response.status_code == 200
        collected.extend(seqs(response))
        if "next" not in links(response):
            break
        response = user_client.get(links(response)["next"])
        assert len(collected) <= count, "the next links do not end"

    assert collected == list(range(1, count + 1))


def test_next_link_from_an_older_page_leads_forward(user_client, user, direct_conversation):
    fill(direct_conversation, [user], 7)
    older = history(user_client, direct_conversation, limit=3, before=5)

    newer = user_client.get(links(older)["next"])

    assert seqs(older) == [2, 3, 4]
    assert seqs(newer) == [5, 6, 7]


def test_since_version_returns_every_change_once_in_version_order(
    user_client, other_client, user, other_user, direct_conversation
):
    first, second, third = fill(direct_conversation, [user, other_user], 3)
    edited = user_client.patch(
        message_path(direct_conversation, first), {"text": "m1 edited"}, format="json"
    )
    deleted = other_client.delete(message_path(direct_conversation, second))
    assert edited.status_code == deleted.status_code == 200

    everything = history(user_client, direct_conversation, sinceVersion=0)
    after_creates = history(user_client, direct_conversation, sinceVersion=3)
    nothing_new = history(user_client, direct_conversation, sinceVersion=5)

    assert [(m["id"], m["version"]) for m in everything.json()] == [
        (str(third.pk), 3),
        (str(first.pk), 4),
        (str(second.pk), 5),
    ]
    changes = after_creates.json()
    assert [m["id"] for m in changes] == [str(first.pk), str(second.pk)]
    assert changes[0]["text"] == "m1 edited"
    assert changes[0]["editedAt"] is not None
    assert changes[1]["text"] == ""
    assert changes[1]["deletedAt"] is not None
    assert nothing_new.json() == []


def test_since_version_pages_with_next_links(user_client, user, direct_conversation):
    messages = fill(direct_conversation, [user], 5)
    services.edit_message(actor=user, message=messages[0], text="again")
    collected = []
    response = history(user_client, direct_conversation, sinceVersion=0, limit=2)
    while True:
        collected.extend((m["seq"], m["version"]) for m in response.json())
        if "next" not in links(response):
            break
        assert "sinceVersion=" in links(response)["next"]
        response = user_client.get(links(response)["next"])
        assert len(collected) <= 6, "the next links do not end"

    assert collected == [(2, 2), (3, 3), (4, 4), (5, 5), (1, 6)]


def test_history_by_non_member_is_403(outsider_client, user, direct_conversation):
    fill(direct_conversation, [user], 1)

    assert_error(history(outsider_client, direct_conversation), 403, "permission_denied")
    assert_error(
        history(outsider_client, direct_conversation, sinceVersion=0), 403, "permission_denied"
    )


def test_history_of_unknown_conversation_is_404(user_client):
    assert_error(user_client.get("/api/messages/987654321"), 404, "not_found")


# Edit and delete -----------------------------------------------------------------


@pytest.fixture
def my_message(user, direct_conversation):
    return services.send_message(sender=user, conversation=direct_conversation, text="original")[0]


def test_edit_own_message(user_client, direct_conversation, my_message):
    response = user_client.patch(
        message_path(direct_conversation, my_message), {"text": "corrected"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "corrected"
    assert body["editedAt"] is not None
    assert body["seq"] == my_message.seq
    assert body["version"] == my_message.version + 1
    my_message.refresh_from_db()
    assert my_message.text == "corrected"
    assert Conversation.objects.get(pk=direct_conversation.pk).last_version == body["version"]


def test_edit_with_bad_text(user_client, direct_conversation, my_message):
    path = message_path(direct_conversation, my_message)

    empty = user_client.patch(path, {"text": "  "}, format="json")
    missing = user_client.patch(path, {}, format="json")
    too_long = user_client.patch(
        path, {"text": "y" * (settings.CHAT_MESSAGE_MAX_LENGTH + 1)}, format="json"
    )

    assert_error(empty, 400, "validation_error")
    assert_error(missing, 400, "validation_error")
    assert assert_error(too_long, 422, "message_too_long")["details"]["maxLength"] == (
        settings.CHAT_MESSAGE_MAX_LENGTH
    )
    my_message.refresh_from_db()
    assert (my_message.text, my_message.edited_at) == ("original", None)


def test_edit_of_another_users_message_is_403(other_client, direct_conversation, my_message):
    response = other_client.patch(
        message_path(direct_conversation, my_message), {"text": "hijacked"}, format="json"
    )

    assert_error(response, 403, "permission_denied")
    my_message.refresh_from_db()
    assert my_message.text == "original"
    assert Conversation.objects.get(pk=direct_conversation.pk).last_version == 1


def test_edit_by_non_member_is_403(outsider_client, direct_conversation, my_message):
    response = outsider_client.patch(
        message_path(direct_conversation, my_message), {"text": "hijacked"}, format="json"
    )

    assert_error(response, 403, "permission_denied")


def test_delete_own_message_leaves_a_tombstone(user_client, direct_conversation, my_message):
    response = user_client.delete(message_path(direct_conversation, my_message))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(my_message.pk)
    assert body["text"] == ""
    assert body["deletedAt"] is not None
    assert body["version"] == my_message.version + 1
    listed = history(user_client, direct_conversation).json()
    assert [(m["seq"], m["text"]) for m in listed] == [(1, "")]
    assert listed[0]["deletedAt"] is not None


def test_delete_of_another_users_message_is_403(other_client, direct_conversation, my_message):
    response = other_client.delete(message_path(direct_conversation, my_message))

    assert_error(response, 403, "permission_denied")
    my_message.refresh_from_db()
    assert my_message.deleted_at is None


def test_change_of_a_deleted_message_is_409(user_client, direct_conversation, my_message):
    path = message_path(direct_conversation, my_message)
    assert user_client.delete(path).status_code == 200
    version_after_delete = Conversation.objects.get(pk=direct_conversation.pk).last_version

    again = user_client.delete(path)
    edit = user_client.patch(path, {"text": "back from the dead"}, format="json")

    assert_error(again, 409, "message_deleted")
    assert_error(edit, 409, "message_deleted")
    my_message.refresh_from_db()
    assert my_message.text == ""
    # A refused change takes no version.
    assert Conversation.objects.get(pk=direct_conversation.pk).last_version == version_after_delete


def test_message_of_another_conversation_is_404(user_client, user, other_user, my_message):
    elsewhere = ConversationFactory(members=[user, other_user], kind="group", direct_key=None)
    path = message_path(elsewhere, my_message)

    assert_error(user_client.patch(path, {"text": "x"}, format="json"), 404, "not_found")
    assert_error(user_client.delete(path), 404, "not_found")
    my_message.refresh_from_db()
    assert (my_message.text, my_message.deleted_at) == ("original", None)


def test_unknown_message_is_404(user_client, direct_conversation, my_message):
    response = user_client.delete(f"/api/messages/{direct_conversation.pk}/{my_message.pk + 1000}")

    assert_error(response, 404, "not_found")
