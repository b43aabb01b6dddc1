"""Request ids, and the error envelope for everything under /api/ that DRF
does not render itself (unknown paths, exceptions outside DRF views)."""

import re
import uuid

from django.http import HttpRequest, HttpResponse

from chatproject.errors import envelope_for_exception, envelope_response, is_api_path
from chatproject.request_context import current_request_id

INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the client or makes one, and
    returns it in the response header; logs use it through the filter."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if INCOMING_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiErrorEnvelopeMiddleware:
    """No Django HTML error page on an /api/ path: an unexpected exception
    becomes a 500 envelope (logged with its traceback, never sent), and an
    error response that is not JSON (Django's 404 for an unknown path, its
    400/403 pages) is replaced by the envelope for the same status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api_path(request.path)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return envelope_response(request, response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        return envelope_for_exception(request, exception)
