"""The admin site: Django's, with its login under the sign-in limits of
/accounts/login/ and POST /api/auth/token (docs/limits.md)."""

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from users.forms import AdminLoginForm
from users.views import LogoutView, throttled_login_answer


class ChatAdminSite(AdminSite):
    login_form = AdminLoginForm

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        # A refused form comes back as an unrendered TemplateResponse.
        context = getattr(response, "context_data", None) or {}
        return throttled_login_answer(response, context.get("form"))

    def logout(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """As /accounts/logout/: the sockets of the session close."""
        return LogoutView.as_view(next_page=f"{self.name}:login")(request)
