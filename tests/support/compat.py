"""Helpers of the seed contract tests: data made through the services, and
the comparison of a response with a seed's documented example."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.models import Conversation, Membership
from conversations.services import set_member_role
from messaging.services import send_message
from tests.support.factories import ConversationFactory
from workspaces.models import ApiKey, Workspace


@dataclass
class Key:
    """An API key and its secret (shown once at creation)."""

    api_key: ApiKey
    secret: str

    @property
    def key_id(self) -> str:
        return self.api_key.key_id


def conversation_of(members: dict, *, workspace: Workspace | None = None, **fields):
    """A conversation of `members` ({user: role}), roles set through the service."""
    users = list(members)
    conversation = ConversationFactory(
        members=users,
        kind=Conversation.Kind.GROUP if len(users) > 2 else Conversation.Kind.DIRECT,
        **({"workspace": workspace} if workspace else {}),
        **fields,
    )
    for user, role in members.items():
        set_member_role(Membership.objects.get(conversation=conversation, user=user), role)
    return conversation


def say(user, conversation, text: str, **extra):
    return send_message(sender=user, conversation=conversation, text=text, **extra)[0]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_shape(actual: Any, example: Any, nullable: set[str] = frozenset(), path: str = ""):
    """`actual` has the documented example's keys (no more, no fewer) and
    each value the example value's JSON type; `nullable` lists the paths
    (e.g. "conversation.closedAt") that may also be null. Lists are checked
    element by element against the example's first element."""
    if actual is None and path in nullable:
        return
    if isinstance(example, dict):
        assert isinstance(actual, dict), (path, actual)
        assert set(actual) == set(example), (path, set(actual) ^ set(example))
        for key, value in example.items():
            assert_shape(actual[key], value, nullable, f"{path}.{key}" if path else key)
    elif isinstance(example, list):
        assert isinstance(actual, list), (path, actual)
        for item in actual:
            assert_shape(item, example[0], nullable, f"{path}[]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), (path, actual)
    elif isinstance(example, int):
        assert isinstance(actual, int) and not isinstance(actual, bool), (path, actual)
    else:
        assert isinstance(actual, type(example)), (path, actual)
