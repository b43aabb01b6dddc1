from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chatproject import views
from realtime import views as realtime_views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # The pages' JS strings (gettext/interpolate), in the request's language.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/status/", views.status_page, name="chat-status"),
    path("admin/", admin.site.urls),
    path("accounts/", include("users.page_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/asyncapi.json", realtime_views.asyncapi_json, name="asyncapi"),
    # The split view serves Swagger UI's start-up script from a URL: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # The seed 001-004 endpoints, at their documented paths (one is under /api/).
    path("", include("integrations.urls")),
    path("api/", include("users.urls")),
    path("api/", include("conversations.urls")),
    path("api/", include("messaging.urls")),
    path("api/", include("messaging.search_urls")),
    path("", include("messaging.page_urls")),
]
