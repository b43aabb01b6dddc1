"""System messages name their actor on one line, at most SYSTEM_NAME_MAX
characters: a display name cannot write a notice of its own into them."""

import pytest

from messaging import services as messaging_services
from messaging.models import Message
from tests.support.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

FORGED = (
    "the administrator.\n\nSECURITY NOTICE\u2028Your session expired:\tsign in again at "
    "https://evil.example/login\x1b[2J"
)


def notices(conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, kind="system")
        .order_by("seq")
        .values_list("text", flat=True)
    )


def test_close_and_reopen_name_the_actor_on_one_bounded_line():
    actor = UserFactory(display_name=FORGED)
    conversation = ConversationFactory(members=[actor])

    messaging_services.close_conversation(conversation, actor=actor)
    messaging_services.reopen_conversation(conversation, actor=actor)

    closed, reopened = notices(conversation)
    name = closed.removeprefix("Conversation closed by ").removesuffix(".")
    single_line = (
        "the administrator. SECURITY NOTICE Your session expired: sign in again at "
        "https://evil.example/login [2J"
    )
    assert name == single_line[:63] + "…"
    assert len(name) == messaging_services.SYSTEM_NAME_MAX == 64
    assert reopened == f"Conversation reopened by {name}."
    assert all(ch.isprintable() for ch in closed)


def test_a_name_of_nothing_visible_is_replaced_by_the_username():
    actor = UserFactory(username="carol", display_name="\n\u202e\t")
    conversation = ConversationFactory(members=[actor])

    messaging_services.close_conversation(conversation, actor=actor)

    assert notices(conversation) == ["Conversation closed by carol."]


@pytest.mark.parametrize(
    "display_name, shown",
    [
        ("Alice", "Alice"),
        ("  Bob \t the\n builder  ", "Bob the builder"),
        ("a" * 64, "a" * 64),
        ("a" * 65, "a" * 63 + "…"),
        ("\u202eevil\u2066", "evil"),
        ("👩\u200d💻 Dev", "👩\u200d💻 Dev"),
    ],
)
def test_names_in_system_text(display_name, shown):
    assert messaging_services.name_for_system_text(display_name) == shown
