"""Replies (issue 13 item 1): `replyTo` on POST /api/messages and on the
socket's `message.send`, validated by send_message (same conversation,
after the membership check), quoted in the message shape as the original
reads now (its current text, or deleted), through history and sinceVersion
(the socket's side: realtime/tests/test_reply_mention_frames.py)."""

import pytest

from conversations.models import Conversation
from messaging.models import Message
from messaging.serializers import REPLY_EXCERPT_LENGTH
from messaging.services import delete_message, edit_message, send_message
from tests.support.api import assert_error, client_for, post_message
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory
from tests.support.messages import reply_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def original(direct_conversation, other_user) -> Message:
    return send_message(sender=other_user, conversation=direct_conversation, text="lunch at 12?")[0]


def test_a_reply_quotes_its_original(user, direct_conversation, original):
    response = post_message(
        client_for(user), direct_conversation, user, "yes!", replyTo=str(original.pk)
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["replyTo"] == reply_quote(original)
    assert Message.objects.get(pk=body["id"]).reply_to_id == original.pk


def test_a_message_that_answers_nothing_has_reply_to_null(user, direct_conversation):
    body = post_message(client_for(user), direct_conversation, user, "hi").json()
    assert body["replyTo"] is None
    explicit = post_message(client_for(user), direct_conversation, user, "hi", replyTo=None)
    assert explicit.json()["replyTo"] is None


def test_an_edited_original_is_quoted_as_it_reads_now(user, other_user, direct_conversation):
    long_text = "x" * 100 + "y" * 100
    original = send_message(sender=other_user, conversation=direct_conversation, text=long_text)[0]
    reply = send_message(
        sender=user, conversation=direct_conversation, text="hm", reply_to_id=original.pk
    )[0]
    url = f"/api/messages/{direct_conversation.pk}"
    quoted = client_for(user).get(url).json()[-1]["replyTo"]
    assert quoted["excerpt"] == long_text[:REPLY_EXCERPT_LENGTH]
    assert len(quoted["excerpt"]) == 140

    edit_message(actor=other_user, message=original, text="lunch at 1 instead")
    body = client_for(user).get(url).json()
    assert body[-1]["id"] == str(reply.pk)
    assert body[-1]["replyTo"]["excerpt"] == "lunch at 1 instead"


def test_a_deleted_original_is_quoted_as_deleted_and_may_still_be_answered(
    user, other_user, direct_conversation, original
):
    reply = send_message(
        sender=user, conversation=direct_conversation, text="ok", reply_to_id=original.pk
    )[0]
    delete_message(actor=other_user, message=original)
    tombstone = Message.objects.get(pk=original.pk)

    history = client_for(user).get(f"/api/messages/{direct_conversation.pk}").json()
    assert [m["id"] for m in history] == [str(original.pk), str(reply.pk)]
    assert history[1]["replyTo"] == reply_quote(tombstone, deleted=True)

    late = post_message(
        client_for(user), direct_conversation, user, "too late", replyTo=str(original.pk)
    )
    assert late.status_code == 200, late.content
    assert late.json()["replyTo"] == reply_quote(tombstone, deleted=True)


def test_a_system_message_may_be_answered(user, other_user):
    group = ConversationFactory(members=[user, other_user], kind=Conversation.Kind.GROUP)
    notice = send_message(
        sender=None, conversation=group, text="Conversation closed.", kind=Message.Kind.SYSTEM
    )[0]
    response = post_message(client_for(user), group, user, "why?", replyTo=str(notice.pk))
    assert response.status_code == 200, response.content
    assert response.json()["replyTo"] == reply_quote(notice)


@pytest.mark.parametrize("where", ["another conversation", "no such message"])
def test_a_reply_to_a_message_outside_the_conversation_is_a_400_storing_nothing(
    user, other_user, direct_conversation, where
):
    elsewhere = ConversationFactory(members=[user, other_user], kind=Conversation.Kind.GROUP)
    foreign = send_message(sender=user, conversation=elsewhere, text="elsewhere")[0]
    reply_to = str(foreign.pk) if where == "another conversation" else str(foreign.pk + 1000)
    before = Conversation.objects.values_list("last_seq", "last_version").get(
        pk=direct_conversation.pk
    )

    response = post_message(client_for(user), direct_conversation, user, "hm", replyTo=reply_to)

    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]["fields"]) == ["replyTo"]
    assert not Message.objects.filter(conversation=direct_conversation).exists()
    assert (
        Conversation.objects.values_list("last_seq", "last_version").get(pk=direct_conversation.pk)
        == before
    )


def test_a_non_member_is_refused_before_the_reply_is_looked_at(
    outsider, direct_conversation, original
):
    """403 whatever replyTo names: the answer does not tell a non-member
    which message ids belong to the conversation."""
    client = client_for(outsider)
    for reply_to in (str(original.pk), str(original.pk + 1000)):
        response = post_message(client, direct_conversation, outsider, "hi", replyTo=reply_to)
        assert_error(response, 403)
    assert Message.objects.filter(conversation=direct_conversation).count() == 1


def test_reply_to_must_be_an_id(user, direct_conversation):
    response = post_message(client_for(user), direct_conversation, user, "hi", replyTo="first")
    error = assert_error(response, 400)
    assert "replyTo" in error["details"]["fields"]


def test_a_retried_reply_returns_the_first_message(user, direct_conversation, original):
    client = client_for(user)
    bodies = [
        post_message(
            client,
            direct_conversation,
            user,
            "yes",
            replyTo=str(original.pk),
            clientMessageId="reply-1",
        ).json()
        for _ in range(2)
    ]
    assert bodies[0] == bodies[1]
    assert bodies[0]["replyTo"] == reply_quote(original)
    assert Message.objects.filter(conversation=direct_conversation).count() == 2


def test_the_live_event_and_catch_up_carry_the_quote(
    user, direct_conversation, original, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        reply = send_message(
            sender=user, conversation=direct_conversation, text="yes", reply_to_id=original.pk
        )[0]
    [frame] = [frame for frame in frames(channel) if frame["type"] == "message.new"]
    assert frame["message"]["replyTo"] == reply_quote(original)

    since = client_for(user).get(
        f"/api/messages/{direct_conversation.pk}?sinceVersion={original.version}"
    )
    assert [m["id"] for m in since.json()] == [str(reply.pk)]
    assert since.json()[0]["replyTo"] == reply_quote(original)


def test_replies_are_read_in_the_queries_of_any_page(
    user, other_user, direct_conversation, django_assert_num_queries
):
    """The originals are joined to the page, not read one by one."""
    texts = [f"message {index}" for index in range(10)]
    previous = None
    for text in texts:
        previous = send_message(
            sender=user,
            conversation=direct_conversation,
            text=text,
            reply_to_id=previous.pk if previous else None,
        )[0]
    with django_assert_num_queries(2):  # membership, page (no mentions, reactions or files)
        body = client_for(other_user).get(f"/api/messages/{direct_conversation.pk}").json()
    assert [m["replyTo"]["excerpt"] if m["replyTo"] else None for m in body] == [
        None,
        *texts[:-1],
    ]
