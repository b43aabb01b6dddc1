"""The conversations API: create (the seed's three body forms, groups),
list, find, mark read, and the errors of each."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Membership
from messaging.services import send_message
from tests.support.api import assert_error, post_message
from tests.support.factories import ConversationFactory, UserFactory

BODY_FORMS = {
    "users-list": lambda me, other: {"users": [str(me.pk), str(other.pk)]},
    "users-objects": lambda me, other: {
        "users": [{"senderId": str(me.pk)}, {"receiverId": str(other.pk)}]
    },
    "sender-receiver": lambda me, other: {"senderId": str(me.pk), "receiverId": str(other.pk)},
}


def unknown_user_id() -> int:
    return UserFactory._meta.model.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000


def send_from(user, conversation, count: int) -> None:
    for number in range(count):
        send_message(sender=user, conversation=conversation, text=f"{user.username} {number}")


# Create ----------------------------------------------------------------------


@pytest.mark.parametrize("form", list(BODY_FORMS))
def test_create_direct_then_same_one_again(user_client, user, other_user, form):
    body = BODY_FORMS[form](user, other_user)

    first = user_client.post("/api/conversations", body, format="json")
    again = user_client.post("/api/conversations", body, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    created = first.json()
    assert isinstance(created["id"], str)
    assert again.json()["id"] == created["id"]
    assert sorted(created["users"]) == sorted([str(user.pk), str(other_user.pk)])
    assert all(isinstance(member, str) for member in created["users"])
    assert created["kind"] == "direct"
    assert created["createdBy"] == str(user.pk)
    assert created["lastSeq"] == 0
    assert created["unreadCount"] == 0
    assert created["lastMessage"] is None
    assert Conversation.objects.count() == 1
    assert Membership.objects.filter(conversation_id=int(created["id"])).count() == 2


def test_create_direct_from_the_other_side_returns_the_same_one(
    user_client, other_client, user, other_user
):
    first = user_client.post("/api/conversations", {"users": [str(other_user.pk)]}, format="json")
    mirrored = other_client.post("/api/conversations", {"users": [str(user.pk)]}, format="json")

    assert first.status_code == 201
    assert mirrored.status_code == 200
    assert mirrored.json()["id"] == first.json()["id"]


def test_create_adds_the_caller_when_not_listed(user_client, user, other_user):
    response = user_client.post(
        "/api/conversations", {"users": [str(other_user.pk)]}, format="json"
    )

    assert response.status_code == 201
    assert sorted(response.json()["users"]) == sorted([str(user.pk), str(other_user.pk)])


def test_create_group_of_three_is_new_each_time(user_client, user, other_user, outsider):
    body = {"users": [str(user.pk), str(other_user.pk), str(outsider.pk)], "title": "Trio"}

    first = user_client.post("/api/conversations", body, format="json")
    second = user_client.post("/api/conversations", body, format="json")

    assert first.status_code == 201
    assert second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    for response in (first, second):
        assert response.json()["kind"] == "group"
        assert response.json()["title"] == "Trio"
        assert sorted(response.json()["users"]) == sorted(
            str(member.pk) for member in (user, other_user, outsider)
        )
    assert Conversation.objects.filter(kind="group").count() == 2


def test_create_with_unknown_user_is_400_naming_it(user_client, user, other_user):
    missing = unknown_user_id()

    response = user_client.post(
        "/api/conversations", {"users": [str(other_user.pk), str(missing)]}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"]["fields"]["users"] == [f"Unknown user id: {missing}"]
    assert not Conversation.objects.exists()


def test_create_with_inactive_user_is_400(user_client):
    inactive = UserFactory(is_active=False)

    response = user_client.post("/api/conversations", {"users": [str(inactive.pk)]}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert str(inactive.pk) in error["details"]["fields"]["users"][0]


@pytest.mark.parametrize(
    "make_body",
    [
        lambda me, other: {"senderId": str(other.pk), "receiverId": str(me.pk)},
        lambda me, other: {"users": [{"senderId": str(other.pk)}, {"receiverId": str(me.pk)}]},
    ],
    ids=["sender-receiver", "users-objects"],
)
def test_create_with_forged_sender_is_403(user_client, user, other_user, make_body):
    response = user_client.post("/api/conversations", make_body(user, other_user), format="json")

    assert_error(response, 403, "permission_denied")
    assert not Conversation.objects.exists()


def test_create_with_bad_json_is_400_parse_error(user_client):
    response = user_client.post(
        "/api/conversations", data='{"users": [', content_type="application/json"
    )

    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    "body",
    [{}, {"users": []}, {"title": "nobody"}],
    ids=["empty", "empty-list", "title-only"],
)
def test_create_without_users_is_400(user_client, body):
    response = user_client.post("/api/conversations", body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "users" in error["details"]["fields"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"users": ["abc"]},
        {"users": [{"senderId": "1", "receiverId": "2"}]},
        {"users": [{"someoneId": "1"}]},
        {"users": "1"},
    ],
    ids=["not-digits", "two-roles", "unknown-role", "not-a-list"],
)
def test_create_with_malformed_users_is_400(user_client, body):
    assert_error(
        user_client.post("/api/conversations", body, format="json"), 400, "validation_error"
    )


def test_create_with_form_encoding_is_415(user_client, other_user):
    response = user_client.post(
        "/api/conversations",
        data=f"users={other_user.pk}",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 415, "unsupported_media_type")
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_unsupported_method_is_405(user_client, method):
    response = getattr(user_client, method)("/api/conversations", {}, format="json")

    assert_error(response, 405, "method_not_allowed")


# List ------------------------------------------------------------------------


@pytest.fixture
def three_conversations(user, other_user, outsider):
    """Three conversations of `user`, created three, two and one hours ago."""
    now = timezone.now()
    oldest = ConversationFactory(members=[user, other_user])
    middle = ConversationFactory(members=[user, outsider])
    newest = ConversationFactory(
        members=[user, other_user, outsider], kind="group", direct_key=None
    )
    for hours, conversation in ((3, oldest), (2, middle), (1, newest)):
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=now - timedelta(hours=hours)
        )
    return oldest, middle, newest


def test_list_is_most_recent_activity_first(
    user_client, other_client, other_user, three_conversations
):
    oldest, middle, newest = three_conversations
    assert post_message(other_client, oldest, other_user, "first").status_code == 200
    assert post_message(other_client, oldest, other_user, "second").status_code == 200

    response = user_client.get("/api/conversations")

    assert response.status_code == 200
    body = response.json()
    assert [entry["id"] for entry in body] == [str(oldest.pk), str(newest.pk), str(middle.pk)]
    active = body[0]
    assert active["unreadCount"] == 2
    assert active["lastReadSeq"] == 0
    assert active["lastSeq"] == 2
    assert active["lastMessage"]["text"] == "second"
    assert active["lastMessage"]["sender"] == str(other_user.pk)
    assert active["lastMessageAt"] is not None
    quiet = body[1]
    assert quiet["unreadCount"] == 0
    assert quiet["lastMessage"] is None
    assert quiet["lastMessageAt"] is None


def test_list_shows_the_senders_own_messages_as_read(other_client, other_user, user):
    conversation = ConversationFactory(members=[user, other_user])
    send_from(other_user, conversation, 3)

    entry = other_client.get("/api/conversations").json()[0]

    assert entry["lastReadSeq"] == 3
    assert entry["unreadCount"] == 0


def test_list_excludes_conversations_of_others(user_client, other_user, outsider):
    ConversationFactory(members=[other_user, outsider])

    response = user_client.get("/api/conversations")

    assert response.status_code == 200
    assert response.json() == []


def test_list_by_own_user_id_equals_my_list(user_client, user, three_conversations):
    mine = user_client.get("/api/conversations")
    by_id = user_client.get(f"/api/conversations/{user.pk}")

    assert by_id.status_code == 200
    assert len(by_id.json()) == 3
    assert by_id.json() == mine.json()


def test_list_of_another_user_is_403(user_client, other_user, direct_conversation):
    assert_error(user_client.get(f"/api/conversations/{other_user.pk}"), 403, "permission_denied")


def test_list_is_a_constant_number_of_queries(
    user_client, user, other_user, django_assert_max_num_queries
):
    for _ in range(6):
        conversation = ConversationFactory(
            members=[user, other_user], kind="group", direct_key=None
        )
        send_from(other_user, conversation, 2)

    # The conversations, memberships, last messages, their mentions,
    # reactions and attachments, unread mentions.
    with django_assert_max_num_queries(7):
        response = user_client.get("/api/conversations")

    assert len(response.json()) == 6


# Find ------------------------------------------------------------------------


def test_find_direct_conversation_either_order(user_client, user, other_user, direct_conversation):
    forward = user_client.get(f"/api/conversations/find/{user.pk}/{other_user.pk}")
    backward = user_client.get(f"/api/conversations/find/{other_user.pk}/{user.pk}")

    assert forward.status_code == 200
    assert forward.json()["id"] == str(direct_conversation.pk)
    assert backward.json()["id"] == str(direct_conversation.pk)
    assert sorted(forward.json()["users"]) == sorted([str(user.pk), str(other_user.pk)])


def test_find_none_is_404(user_client, user, outsider, direct_conversation):
    response = user_client.get(f"/api/conversations/find/{user.pk}/{outsider.pk}")

    assert_error(response, 404, "not_found")


def test_find_ignores_groups(user_client, user, outsider):
    ConversationFactory(members=[user, outsider], kind="group", direct_key=None)

    response = user_client.get(f"/api/conversations/find/{user.pk}/{outsider.pk}")

    assert_error(response, 404, "not_found")


def test_find_between_two_other_users_is_403(
    outsider_client, user, other_user, direct_conversation
):
    response = outsider_client.get(f"/api/conversations/find/{user.pk}/{other_user.pk}")

    assert_error(response, 403, "permission_denied")


# Mark read ---------------------------------------------------------------------


@pytest.fixture
def three_unread(user, other_user, direct_conversation):
    send_from(other_user, direct_conversation, 3)
    return direct_conversation


def mark_read(client, conversation, **body):
    return client.post(f"/api/conversations/{conversation.pk}/read", body, format="json")


def test_mark_read_advances(user_client, user, three_unread):
    response = mark_read(user_client, three_unread, seq=2)

    assert response.status_code == 200
    assert response.json() == {
        "conversationId": str(three_unread.pk),
        "lastReadSeq": 2,
        "unreadCount": 1,
    }
    assert Membership.objects.get(conversation=three_unread, user=user).last_read_seq == 2
    listed = user_client.get("/api/conversations").json()[0]
    assert (listed["lastReadSeq"], listed["unreadCount"]) == (2, 1)


def test_mark_read_never_moves_back(user_client, user, three_unread):
    mark_read(user_client, three_unread, seq=2)

    response = mark_read(user_client, three_unread, seq=1)

    assert response.status_code == 200
    assert response.json()["lastReadSeq"] == 2
    assert Membership.objects.get(conversation=three_unread, user=user).last_read_seq == 2


def test_mark_read_clamps_to_the_newest_message(user_client, user, three_unread):
    response = mark_read(user_client, three_unread, seq=99)

    assert response.status_code == 200
    assert response.json()["lastReadSeq"] == 3
    assert response.json()["unreadCount"] == 0
    assert Membership.objects.get(conversation=three_unread, user=user).last_read_seq == 3


def test_mark_read_without_seq_reads_everything(user_client, three_unread):
    response = mark_read(user_client, three_unread)

    assert response.status_code == 200
    assert response.json()["lastReadSeq"] == 3


@pytest.mark.parametrize("seq", [-1, "two", None])
def test_mark_read_with_invalid_seq_is_400(user_client, three_unread, seq):
    error = assert_error(mark_read(user_client, three_unread, seq=seq), 400, "validation_error")
    assert "seq" in error["details"]["fields"]


def test_mark_read_by_non_member_is_403(outsider_client, three_unread):
    assert_error(mark_read(outsider_client, three_unread, seq=1), 403, "permission_denied")


def test_mark_read_of_unknown_conversation_is_404(user_client, three_unread):
    response = user_client.post(
        f"/api/conversations/{three_unread.pk + 1000}/read", {"seq": 1}, format="json"
    )

    assert_error(response, 404, "not_found")
