"""What every page's template needs from the signed-in user."""

from django.http import HttpRequest

from users.models import User


def preferences(request: HttpRequest) -> dict[str, str]:
    """`ui_theme` for `<html data-theme>`: the user's choice, "system"
    (prefers-color-scheme) for anonymous visitors."""
    user = getattr(request, "user", None)
    theme = user.theme if user is not None and user.is_authenticated else User.Theme.SYSTEM
    return {"ui_theme": theme}
