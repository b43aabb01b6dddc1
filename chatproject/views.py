from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependency checks: that is readiness)."""
    return JsonResponse({"status": "ok"})
