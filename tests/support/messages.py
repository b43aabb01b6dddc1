"""Expected parts of the message shape (messaging/serializers.py)."""

from messaging.models import Message


def reply_quote(message: Message, *, deleted: bool = False) -> dict:
    """`replyTo` of a reply to `message` as it reads now (a deleted one quotes nothing)."""
    return {
        "id": str(message.pk),
        "seq": message.seq,
        "sender": None if message.sender_id is None else str(message.sender_id),
        "excerpt": "" if deleted else message.text[:140],
        "deleted": deleted,
    }
