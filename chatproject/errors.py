"""The one error envelope of the API.

Every error under /api/ is
`{"error": {"code", "message", "requestId", "details"}}` with the same request
id in the `X-Request-ID` header; DRF's exception handler and the middleware
for everything outside DRF both build it here.
"""

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger("chatproject.errors")

API_PREFIX = "/api/"

DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "internal_error",
    503: "service_unavailable",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def error_body(
    request_id: str,
    status_code: int,
    code: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code or DEFAULT_CODES.get(status_code, "error"),
            "message": message or HTTPStatus(status_code).phrase,
            "requestId": request_id,
            "details": details or {},
        }
    }


def envelope_response(request: HttpRequest, status_code: int) -> JsonResponse:
    """The envelope for a status when there is nothing more to say than its name."""
    request_id = getattr(request, "request_id", "-")
    response = JsonResponse(error_body(request_id, status_code), status=status_code)
    response["X-Request-ID"] = request_id
    return response


class ApiError(exceptions.APIException):
    """An API error with its own status, code and details (e.g. a 409 when an
    idempotency key is reused for a different message)."""

    def __init__(self, status_code: int, code: str, message: str, details: dict | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def envelope_for_exception(request: HttpRequest, exc: Exception) -> JsonResponse:
    """The envelope for an exception raised outside a DRF view."""
    exc = translate_exception(exc)
    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled exception on %s %s", request.method, request.path, exc_info=exc)
        return envelope_response(request, 500)
    request_id = getattr(request, "request_id", "-")
    code = exc.error_code if isinstance(exc, ApiError) else exc.default_code
    body = error_body(request_id, exc.status_code, code, str(exc.detail))
    response = JsonResponse(body, status=exc.status_code)
    response["X-Request-ID"] = request_id
    return response


def translate_exception(exc: Exception) -> Exception:
    """Django and database exceptions as the DRF exceptions they amount to."""
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "payload_too_large", "The request body is too large.")
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request was malformed.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", exc)
        return ApiError(503, "service_unavailable", "The database is unavailable; retry shortly.")
    return exc


def flatten_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return flatten_message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        return f"{field}: {flatten_message(value)}"
    return str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (status, headers such as
    Retry-After and WWW-Authenticate), with the body replaced by the envelope."""
    exc = translate_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context["request"]
    request_id = getattr(request, "request_id", "-")
    details: dict[str, Any] = {}
    code = None
    if isinstance(exc, ApiError):
        code, details = exc.error_code, exc.details
        message = str(exc.detail)
    elif isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        details = {
            "fields": exc.detail if isinstance(exc.detail, dict) else {"nonField": exc.detail}
        }
        message = flatten_message(exc.detail)
    else:
        message = flatten_message(response.data.get("detail", response.data))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retryAfterSeconds": int(exc.wait + 0.999)}
        if isinstance(exc, exceptions.APIException):
            codes = exc.get_codes()
            if isinstance(codes, str):
                code = codes
    if response.status_code == status.HTTP_400_BAD_REQUEST and code in (
        None,
        "invalid",
    ):
        code = "bad_request"
    response.data = error_body(request_id, response.status_code, code, message, details)
    return response
