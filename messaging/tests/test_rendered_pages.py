"""A history page's messages as the API sends them are MessageSerializer's
shape, byte for byte in meaning and key for key in order, however the page
was built: on PostgreSQL the statement writes each message's JSON
(messaging.serializers.message_json_sql) and only messages with mentions,
reactions or files go through the serializer; elsewhere all of them do."""

from datetime import UTC, datetime, timedelta

import pytest

from messaging.models import Message
from messaging.selectors import messages_queryset
from messaging.serializers import MessageSerializer
from messaging.services import (
    add_reaction,
    delete_message,
    edit_message,
    post_system_message,
    send_message,
    upload_attachment,
)
from tests.support.api import client_for
from tests.support.files import image_bytes

pytestmark = pytest.mark.django_db

TEXTS = [
    "plain",
    'quotes " and \\ backslashes, tab\t and newline\n end',
    "control \x01\x1f characters, line separators \u2028\u2029, emoji 👍🏽 and ünïcödé",
    "x" * 300,
    "",
]


def varied_conversation(conversation, user, other_user) -> None:
    """Every kind of message the shape distinguishes."""
    sent = [
        send_message(sender=user, conversation=conversation, text=text, attachment_ids=[])[0]
        for text in TEXTS[:4]
    ]
    send_message(
        sender=other_user,
        conversation=conversation,
        text="a reply to the long one",
        reply_to_id=sent[3].pk,
        client_message_id="client-1",
        client_timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    send_message(
        sender=other_user,
        conversation=conversation,
        text="timestamp with microseconds",
        client_timestamp=datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC),
    )
    edited = send_message(sender=user, conversation=conversation, text="before")[0]
    edit_message(actor=user, message=edited, text="after")
    gone = send_message(sender=user, conversation=conversation, text="to delete")[0]
    send_message(
        sender=other_user, conversation=conversation, text="reply to deleted", reply_to_id=gone.pk
    )
    delete_message(actor=user, message=gone)
    post_system_message(conversation, "Ann renamed the group")
    mentioning = send_message(
        sender=user, conversation=conversation, text=f"@{other_user.username} look"
    )[0]
    add_reaction(user=other_user, message=mentioning, emoji="👍")
    add_reaction(user=user, message=mentioning, emoji="🎉")
    add_reaction(user=user, message=sent[0], emoji="👍")
    files = [
        upload_attachment(
            uploader=user, conversation_id=conversation.pk, name=name, content=content
        ).pk
        for name, content in (("notes.txt", b"text"), ("photo.png", image_bytes()))
    ]
    send_message(sender=user, conversation=conversation, text="files", attachment_ids=files)
    # A creation time on a whole second (isoformat leaves out its microseconds).
    Message.objects.filter(pk=sent[1].pk).update(
        created_at=datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC) + timedelta(seconds=1)
    )


def serialized(conversation, viewer, seqs: list[int]) -> list[dict]:
    messages = {m.seq: m for m in messages_queryset().filter(conversation=conversation)}
    context = {"viewer_id": viewer.pk}
    return [dict(MessageSerializer(messages[seq], context=context).data) for seq in seqs]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=5",
        "?before=9&limit=4",
        "?after=3&limit=6",
        "?around=8&limit=6",
        "?sinceVersion=0",
    ],
)
@pytest.mark.parametrize("viewer", ["user", "other_user"])
def test_every_page_is_the_serializer_shape(direct_conversation, user, other_user, query, viewer):
    varied_conversation(direct_conversation, user, other_user)
    reader = {"user": user, "other_user": other_user}[viewer]
    response = client_for(reader).get(f"/api/messages/{direct_conversation.pk}{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    page = response.json()
    assert page, "an empty page compares nothing"
    expected = serialized(direct_conversation, reader, [message["seq"] for message in page])
    assert [list(message) for message in page] == [list(message) for message in expected]
    assert page == expected


def test_the_varied_conversation_has_every_kind(direct_conversation, user, other_user):
    """What the comparisons above cover: each field in each of its forms."""
    varied_conversation(direct_conversation, user, other_user)
    page = client_for(user).get(f"/api/messages/{direct_conversation.pk}").json()
    assert {m["kind"] for m in page} == {"text", "system"}
    assert any(m["sender"] is None for m in page)
    assert any(m["editedAt"] and m["editCount"] == 1 for m in page)
    assert any(m["deletedAt"] and m["text"] == "" for m in page)
    assert any(m["replyTo"] and m["replyTo"]["deleted"] for m in page)
    assert any(m["replyTo"] and len(m["replyTo"]["excerpt"]) == 140 for m in page)
    assert any(m["createdAt"].endswith(":01Z") for m in page)
    assert {m["clientTimestamp"] for m in page} >= {
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.000120Z",
    }
    assert any(m["reactions"] for m in page) and any(m["mentions"] for m in page)
    assert any(m["attachments"] and m["attachments"][1]["thumbnailUrl"] for m in page)
    assert any("\u2028" in m["text"] and "\x01" in m["text"] for m in page)
