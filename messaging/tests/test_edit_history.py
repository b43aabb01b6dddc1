"""Edit history (issue 13 item 5): each edit keeps the text it replaced (who,
when), `editCount` on the message shape, GET …/history for members, the
history erased with a deleted message, and the admin's read-only view."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from chatproject.errors import PermissionDenied
from conversations.models import Conversation
from messaging.models import Message, MessageEdit
from messaging.services import edit_message, send_message
from tests.support.api import assert_error, client_for
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory

pytestmark = pytest.mark.django_db


class FrozenTime:
    """django.utils.timezone.now, standing still until moved on."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def frozen_time(monkeypatch) -> FrozenTime:
    frozen = FrozenTime()
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def history_url(message: Message) -> str:
    return f"/api/messages/{message.conversation_id}/{message.pk}/history"


@pytest.fixture
def message(user, direct_conversation) -> Message:
    return send_message(sender=user, conversation=direct_conversation, text="first")[0]


def test_an_edit_keeps_the_text_it_replaced(user, message):
    edit_message(actor=user, message=message, text="second")
    [edit] = MessageEdit.objects.filter(message=message)
    message.refresh_from_db()
    assert (edit.previous_text, edit.edited_by_id, edit.edited_at) == (
        "first",
        user.pk,
        message.edited_at,
    )
    assert message.edit_count == 1


def test_history_lists_every_version_oldest_first(
    user, other_user, direct_conversation, frozen_time
):
    message = send_message(sender=user, conversation=direct_conversation, text="first")[0]
    created_at = frozen_time.now
    frozen_time.advance(timedelta(minutes=1))
    edit_message(actor=user, message=message, text="second")
    frozen_time.advance(timedelta(minutes=1))
    edit_message(actor=user, message=message, text="third")

    response = client_for(other_user).get(history_url(message))

    assert response.status_code == 200, response.content
    assert response.json() == [
        {"text": "first", "at": iso(created_at), "by": str(user.pk)},
        {"text": "second", "at": iso(created_at + timedelta(minutes=1)), "by": str(user.pk)},
        {"text": "third", "at": iso(created_at + timedelta(minutes=2)), "by": str(user.pk)},
    ]


def test_a_message_never_edited_has_one_version(user, message):
    assert client_for(user).get(history_url(message)).json() == [
        {
            "text": "first",
            "at": iso(message.created_at),
            "by": str(user.pk),
        }
    ]


def test_edit_count_is_on_the_message_everywhere(
    user, other_user, message, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{message.conversation_id}")
    client = client_for(user)
    url = f"/api/messages/{message.conversation_id}/{message.pk}"
    assert client.get(f"/api/messages/{message.conversation_id}").json()[0]["editCount"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(url, {"text": "second"}, format="json").json()["editCount"] == 1
        assert client.patch(url, {"text": "third"}, format="json").json()["editCount"] == 2
    assert [frame["message"]["editCount"] for frame in frames(channel)] == [1, 2]
    since = client_for(other_user).get(
        f"/api/messages/{message.conversation_id}?sinceVersion={message.version}"
    )
    assert [(m["id"], m["editCount"]) for m in since.json()] == [(str(message.pk), 2)]


def test_only_members_read_the_history(outsider, message):
    assert_error(client_for(outsider).get(history_url(message)), 403)


def test_an_unknown_message_has_no_history(user, other_user, message, direct_conversation):
    client = client_for(user)
    unknown = f"/api/messages/{direct_conversation.pk}/{message.pk + 99}/history"
    assert_error(client.get(unknown), 404)
    # A message of another of my conversations, asked for under this one.
    group = ConversationFactory(members=[user, other_user], kind=Conversation.Kind.GROUP)
    elsewhere = send_message(sender=user, conversation=group, text="x")[0]
    assert_error(client.get(f"/api/messages/{direct_conversation.pk}/{elsewhere.pk}/history"), 404)
    assert_error(client.get(f"/api/messages/{group.pk + 99}/{message.pk}/history"), 404)


def test_a_deleted_message_loses_its_history(user, other_user, message):
    edit_message(actor=user, message=message, text="a secret I regret")
    edit_message(actor=user, message=message, text="fine")
    tombstone = client_for(user).delete(f"/api/messages/{message.conversation_id}/{message.pk}")
    assert tombstone.json()["editCount"] == 0
    assert not MessageEdit.objects.filter(message=message).exists()
    assert not MessageEdit.objects.filter(previous_text__contains="secret").exists()
    assert_error(client_for(other_user).get(history_url(message)), 404)


def test_a_refused_edit_keeps_no_history(user, other_user, message):
    with pytest.raises(PermissionDenied):
        edit_message(actor=other_user, message=message, text="not yours")
    assert not MessageEdit.objects.exists()
    message.refresh_from_db()
    assert (message.text, message.edit_count) == ("first", 0)


def test_history_takes_the_same_queries_for_one_and_many_edits(
    user, message, django_assert_num_queries
):
    # The caller's membership, the message (with its mentions, reactions and
    # attachments), the edits.
    queries = 6
    with django_assert_num_queries(queries):
        assert len(client_for(user).get(history_url(message)).json()) == 1
    for index in range(20):
        edit_message(actor=user, message=message, text=f"version {index}")
    with django_assert_num_queries(queries):
        assert len(client_for(user).get(history_url(message)).json()) == 21


def test_the_admin_shows_the_history_read_only(admin_client, user, message):
    edit_message(actor=user, message=message, text="second")
    page = admin_client.get(f"/admin/messaging/message/{message.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Edit history (the text before each edit)" in content
    assert re.search(r'class="field-previous_text">\s*<p>first</p>', content)
    # Shown, not editable: no input of the inline's fields.
    assert 'name="edits-0-previous_text"' not in content
    assert 'name="edits-0-DELETE"' not in content


def test_edits_at_the_same_instant_keep_their_order(user, message, frozen_time):
    for text in ("b", "c", "d"):
        edit_message(actor=user, message=message, text=text)
    texts = [v["text"] for v in client_for(user).get(history_url(message)).json()]
    assert texts == ["first", "b", "c", "d"]
