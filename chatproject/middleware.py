"""Request ids, and the error envelope for everything under /api/ that DRF
does not render itself (unknown paths, exceptions outside DRF views)."""

import json
import logging
import re
import time
import uuid
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import empty
from django.views.defaults import page_not_found

from chatproject.api_errors import envelope_for_exception
from chatproject.errors import envelope_response, is_api_path
from chatproject.request_context import current_request_id

INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LOGFMT_BARE = re.compile(r"^[A-Za-z0-9._~/:@%+,;!*()'-]+$")

access_logger = logging.getLogger("chatproject.access")


def logfmt_value(value: object) -> str:
    """A logfmt value: bare when it is safe, else a JSON string (so that a path
    with spaces, quotes, `=` or a newline in it cannot forge fields or lines)."""
    text = str(value)
    return text if LOGFMT_BARE.match(text) else json.dumps(text)


def user_id_of(request: HttpRequest) -> str:
    """The signed-in user's id, or "-". Never loads the session or the user
    just to log it: a request that did not look at its user logs "-"."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return "-"
    return str(user.pk) if getattr(user, "is_authenticated", False) else "-"


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the client or makes one, and
    returns it in the response header; logs use it through the filter.

    It also writes the access log: one line per request on the
    `chatproject.access` logger, in logfmt,
    `method=GET path=/api/users status=200 duration_ms=3.1 user_id=4 request_id=…`,
    with the same fields as the record's `extra` (for a JSON formatter)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if INCOMING_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self.log_access(request, response, request_id, started)
        finally:
            current_request_id.reset(token)
        return response

    @staticmethod
    def log_access(
        request: HttpRequest, response: HttpResponse, request_id: str, started: float
    ) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user_id": user_id_of(request),
            "request_id": request_id,
        }
        access_logger.info(
            " ".join(f"{key}={logfmt_value(value)}" for key, value in fields.items()),
            extra={"access": fields},
        )


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


class DebugNotFoundPageMiddleware:
    """With DEBUG on, a page route's 404 is the site's own 404 page (as with
    DEBUG off), not Django's technical one: an unknown path, or a view that
    raised Http404. The API keeps its JSON envelope (ApiErrorEnvelopeMiddleware),
    and static files and the admin keep Django's debugging page."""

    TECHNICAL_PREFIXES = ("/api/", "/admin/")

    def __init__(self, get_response):
        self.get_response = get_response

    def is_page_route(self, request: HttpRequest) -> bool:
        prefixes = (*self.TECHNICAL_PREFIXES, "/" + settings.STATIC_URL.lstrip("/"))
        return settings.DEBUG and not request.path.startswith(prefixes)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No view was resolved: Django answered with its technical 404 itself.
        unresolved = response.status_code == 404 and request.resolver_match is None
        if unresolved and self.is_page_route(request):
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and self.is_page_route(request):
            return page_not_found(request, exception)
        return None


PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in [
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    ]
)


@cache
def origin_of(storage: Storage) -> str:
    """Where the storage's URLs (pre-signed, for S3) point: scheme and host."""
    url = urlsplit(storage.url("origin"))
    return f"{url.scheme}://{url.netloc}"


def attachment_image_sources() -> str:
    """The object storage's origin, when attachments are kept in one: an
    image's URL on this site redirects there (messaging/downloads.py), and a
    browser checks img-src against where the redirect lands too."""
    storage = storages["attachments"]
    return "" if isinstance(storage, FileSystemStorage) else f" {origin_of(storage)}"


def content_security_policy(host: str | None) -> str:
    """No inline script, no plugins, no framing; scripts, styles, images,
    fonts and fetches from this origin only, plus this host's WebSocket
    (ws: and wss: spelt out: not every browser counts them as 'self') and
    images from the attachments' object storage."""
    sockets = f" ws://{host} wss://{host}" if host else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' data:{attachment_image_sources()}",
        "font-src": "'self'",
        "connect-src": f"'self'{sockets}",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response
    (docs/operations.md "Security headers"). Every page's script is a static ES module,
    so the policy allows no inline script at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        try:
            host = request.get_host()
        except DisallowedHost:  # answered 400 already; no socket to allow
            host = None
        response.setdefault("Content-Security-Policy", content_security_policy(host))
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
