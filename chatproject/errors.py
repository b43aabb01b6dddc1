"""The project's errors, and the one description every edge gives them.

Services and selectors raise DomainError subclasses (NotFound,
PermissionDenied, Conflict, Invalid, Throttled, Unavailable), never a web
framework's exceptions, so a page or the admin calling a service is not
turned into a 500 by an API exception. `describe` turns any exception into
(status, code, message, details): the API envelope
`{"error": {"code", "message", "requestId", "details"}}` (with the same
request id in `X-Request-ID`), the socket's `error` frame, the pages' and
admin's form errors and each seed endpoint's error shape are all built from
it.
"""

import logging
import math
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions

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


# The domain's errors ------------------------------------------------------------


class DomainError(Exception):
    """A refusal by a service or selector: its status, code, message and details."""

    status = 400
    code = "bad_request"
    default_message = "The request was refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        super().__init__(self.message)


class NotFound(DomainError):
    status, code, default_message = 404, "not_found", "Not found."


class PermissionDenied(DomainError):
    status, code = 403, "permission_denied"
    default_message = "You do not have permission to do this."


class Conflict(DomainError):
    status, code, default_message = 409, "conflict", "This conflicts with the current state."


class Invalid(DomainError):
    """Bad input: `fields` maps each field ("nonField" for the whole) to its messages."""

    status, code = 400, "validation_error"

    def __init__(self, fields: dict[str, Any] | list | str) -> None:
        if not isinstance(fields, dict):
            fields = {"nonField": fields if isinstance(fields, list) else [fields]}
        self.fields = fields
        super().__init__(flatten_message(fields), details={"fields": fields})


class Throttled(DomainError):
    """429 `throttled`, with the whole seconds to wait (never 0) as
    details.retryAfterSeconds and the Retry-After header."""

    status, code = 429, "throttled"

    def __init__(self, wait: float, message: str) -> None:
        self.wait = max(math.ceil(wait - 1e-6), 1)
        unit = "second" if self.wait == 1 else "seconds"
        super().__init__(
            f"{message} Expected available in {self.wait} {unit}.",
            details={"retryAfterSeconds": self.wait},
        )


class Unavailable(DomainError):
    status, code = 503, "service_unavailable"
    default_message = "The service is unavailable; retry shortly."


class ApiError(DomainError):
    """An error with its own status and code (e.g. a 409 when an idempotency
    key is reused for a different message)."""

    def __init__(self, status_code: int, code: str, message: str, details: dict | None = None):
        super().__init__(message, code=code, status=status_code, details=details)


# The one description -------------------------------------------------------------


@dataclass(frozen=True)
class Description:
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def describe(exc: BaseException) -> Description | None:
    """How any edge reports `exc`; None for an unexpected exception (a bug:
    the edge logs it and answers 500 without its details)."""
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.wait)} if isinstance(exc, Throttled) else {}
        return Description(exc.status, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, DjangoValidationError):
        return describe(Invalid(exc.message_dict if hasattr(exc, "error_dict") else exc.messages))
    if isinstance(exc, exceptions.ValidationError):
        return describe(Invalid(exc.detail))
    if isinstance(exc, exceptions.Throttled):  # its detail says the wait already
        wait = max(math.ceil((exc.wait or 1) - 1e-6), 1)
        return Description(
            429,
            "throttled",
            flatten_message(exc.detail),
            {"retryAfterSeconds": wait},
            {"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) and codes != "invalid" else None
        status = exc.status_code
        return Description(
            status, code or DEFAULT_CODES.get(status, "error"), flatten_message(exc.detail)
        )
    if isinstance(exc, RequestDataTooBig):
        return Description(413, "payload_too_large", "The request body is too large.")
    if isinstance(exc, Http404):
        return describe(NotFound())
    if isinstance(exc, DjangoPermissionDenied):
        return describe(PermissionDenied())
    if isinstance(exc, SuspiciousOperation):
        return Description(400, "parse_error", "The request was malformed.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", exc)
        return describe(Unavailable("The database is unavailable; retry shortly."))
    return None


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


def flatten_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return flatten_message(detail[0])
    if isinstance(detail, dict) and detail:
        name, value = next(iter(detail.items()))
        return f"{name}: {flatten_message(value)}"
    return str(detail)
