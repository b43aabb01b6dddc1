"""Live events of conversations and memberships: the frames, built next to
the services that publish them, handed to the bus (chatproject/bus.py).
Each one is published after the commit of the caller's transaction."""

from collections.abc import Iterable

from chatproject import bus
from conversations.models import Conversation, Membership
from conversations.serializers import ConversationSerializer


def publish_conversation_created(conversation: Conversation, member_ids: Iterable[int]) -> None:
    """To each member's sockets, which join the conversation's group. The
    conversation with its members set (conversations.selectors.with_members)."""
    frame = {"type": "conversation.new", "conversation": ConversationSerializer(conversation).data}
    bus.publish_to_users_on_commit(member_ids, frame)


def publish_conversation_updated(conversation: Conversation) -> None:
    """To the conversation's group: its title or members changed. The
    conversation with its members set (conversations.selectors.with_members)."""
    frame = {
        "type": "conversation.updated",
        "conversation": ConversationSerializer(conversation).data,
    }
    bus.publish_on_commit([bus.conversation_group(conversation.pk)], frame)


def publish_conversation_deleted(conversation_id: int, member_ids: Iterable[int]) -> None:
    """To each member's sockets: the conversation is gone (they leave its group)."""
    frame = {"type": "conversation.deleted", "conversationId": str(conversation_id)}
    bus.publish_to_users_on_commit(member_ids, frame)


def publish_membership_removed(membership: Membership) -> None:
    """To the removed user's sockets only: they leave the conversation's
    group and forward the frame, so that the client drops the conversation."""
    frame = {"type": "conversation.removed", "conversationId": str(membership.conversation_id)}
    bus.publish_to_users_on_commit([membership.user_id], frame)


def publish_membership_updated(membership: Membership) -> None:
    """To the member's own sockets: their setting of the conversation changed."""
    frame = {
        "type": "membership.updated",
        "conversationId": str(membership.conversation_id),
        "muted": membership.muted,
    }
    bus.publish_to_users_on_commit([membership.user_id], frame)


def publish_read(membership: Membership) -> None:
    frame = {
        "type": "read",
        "conversationId": str(membership.conversation_id),
        "userId": str(membership.user_id),
        "seq": membership.last_read_seq,
    }
    bus.publish_on_commit([bus.conversation_group(membership.conversation_id)], frame)
