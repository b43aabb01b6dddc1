"""Mentions (issue 13 item 3): `@username` tokens resolved by send_message
and edit_message to members of the conversation, as `mentions` on the
message, and each member's `unreadMentions` on the conversation list."""

import pytest

from conversations.models import Conversation, Membership
from conversations.services import mark_read
from messaging.mentions import mentioned_user_ids
from messaging.models import Mention, Message
from messaging.services import delete_message, edit_message, send_message
from tests.support.api import client_for, post_message
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory, UserFactory

MEMBERS = [(1, "alice"), (2, "Bob"), (3, "carol.b"), (4, "zoë"), (5, "dan-")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@alice hi", [1]),
        ("hi @alice", [1]),
        ("@ALICE and @bob", [1, 2]),
        ("(@alice), @bob: look", [1, 2]),
        ("thanks @alice.", [1]),
        ("ask @carol.b.", [3]),
        ("@dan- is a username with a dash", [5]),
        ("cześć @Zoë!", [4]),
        ("@alice @alice @ALICE", [1]),
        ("@bob then @alice", [2, 1]),
        ("mail alice@example.com or bob@alice", []),
        ("@@alice", []),
        ("x@alice", []),
        ("@alicex @ali", []),
        ("@ alice", []),
        ("@eve is not here", []),
        ("no mention at all", []),
    ],
)
def test_which_tokens_mention_whom(text, expected):
    assert mentioned_user_ids(text, MEMBERS) == expected


pytestmark = pytest.mark.django_db


@pytest.fixture
def group(user, other_user):
    return ConversationFactory(members=[user, other_user], kind=Conversation.Kind.GROUP)


def test_a_send_stores_and_shows_the_members_it_mentions(user, other_user, group):
    stranger = UserFactory(username="stranger")
    text = f"@{other_user.username.upper()} and @{stranger.username}, see @{user.username}"
    response = post_message(client_for(user), group, user, text)
    assert response.status_code == 200, response.content
    body = response.json()
    # A non-member is not mentioned, whoever they are.
    assert body["mentions"] == [str(other_user.pk), str(user.pk)]
    message = Message.objects.get(pk=body["id"])
    assert set(Mention.objects.filter(message=message).values_list("user_id", "seq")) == {
        (other_user.pk, message.seq),
        (user.pk, message.seq),
    }
    history = client_for(other_user).get(f"/api/messages/{group.pk}").json()
    assert history[-1]["mentions"] == [str(other_user.pk), str(user.pk)]


def test_an_edit_resolves_the_mentions_again(user, other_user, group):
    third = UserFactory()
    Membership.objects.create(conversation=group, user=third)
    message = send_message(sender=user, conversation=group, text=f"@{other_user.username} hi")[0]
    assert [m.user_id for m in message.mention_list] == [other_user.pk]

    response = client_for(user).patch(
        f"/api/messages/{group.pk}/{message.pk}", {"text": f"@{third.username} hi"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["mentions"] == [str(third.pk)]
    assert list(Mention.objects.filter(message=message).values_list("user_id", flat=True)) == [
        third.pk
    ]

    edit_message(actor=user, message=message, text="never mind")
    assert not Mention.objects.filter(message=message).exists()


def test_a_system_message_mentions_no_one(user, group):
    message = send_message(
        sender=None,
        conversation=group,
        text=f"@{user.username} renamed the group.",
        kind=Message.Kind.SYSTEM,
    )[0]
    assert message.mention_list == []
    assert not Mention.objects.exists()


def test_a_deleted_message_mentions_no_one(user, other_user, group):
    message = send_message(sender=user, conversation=group, text=f"@{other_user.username} hi")[0]
    tombstone = client_for(user).delete(f"/api/messages/{group.pk}/{message.pk}").json()
    assert tombstone["mentions"] == []
    assert not Mention.objects.filter(message=message).exists()


def test_the_live_event_carries_the_mentions(
    user, other_user, group, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{group.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(sender=user, conversation=group, text=f"@{other_user.username}")[0]
        edit_message(actor=user, message=message, text="no one")
    new, updated = [frame for frame in frames(channel) if frame["type"].startswith("message.")]
    assert new["message"]["mentions"] == [str(other_user.pk)]
    assert updated["type"] == "message.updated"
    assert updated["message"]["mentions"] == []


def unread_mentions(client) -> dict[str, int]:
    response = client.get("/api/conversations")
    assert response.status_code == 200, response.content
    return {row["id"]: row["unreadMentions"] for row in response.json()}


def test_the_conversation_list_counts_my_unread_mentions(user, other_user, group):
    direct = ConversationFactory(members=[user, other_user])
    mention = f"@{user.username}"
    send_message(sender=other_user, conversation=group, text=f"{mention} one")
    send_message(sender=other_user, conversation=group, text="no mention")
    third = send_message(sender=other_user, conversation=group, text=f"{mention} three")[0]
    send_message(sender=other_user, conversation=direct, text="hello")
    # Only the caller's own mentions count, each in its conversation.
    send_message(sender=user, conversation=direct, text=f"@{other_user.username}")

    assert unread_mentions(client_for(user)) == {str(group.pk): 2, str(direct.pk): 0}
    assert unread_mentions(client_for(other_user)) == {str(group.pk): 0, str(direct.pk): 1}

    membership = Membership.objects.get(conversation=group, user=user)
    mark_read(membership=membership, seq=third.seq - 1)
    assert unread_mentions(client_for(user))[str(group.pk)] == 1
    delete_message(actor=other_user, message=third)
    assert unread_mentions(client_for(user))[str(group.pk)] == 0


def test_one_conversation_answers_with_its_unread_mentions(user, other_user, group):
    send_message(sender=other_user, conversation=group, text=f"@{user.username}")
    response = client_for(user).get(f"/api/conversations/{group.pk}/details")
    assert response.status_code == 200, response.content
    assert response.json()["unreadMentions"] == 1
    assert (
        client_for(other_user)
        .get(f"/api/conversations/{group.pk}/details")
        .json()["unreadMentions"]
        == 0
    )
