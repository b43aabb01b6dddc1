from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from chatproject.health import describe_layer_hosts, readiness_checks, redact
from users.models import SocketConnection

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependency checks: that is readiness)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database answers and the channel layer carries a
    message there and back. 503 otherwise, so a load balancer moves on."""
    checks = readiness_checks()
    ready = all(check.ok for check in checks)
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            # Public: ok or failing only; what failed and why is on the status page.
            "checks": [{"name": check.name, "ok": check.ok} for check in checks],
        },
        status=200 if ready else 503,
    )


def socket_processes() -> list[dict]:
    """Open sockets per server process (host:pid)."""
    rows = (
        SocketConnection.objects.values("server").annotate(sockets=Count("id")).order_by("server")
    )
    return [{"process": row["server"], "sockets": row["sockets"]} for row in rows]


@staff_member_required
def status_page(request: HttpRequest) -> HttpResponse:
    """What an operator needs when "messages don't arrive". Superusers only:
    it names the layer's hosts and its groups can be joined by whoever can
    reach them (passwords are masked all the same). Rendered inside the
    admin (its header, user tools and breadcrumbs: the admin site's context)."""
    if not request.user.is_superuser:
        raise PermissionDenied("The status page is for superusers.")
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    processes = socket_processes()
    warnings = []
    if backend == IN_MEMORY_LAYER and len(processes) > 1:
        warnings.append(
            _(
                "The in-memory channel layer is in use but sockets are open on %(count)d "
                "processes: events reach only sockets of the process that published them. "
                "Set REDIS_URL."
            )
            % {"count": len(processes)}
        )
    return render(
        request,
        "admin/chat_status.html",
        {
            **admin.site.each_context(request),
            "title": _("Chat status"),
            "backend": backend,
            "redis_url": redact(settings.REDIS_URL) or None,
            "layer_hosts": describe_layer_hosts(),
            "checks": readiness_checks(),
            "processes": processes,
            "total_sockets": sum(p["sockets"] for p in processes),
            "warnings": warnings,
        },
    )
