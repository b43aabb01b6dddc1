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


# Postprocessing (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) -------------------

# OpenAPI 3.0 has no null type: a schema that admits null is `nullable: true`
# beside a `type`, and nothing else (OAS 3.0.3).
NULL_SCHEMA = {
    "type": "object",
    "nullable": True,
    "enum": [None],
    "description": "JSON null (OpenAPI 3.0 has no null type: an object whose only value is null).",
}


def null_or(schema: dict) -> dict:
    """drf-spectacular writes a nullable reference as `{"allOf": [ref],
    "nullable": true}`: `nullable` without a sibling `type`, which a strict
    OpenAPI 3.0 validator ignores (it refused the real null values) and
    `redocly lint` reports. The same as "that reference, or null"."""
    if schema.get("nullable") is not True or "type" in schema or len(schema.get("allOf", [])) != 1:
        return schema
    outer = {key: value for key, value in schema.items() if key not in {"allOf", "nullable"}}
    return {"anyOf": [schema["allOf"][0], {"$ref": "#/components/schemas/Null"}], **outer}


def rewrite_nullable_references(node):
    if isinstance(node, dict):
        return null_or({key: rewrite_nullable_references(value) for key, value in node.items()})
    if isinstance(node, list):
        return [rewrite_nullable_references(item) for item in node]
    return node


def strict_openapi_30(result: dict, generator, request, public) -> dict:
    """What drf-spectacular leaves to the project, for strict OpenAPI 3.0
    tools (`redocly lint`, openapi-schema-validator): nullable references as
    `anyOf` with null, and `security: []` on the operations that need no
    credentials (sign-up, token), which otherwise say nothing about security."""
    result = rewrite_nullable_references(result)
    result["components"].setdefault("schemas", {})["Null"] = NULL_SCHEMA
    for item in result["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation.setdefault("security", [])
    return result
