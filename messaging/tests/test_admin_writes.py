"""The message admin answers bad input with a form error or a 4xx, never a
500; deletes are all or nothing; an existing message cannot be saved again
(that stored and broadcast a copy)."""

import pytest

from chatproject.errors import PermissionDenied
from messaging import services
from messaging.models import Message
from messaging.services import close_conversation, send_message
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/messaging/message/"


@pytest.fixture
def chat(user, other_user):
    """[text, system, text]: seq 1 and 3 from user, 2 the close notice."""
    conversation = ConversationFactory(members=[user, other_user])
    send_message(sender=user, conversation=conversation, text="first")
    close_conversation(conversation, actor=user)
    send_message(sender=user, conversation=conversation, text="third")
    return conversation


def messages_of(conversation) -> list[Message]:
    return list(Message.objects.filter(conversation=conversation).order_by("seq"))


def tombstones(conversation) -> list[int]:
    return [m.seq for m in messages_of(conversation) if m.deleted_at is not None]


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "-1", "abc"])
def test_a_conversation_filter_that_cannot_be_an_id_lists_nothing(admin_client, chat, value):
    response = admin_client.get(LIST, {"conversation": value})

    assert response.status_code == 200
    assert "first" not in response.content.decode()


def test_the_conversation_filter_still_filters(admin_client, chat):
    response = admin_client.get(LIST, {"conversation": str(chat.pk)})

    assert response.status_code == 200
    assert "third" in response.content.decode()


def test_a_system_message_cannot_be_deleted_in_the_admin(admin_client, chat):
    notice = messages_of(chat)[1]
    url = f"{LIST}{notice.pk}/delete/"

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert tombstones(chat) == []


def test_bulk_delete_with_a_system_message_deletes_nothing_and_says_why(admin_client, chat):
    selected = [m.pk for m in messages_of(chat)]
    action = {"action": "delete_selected", "_selected_action": selected}

    confirmation = admin_client.post(LIST, action)
    refused = admin_client.post(LIST, {**action, "post": "yes"})

    assert confirmation.status_code == 200
    assert "permission to delete" in confirmation.content.decode()
    assert refused.status_code == 403
    assert tombstones(chat) == []


def test_bulk_delete_of_text_messages_tombstones_them_all(
    admin_client, chat, django_capture_on_commit_callbacks
):
    first, _, third = messages_of(chat)
    channel = listen(f"conversation.{chat.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            LIST,
            {"action": "delete_selected", "_selected_action": [first.pk, third.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert tombstones(chat) == [1, 3]
    assert [(f["type"], f["seq"]) for f in frames(channel)] == [
        ("message.deleted", 1),
        ("message.deleted", 3),
    ]


def test_the_delete_service_is_all_or_nothing(admin_client, chat):
    with pytest.raises(PermissionDenied):
        services.delete_messages(actor=admin_client.admin_user, messages=messages_of(chat))

    assert tombstones(chat) == []
    chat.refresh_from_db()
    assert chat.last_version == 3


def add_form(conversation, author, **fields) -> dict:
    return {
        "conversation": conversation.pk,
        "sender": author.pk if author else "",
        "kind": "text",
        "text": "From admin",
        **fields,
    }


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"text": ""}, "This field is required."),
        ({"text": "   "}, "A message needs some text."),
        ({"text": "x" * 4001}, "A message has at most 4000 characters."),
        ({"sender": ""}, "A text message needs a sender."),
        ({"kind": "system"}, "A system message has no sender."),
    ],
)
def test_the_add_form_shows_what_the_send_service_refuses(admin_client, chat, user, fields, error):
    response = admin_client.post(f"{LIST}add/", add_form(chat, user, **fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert len(messages_of(chat)) == 3


def test_the_add_form_adds_a_system_message_without_sender(admin_client, chat):
    response = admin_client.post(
        f"{LIST}add/", add_form(chat, None, kind="system", text="Maintenance at noon.")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    notice = messages_of(chat)[-1]
    assert (notice.kind, notice.sender, notice.text) == ("system", None, "Maintenance at noon.")


def test_an_existing_message_is_read_only_and_saving_it_stores_nothing(
    admin_client, chat, user, django_capture_on_commit_callbacks
):
    first = messages_of(chat)[0]
    url = f"{LIST}{first.pk}/change/"
    channel = listen(f"conversation.{chat.pk}")

    page = admin_client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin_client.post(url, add_form(chat, user, text="changed"))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert saved.status_code == 403
    assert [(m.seq, m.text) for m in messages_of(chat)] == [
        (1, "first"),
        (2, f"Conversation closed by {user.name}."),
        (3, "third"),
    ]
    assert frames(channel) == []
