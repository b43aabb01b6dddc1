from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from chatproject import throttling
from users.models import User


class SignUpForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["username", "display_name"]
        labels = {"display_name": "Display name (optional)"}


class LimitedAuthenticationMixin:
    """An authentication form under the limits of POST /api/auth/token (per
    address, and failed attempts per username, one budget for every login
    surface); over them the password is not checked and `retry_after` says
    for how long (the view answers 429)."""

    retry_after: int | None = None

    def clean(self):
        username = self.data.get("username")
        try:
            throttling.limit_auth_attempt(self.request, username)
        except throttling.RateLimited as exc:
            self.retry_after = exc.wait
            raise ValidationError(exc.message, code="throttled") from None
        cleaned_data = super().clean()
        throttling.auth_succeeded(username)
        return cleaned_data


class LoginForm(LimitedAuthenticationMixin, AuthenticationForm):
    """The /accounts/login/ form."""


class AdminLoginForm(LimitedAuthenticationMixin, AdminAuthenticationForm):
    """The /admin/login/ form (staff only, as Django's), under the same limits."""


class NewTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Name (optional)",
        help_text="What the token is for, e.g. the device or script.",
    )
