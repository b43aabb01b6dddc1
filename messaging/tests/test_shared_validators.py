"""messaging.serializers.validated (one shared serializer per class) gives what
a new serializer's is_valid(raise_exception=True) gives: the same data, or the
same errors."""

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from messaging.serializers import HistoryQuerySerializer, SendMessageSerializer, validated


def outcome_of_new_serializer(serializer_class, data):
    serializer = serializer_class(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        return "errors", error.detail, error.get_codes()
    return "data", dict(serializer.validated_data), None


def outcome_of_shared_serializer(serializer_class, data):
    try:
        return "data", dict(validated(serializer_class, data)), None
    except ValidationError as error:
        return "errors", error.detail, error.get_codes()


SENDS = [
    {"conversationId": "1", "sender": "2", "text": "hello"},
    {
        "conversationId": 1,
        "sender": 2,
        "text": "",
        "clientMessageId": "c-1",
        "clientTimestamp": "2026-01-02T03:04:05+01:00",
        "replyTo": "7",
        "attachments": ["3", 4],
    },
    {},
    [],
    "text",
    {"conversationId": "x", "sender": True, "text": 5},
    {"conversationId": "1", "sender": "2", "text": "a", "clientMessageId": "x" * 65},
    {"conversationId": "1", "sender": "2", "text": "a", "clientTimestamp": "yesterday"},
    {"conversationId": "1", "sender": "2", "text": "a", "attachments": "3"},
    {"conversationId": "1", "sender": "2", "text": "a", "attachments": [str(n) for n in range(99)]},
    {"conversationId": "1", "sender": "2", "text": None, "replyTo": "-1"},
]


@pytest.mark.parametrize("data", SENDS)
def test_a_send_validates_as_with_a_new_serializer(data):
    assert outcome_of_shared_serializer(SendMessageSerializer, data) == (
        outcome_of_new_serializer(SendMessageSerializer, data)
    )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=50",
        "before=10&limit=1",
        "sinceVersion=0",
        "around=5",
        "limit=0",
        "limit=x",
        "before=1&after=2",
        "limit=100000",
        "after=-1",
        "before=4611686018427387905",
    ],
)
def test_a_history_query_validates_as_with_a_new_serializer(query):
    data = QueryDict(query)
    assert outcome_of_shared_serializer(HistoryQuerySerializer, data) == (
        outcome_of_new_serializer(HistoryQuerySerializer, data)
    )
