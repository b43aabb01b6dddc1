"""The new-conversation page answers bad input with the form and its errors,
never a 500."""

import pytest

from conversations.models import Conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "users", ["99999999999999999999999", "9223372036854775808", "-1", "²", "1e3", "abc"]
)
def test_an_id_that_cannot_be_a_user_is_a_form_error(page_client, users):
    response = page_client.post("/conversations/new/", {"users": users})

    assert response.status_code == 200
    assert 'class="form-error"' in response.content.decode()
    assert not Conversation.objects.exists()


def test_a_refusal_of_the_create_service_is_a_form_error(page_client, settings, other_user):
    settings.CHAT_GROUP_MAX_MEMBERS = 1

    response = page_client.post("/conversations/new/", {"users": [other_user.pk]})

    assert response.status_code == 200
    assert "A conversation has at most 1 members." in response.content.decode()
    assert not Conversation.objects.exists()


def test_a_valid_choice_still_starts_the_conversation(page_client, other_user):
    response = page_client.post("/conversations/new/", {"users": [other_user.pk]})

    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/c/{conversation.pk}/")
