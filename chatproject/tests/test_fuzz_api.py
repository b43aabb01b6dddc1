"""schemathesis over the app's own OpenAPI schema (/api/schema/), in-process.

Every documented operation gets generated requests (valid and invalid, up to
MAX_EXAMPLES each) sent through the WSGI app inside the test's database
transaction, signed in with a real token of a user who is a member of seeded
conversations. Path ids are drawn partly from the seeded rows, so requests
reach real data (member, non-member and missing ids) and not only 404s.
Checked: no 5xx, and every response conforms to the schema (status code
documented, content type, body schema).
"""

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chatproject.wsgi import application
from messaging.services import send_message
from tests.support.factories import ConversationFactory, UserFactory
from users.services import issue_token

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# The rows the current test seeded, by parameter name: read while Hypothesis
# draws (during the test), written by the `seeded` fixture.
REAL_IDS: dict[str, list] = {}
REAL_PATHS: list[dict[str, str]] = []


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """The generated path, the same with seeded ids swapped in, or a seeded
    path that names real rows together (a message in its conversation)."""
    if not path_parameters:
        return st.just(path_parameters)
    mixed = st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *REAL_IDS.get(name, [])])
            for name, value in path_parameters.items()
        }
    )
    real = [path for path in REAL_PATHS if set(path) == set(path_parameters)]
    return st.one_of(mixed, st.sampled_from(real)) if real else mixed


@schema.hook
def flatmap_body(context, body):
    """Ids in bodies too (sender, conversationId, users ...), now and then seeded ones."""
    if not isinstance(body, dict):
        return st.just(body)
    return st.fixed_dictionaries(
        {key: st.sampled_from([value, *REAL_IDS.get(key, [])]) for key, value in body.items()}
    )


@pytest.fixture
def keep_test_connection():
    """Django closes the database connection when a request ends; in-process
    requests must keep the test's connection (and its transaction) open, as
    django.test.Client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, keep_test_connection):
    """alice (the caller) in a direct conversation with bob and in a group,
    with messages from both; carol and dave talk in a conversation alice is not in."""
    alice, bob, carol, dave = (UserFactory() for _ in range(4))
    direct = ConversationFactory(members=[alice, bob])
    group = ConversationFactory(members=[alice, bob, carol], kind="group")
    foreign = ConversationFactory(members=[carol, dave])
    messages = [
        send_message(sender=sender, conversation=conversation, text=f"hello {n}")[0]
        for n, (sender, conversation) in enumerate(
            [(alice, direct), (bob, direct), (alice, group), (carol, group), (carol, foreign)]
        )
    ]
    token, _ = issue_token(alice, name="fuzz")
    me, user_ids = str(alice.pk), [str(alice.pk), str(bob.pk), str(carol.pk)]
    conversation_ids = [str(c.pk) for c in (direct, group, foreign)]
    REAL_IDS.update(
        id=[*user_ids, str(token.pk)],
        userId=user_ids,
        firstUserId=user_ids,
        secondUserId=user_ids,
        conversationId=conversation_ids,
        messageId=[str(m.pk) for m in messages],
        sender=[me],
        senderId=[me],
        receiverId=user_ids[1:],
        users=[[me, str(bob.pk)], [str(carol.pk)], user_ids[1:]],
    )
    REAL_PATHS.extend(
        [
            {"firstUserId": me, "secondUserId": str(bob.pk)},
            *({"conversationId": str(m.conversation_id), "messageId": str(m.pk)} for m in messages),
        ]
    )
    yield alice
    REAL_IDS.clear()
    REAL_PATHS.clear()


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_its_schema(case, seeded):
    # A fresh token per request: rotating or revoking it must not sign the
    # rest of the examples out.
    _, key = issue_token(seeded, name="fuzz")
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
