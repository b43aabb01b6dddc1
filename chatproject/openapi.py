"""OpenAPI pieces every app's API uses: the error envelope's schema."""

from http import HTTPStatus

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="Error",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "requestId": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The envelope for each status, plus the errors any endpoint can give."""
    every = {*statuses, 500, 503}
    return {
        code: OpenApiResponse(response=ErrorEnvelope, description=HTTPStatus(code).phrase)
        for code in sorted(every)
    }
