"""GET /api/search/messages: full-text search of the caller's messages
(messaging/search.py; docs/api.md "Search"). REST only: the socket has no
search frame."""

from datetime import UTC, date, datetime, time, timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject import throttling
from chatproject.ids import IdField
from chatproject.openapi import error_responses
from messaging import search
from messaging.api import page_link
from messaging.serializers import MessageSerializer

SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 100


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """An ISO 8601 date ("2026-12-01", a whole day in UTC) or date-time
    (with an offset, else UTC), as the bound it sets on created_at: `before`
    is exclusive of the day or instant; `after` of the instant, or of the
    whole day (from the next day on, as Slack's after: reads it)."""

    default_error_messages = {"invalid": "An ISO 8601 date or date-time."}

    def __init__(self, *, bound: str, **kwargs) -> None:
        self.bound = bound
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        try:
            if len(text) == 10:
                day = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
                # created_at is in microseconds: "after the day" is > its last one.
                return day if self.bound == "before" else day + timedelta(days=1, microseconds=-1)
            moment = datetime.fromisoformat(text)
            # In UTC now: one that cannot be (year 1 with an offset ahead) is invalid.
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            self.fail("invalid")

    def to_representation(self, value):
        return value


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=search.QUERY_MAX_LENGTH,
        trim_whitespace=False,
        help_text='What to find (at most 200 characters): words, all required; "quoted '
        'phrases"; `or` between two terms; `-word` to exclude one. The last word also finds '
        "the words it begins (from 2 characters), unless the query ends with a space.",
    )
    conversationId = IdField(
        required=False, help_text="Only this conversation (403 if I am not a member of it)."
    )
    before = DateOrDateTimeField(
        bound="before",
        required=False,
        help_text="Only messages sent before this date (UTC) or date-time (ISO 8601).",
    )
    after = DateOrDateTimeField(
        bound="after",
        required=False,
        help_text="Only messages sent after this date (from the next day on, UTC) or "
        "date-time (ISO 8601).",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=SEARCH_MAX_LIMIT, default=SEARCH_DEFAULT_LIMIT
    )
    cursor = serializers.CharField(
        required=False, max_length=64, help_text='Opaque: from the Link header\'s rel="next".'
    )

    def get_fields(self) -> dict:
        # `from` is a Python keyword: it cannot be a class attribute.
        fields = super().get_fields()
        fields["from"] = IdField(required=False, help_text="Only messages sent by this user.")
        return fields

    def validate_q(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class SnippetSerializer(serializers.Serializer):
    text = serializers.CharField(
        help_text="Plain text (never HTML): the message's text, or the part of it around the "
        "first hit (at most 200 characters, with … where it is cut)."
    )
    highlights = serializers.ListField(
        child=serializers.ListField(
            child=serializers.IntegerField(min_value=0), min_length=2, max_length=2
        ),
        help_text="The hits in `text` as [start, end) offsets in Unicode code points (what "
        "Array.from(text) indexes in JavaScript), sorted, not overlapping.",
    )


class SearchResultSerializer(serializers.Serializer):
    message = MessageSerializer(help_text="The message as history shows it.")
    snippet = SnippetSerializer()


class SearchResultsSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)


NEXT_LINK = OpenApiParameter(
    "Link",
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description='RFC 8288 link to the next page of older hits (rel="next"), when there is one.',
)


class SearchViewSet(viewsets.ViewSet):
    """Search over the conversations the caller is a member of."""

    @extend_schema(
        summary="Search my messages",
        description="Messages of the conversations I am a member of whose text matches `q`, "
        "newest first, each with a snippet of its text and the hits in it as offsets (to "
        "mark with DOM calls: the text is plain, never HTML). Never deleted or system "
        "messages; an edited message is found by its current text only. On PostgreSQL words "
        "match whole words (the 'simple' text search configuration: case-insensitive, no "
        "stemming); on SQLite every term matches anywhere in the text, case-insensitively. "
        "Optional filters: `conversationId`, `from` (a sender), `before`/`after` (on the "
        'send time). Keyset paging: the `Link` header\'s rel="next" carries a cursor. 400 '
        "`validation_error` for an empty or blank `q` or one over 200 characters. Searches "
        "are limited per user (429 `throttled`).",
        parameters=[SearchQuerySerializer, NEXT_LINK],
        responses={200: SearchResultsSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def search(self, request: Request) -> Response:
        serializer = SearchQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        throttling.limit_search(request.user.pk)
        messages, more = search.search_messages(
            user=request.user,
            q=query["q"],
            conversation_id=query.get("conversationId"),
            sender_id=query.get("from"),
            before=query.get("before"),
            after=query.get("after"),
            limit=query["limit"],
            cursor=query.get("cursor"),
        )
        highlighter = search.highlighter(query["q"])
        context = {"viewer_id": request.user.pk}
        results = [
            {
                "message": MessageSerializer(message, context=context).data,
                "snippet": vars(search.snippet(message.text, highlighter)),
            }
            for message in messages
        ]
        headers = {}
        if more:
            given = {
                name: request.query_params[name]
                for name in serializer.fields
                if name in request.query_params
            }
            headers["Link"] = page_link(
                request, "next", **(given | {"cursor": search.encode_cursor(messages[-1].pk)})
            )
        return Response({"results": results}, headers=headers)
