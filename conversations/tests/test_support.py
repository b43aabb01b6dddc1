"""Workspaces, status, assignee, rating, summary, tags and member roles of
conversations: written through conversations.services, shown in the REST
API and edited in the admin."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction

from chatproject.bus import conversation_group, user_group
from chatproject.errors import Invalid
from conversations import selectors, services
from conversations.models import Conversation, Membership, Tag, TagTranslation
from messaging import services as messaging_services
from messaging.models import Message
from tests.support.admin import change_form
from tests.support.api import assert_error, client_for
from tests.support.factories import ConversationFactory
from workspaces.models import Workspace
from workspaces.services import create_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db) -> Workspace:
    return create_workspace(name="Acme", slug="acme")


# Workspaces ------------------------------------------------------------------------


def test_conversations_go_to_the_default_workspace_unless_named(user, other_user, acme):
    direct, _ = services.create_conversation(creator=user, member_ids=[other_user.pk])
    assert direct.workspace == Workspace.objects.default()
    group, _ = services.create_conversation(
        creator=user, member_ids=[other_user.pk], kind="group", workspace=acme
    )
    group.refresh_from_db()
    assert group.workspace == acme
    # A pair's one direct conversation is in one workspace.
    with pytest.raises(Invalid):
        services.create_conversation(creator=user, member_ids=[other_user.pk], workspace=acme)


def test_every_conversation_gets_its_own_access_token(user, other_user):
    first = ConversationFactory(members=[user])
    second = ConversationFactory(members=[other_user])
    assert len(first.access_token) >= 32
    assert first.access_token != second.access_token
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=second.pk).update(access_token=first.access_token)


# Close and reopen --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_closing_stamps_closed_at_and_posts_a_system_message_once(user, other_user):
    conversation = ConversationFactory(members=[user, other_user])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(conversation_group(conversation.pk), channel)

    assert messaging_services.close_conversation(conversation, actor=user) is True
    assert messaging_services.close_conversation(conversation, actor=user) is False

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.closed_at is not None
    notice = Message.objects.get(conversation=conversation)
    assert (notice.kind, notice.sender, notice.seq) == ("system", None, 1)
    assert notice.text == f"Conversation closed by {user.name}."
    frame = json.loads(async_to_sync(layer.receive)(channel)["frame"])
    assert (frame["type"], frame["message"]["kind"]) == ("message.new", "system")

    assert messaging_services.reopen_conversation(conversation) is True
    conversation.refresh_from_db()
    assert (conversation.status, conversation.closed_at) == ("open", None)
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_a_closed_conversation_always_has_closed_at(user):
    conversation = ConversationFactory(members=[user])
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(status="closed")


def test_members_close_and_reopen_over_rest(user, other_user, outsider):
    conversation = ConversationFactory(members=[user, other_user])
    response = client_for(user).post(f"/api/conversations/{conversation.pk}/close")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed" and body["closedAt"]
    assert body["lastMessage"]["kind"] == "system"
    assert_error(client_for(outsider).post(f"/api/conversations/{conversation.pk}/close"), 403)
    assert_error(client_for(user).post("/api/conversations/999999/close"), 404)
    reopened = client_for(other_user).post(f"/api/conversations/{conversation.pk}/reopen")
    assert (reopened.json()["status"], reopened.json()["closedAt"]) == ("open", None)


def test_the_conversation_shape_shows_the_support_details(user, other_user, acme):
    conversation = ConversationFactory(members=[user, other_user])
    services.update_conversation(
        conversation, assignee=other_user, rating=5, summary="Sorted.", workspace=acme
    )
    body = client_for(user).get("/api/conversations").json()[0]
    assert {key: body[key] for key in ("workspaceId", "status", "closedAt")} == {
        "workspaceId": str(acme.pk),
        "status": "open",
        "closedAt": None,
    }
    assert (body["assigneeId"], body["rating"], body["summary"]) == (
        str(other_user.pk),
        5,
        "Sorted.",
    )


# Details and tags ---------------------------------------------------------------------


def test_update_conversation_validates(user, other_user):
    conversation = ConversationFactory(members=[user])
    other_user.is_active = False
    other_user.save(update_fields=["is_active"])
    with pytest.raises(Invalid):
        services.update_conversation(conversation, assignee=other_user)
    with pytest.raises(Invalid):
        services.update_conversation(conversation, rating=-1)
    with pytest.raises(TypeError):
        services.update_conversation(conversation, status="closed")


def test_tags_belong_to_the_conversations_workspace(user, acme):
    conversation = ConversationFactory(members=[user])
    mine = services.save_tag(Tag(name="Billing"))
    theirs = services.save_tag(Tag(name="Billing", workspace=acme))
    services.set_conversation_tags(conversation, [mine])
    with pytest.raises(Invalid):
        services.set_conversation_tags(conversation, [theirs])
    assert list(conversation.tags.all()) == [mine]
    # Moving the conversation drops the tags of its old workspace.
    services.update_conversation(conversation, workspace=acme)
    assert list(conversation.tags.all()) == []


def test_tag_names_per_language(user):
    conversation = ConversationFactory(members=[user])
    tag = services.save_tag(Tag(name="Refund"))
    services.save_tag_translation(TagTranslation(tag=tag, language="pt_BR", name="Reembolso (BR)"))
    services.save_tag_translation(TagTranslation(tag=tag, language=" DE ", name="Erstattung"))
    services.set_conversation_tags(conversation, [tag])
    assert set(tag.translations.values_list("language", flat=True)) == {"pt-br", "de"}
    assert selectors.localized_tag_names(conversation.pk, "pt-BR") == ["Reembolso (BR)"]
    assert selectors.localized_tag_names(conversation.pk, "de-AT") == ["Erstattung"]
    assert selectors.localized_tag_names(conversation.pk, "fr") == ["Refund"]
    assert selectors.localized_tag_names(conversation.pk, None) == ["Refund"]


# Members --------------------------------------------------------------------------------


def test_member_roles(user, other_user, outsider, django_capture_on_commit_callbacks):
    conversation, _ = services.create_conversation(
        creator=user, member_ids=[other_user.pk], kind="group"
    )
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(outsider.pk), channel)

    with django_capture_on_commit_callbacks(execute=True):
        services.add_member(conversation, outsider, Membership.Role.CUSTOMER)
    frame = json.loads(async_to_sync(layer.receive)(channel)["frame"])
    assert (frame["type"], frame["conversation"]["id"]) == (
        "conversation.new",
        str(conversation.pk),
    )

    membership = Membership.objects.get(conversation=conversation, user=other_user)
    services.set_member_role(membership, Membership.Role.AGENT)
    assert selectors.member_roles(conversation.pk) == {
        user.pk: "owner",
        other_user.pk: "agent",
        outsider.pk: "customer",
    }
    with pytest.raises(Invalid):
        services.set_member_role(membership, "king")
    with pytest.raises(Invalid):
        services.add_member(conversation, outsider)
    direct, _ = services.create_conversation(creator=user, member_ids=[other_user.pk])
    with pytest.raises(Invalid):
        services.add_member(direct, outsider)


# Admin ------------------------------------------------------------------------------------


def test_the_admin_edits_support_details_tags_and_roles(admin_client, user, other_user):
    conversation = ConversationFactory(members=[user, other_user])
    tag = services.save_tag(Tag(name="VIP"))
    memberships = list(conversation.memberships.order_by("pk"))
    data = change_form(
        conversation,
        memberships,
        assignee=other_user.pk,
        rating="3",
        summary="Wants a refund.",
        tags=[tag.pk],
        **{"memberships-0-role": "customer", "memberships-1-role": "agent"},
    )

    response = admin_client.post(
        f"/admin/conversations/conversation/{conversation.pk}/change/", data
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.rating, conversation.summary) == (
        other_user,
        3,
        "Wants a refund.",
    )
    assert list(conversation.tags.all()) == [tag]
    assert selectors.member_roles(conversation.pk) == {user.pk: "customer", other_user.pk: "agent"}
    page = admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")
    assert conversation.access_token in page.content.decode()


def test_the_admin_close_action_uses_the_service(admin_client, user):
    conversations = [ConversationFactory(members=[user]) for _ in range(2)]
    response = admin_client.post(
        "/admin/conversations/conversation/",
        {"action": "close_conversations", "_selected_action": [c.pk for c in conversations]},
    )
    assert response.status_code == 302
    for conversation in conversations:
        conversation.refresh_from_db()
        assert conversation.status == "closed" and conversation.closed_at
        notice = Message.objects.get(conversation=conversation)
        assert notice.text == f"Conversation closed by {admin_client.admin_user.name}."
    listing = admin_client.get("/admin/conversations/conversation/", {"status__exact": "closed"})
    assert listing.status_code == 200


def test_the_admin_adds_a_group_with_members(admin_client, user, acme):
    data = {
        "workspace": acme.pk,
        "title": "Escalations",
        "assignee": "",
        "rating": "",
        "summary": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": user.pk,
        "memberships-0-role": "agent",
    }
    response = admin_client.post("/admin/conversations/conversation/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    conversation = Conversation.objects.get(title="Escalations")
    assert (conversation.kind, conversation.workspace) == ("group", acme)
    assert selectors.member_roles(conversation.pk) == {
        admin_client.admin_user.pk: "owner",
        user.pk: "agent",
    }


def test_the_tag_admin_saves_translations(admin_client):
    response = admin_client.post(
        "/admin/conversations/tag/add/",
        {
            "workspace": Workspace.objects.default().pk,
            "name": "Billing Issue",
            "translations-TOTAL_FORMS": "1",
            "translations-INITIAL_FORMS": "0",
            "translations-MIN_NUM_FORMS": "0",
            "translations-MAX_NUM_FORMS": "1000",
            "translations-0-language": "PL",
            "translations-0-name": "Problem z płatnością",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    tag = Tag.objects.get(name="Billing Issue")
    assert list(tag.translations.values_list("language", "name")) == [
        ("pl", "Problem z płatnością")
    ]
    assert admin_client.get("/admin/conversations/tag/").status_code == 200
