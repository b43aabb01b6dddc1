from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from chatproject import throttling
from chatproject.errors import Invalid
from users.models import User


def add_service_errors(
    form: forms.Form, exc: Invalid, renames: dict[str, str] | None = None
) -> None:
    """A service's objections (Invalid's fields, by model field name) shown on
    `form`: on the field of that name (or its rename), the rest above the form,
    in the page's language (services mark their own messages with gettext_noop
    and raise them in English, for the API; Django's validators' are translated
    already)."""
    for name, errors in exc.fields.items():
        field = (renames or {}).get(name, name)
        form.add_error(
            field if field in form.fields else None, [gettext(error) for error in errors]
        )


def rate_limited_notice(exc: throttling.RateLimited) -> str:
    """A sign-in page's error for `exc` in the page's language: its reason
    and the wait, as the API's message says them in English."""
    wait = ngettext(
        "Expected available in %(seconds)d second.",
        "Expected available in %(seconds)d seconds.",
        exc.wait,
    ) % {"seconds": exc.wait}
    return f"{gettext(exc.reason)} {wait}"


class SignUpForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["username", "display_name"]
        labels = {"display_name": _("Display name (optional)")}
        widgets = {"display_name": forms.TextInput(attrs={"autocomplete": "nickname"})}


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
            raise ValidationError(rate_limited_notice(exc), code="throttled") from None
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
        label=_("Name (optional)"),
        help_text=_("What the token is for, e.g. the device or script."),
    )


class ProfileForm(forms.Form):
    """The profile page's form; users.services.update_profile has the last word."""

    display_name = forms.CharField(
        max_length=150,
        required=False,
        label=_("Display name"),
        help_text=_("Shown to others instead of your username; leave empty to show the username."),
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    theme = forms.ChoiceField(choices=User.Theme.choices, label=_("Theme"))
    language = forms.ChoiceField(choices=User.Language.choices, required=False, label=_("Language"))

    @classmethod
    def for_user(cls, user: User, data=None) -> "ProfileForm":
        fields = ["display_name", "theme", "language"]
        return cls(data, initial={name: getattr(user, name) for name in fields})
