"""The API's edge of chatproject.errors: DRF's exception handler and the
envelope for exceptions raised outside DRF views (the middleware), both
from `describe`. Apart from errors.py because DRF's views import the
authentication classes, which import the services, which import errors.py."""

import logging

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from chatproject.errors import describe, envelope_response, error_body

logger = logging.getLogger("chatproject.errors")


def envelope_for_exception(request: HttpRequest, exc: Exception) -> JsonResponse:
    """The envelope for an exception raised outside a DRF view."""
    description = describe(exc)
    if description is None:
        logger.error("Unhandled exception on %s %s", request.method, request.path, exc_info=exc)
        return envelope_response(request, 500)
    request_id = getattr(request, "request_id", "-")
    body = error_body(
        request_id,
        description.status,
        description.code,
        description.message,
        description.details,
    )
    response = JsonResponse(body, status=description.status)
    for name, value in description.headers.items():
        response[name] = value
    response["X-Request-ID"] = request_id
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: the envelope of `describe`, with DRF's own
    headers for its exceptions (WWW-Authenticate on a 401) and Retry-After
    when throttled. None for an unexpected exception (DRF re-raises it; the
    middleware answers 500)."""
    description = describe(exc)
    if description is None:
        return None
    response = exception_handler(exc, context) if isinstance(exc, exceptions.APIException) else None
    if response is None:
        set_rollback()  # as DRF does for its own exceptions (ATOMIC_REQUESTS)
        response = Response(status=description.status)
    for name, value in description.headers.items():
        response[name] = value
    request_id = getattr(context["request"], "request_id", "-")
    response.status_code = description.status
    response.data = error_body(
        request_id,
        description.status,
        description.code,
        description.message,
        description.details,
    )
    return response
