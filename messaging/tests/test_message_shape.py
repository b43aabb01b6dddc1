"""MessageSerializer writes the message shape out by hand (for speed): it must
give what DRF's generic field-by-field loop over its declared fields gives."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from rest_framework import serializers

from messaging.models import Message
from messaging.selectors import history_page
from messaging.serializers import MessageSerializer
from messaging.services import (
    add_reaction,
    delete_message,
    edit_message,
    send_message,
    upload_attachment,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def attachment_directory(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


def every_kind_of_message(conversation, sender, other) -> None:
    original, _ = send_message(sender=sender, conversation=conversation, text="x" * 200)
    file = upload_attachment(
        uploader=sender, conversation_id=conversation.pk, name="a.txt", content=b"a"
    )
    reply, _ = send_message(
        sender=sender,
        conversation=conversation,
        text=f"@{other.username} see",
        reply_to_id=original.pk,
        attachment_ids=[file.pk],
        client_message_id="client-1",
        client_timestamp=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )
    add_reaction(user=other, message=reply, emoji="👍")
    edit_message(actor=sender, message=original, text="y" * 150)
    deleted, _ = send_message(sender=other, conversation=conversation, text="gone")
    delete_message(actor=other, message=deleted)
    send_message(sender=other, conversation=conversation, text="to a deleted one")
    Message.objects.filter(conversation=conversation, seq=4).update(reply_to=deleted)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Warsaw"])
def test_the_shape_is_the_declared_fields_field_for_field(
    direct_conversation, user, other_user, zone
):
    every_kind_of_message(direct_conversation, user, other_user)
    messages, _ = history_page(direct_conversation.pk, limit=50, with_senders=False)
    assert len(messages) == 4
    with timezone.override(zone):
        for viewer_id in (None, other_user.pk):
            serializer = MessageSerializer(context={"viewer_id": viewer_id})
            for message in messages:
                generic = serializers.Serializer.to_representation(serializer, message)
                assert serializer.to_representation(message) == generic
                assert list(serializer.to_representation(message)) == list(generic)
