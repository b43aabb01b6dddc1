import re

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from chatproject import throttling
from chatproject.errors import Invalid
from users import services
from users.forms import (
    LoginForm,
    NewTokenForm,
    ProfileForm,
    SignUpForm,
    add_service_errors,
    rate_limited_notice,
)
from users.models import User

TOKEN_ID = re.compile(r"[0-9]{1,18}")


def sign_up(request: HttpRequest) -> HttpResponse:
    """The sign-up page, under the same limits as POST /api/auth/signup."""
    if request.user.is_authenticated:
        return redirect("inbox")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        username = request.POST.get("username")
        try:
            throttling.limit_auth_attempt(request, username)
        except throttling.RateLimited as exc:
            form.add_error(None, rate_limited_notice(exc))
            response = render(request, "registration/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.wait)
            return response
        user = form.is_valid() and register(form)
        if user:
            throttling.auth_succeeded(username)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("inbox")
    return render(request, "registration/signup.html", {"form": form})


def register(form: SignUpForm) -> User | None:
    """The account of a valid sign-up form, created by the sign-up service;
    None with the service's objections added to the form."""
    try:
        return services.register_user(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
        )
    except Invalid as exc:
        add_service_errors(form, exc, {"password": "password2"})
        return None


class LoginView(auth_views.LoginView):
    """Django's login page with LoginForm's limits: too many attempts show
    the form with the error, as 429 with Retry-After."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        return throttled_login_answer(super().form_invalid(form), form)


def throttled_login_answer(response: HttpResponse, form: object) -> HttpResponse:
    """A login page's answer: 429 with Retry-After when `form` (a
    LimitedAuthenticationMixin form) was refused for being over the limits."""
    retry_after = getattr(form, "retry_after", None)
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


@never_cache
@login_required
def tokens_page(request: HttpRequest) -> HttpResponse:
    """My API tokens: create one (its key is shown once, in this response only:
    never stored, never cached) or revoke any of them."""
    form, new_key = NewTokenForm(), None
    if request.method == "POST" and "revoke" in request.POST:
        token_id = request.POST["revoke"]
        if not TOKEN_ID.fullmatch(token_id) or not services.revoke_token_of(
            request.user, int(token_id)
        ):
            raise Http404("You have no token with this id.")
        return redirect("tokens")
    if request.method == "POST":
        form = NewTokenForm(request.POST)
        if form.is_valid():
            _, new_key = services.issue_token(request.user, name=form.cleaned_data["name"])
            form = NewTokenForm()
    context = {"tokens": services.tokens_of(request.user), "form": form, "new_key": new_key}
    return render(request, "registration/tokens.html", context)


class LogoutView(auth_views.LogoutView):
    """Django's logout, through users.services.log_out: the sockets opened
    with this session close (4401), on every process."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        services.log_out(request)
        return redirect(self.get_success_url())


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change my password: every other session is signed out and its
    sockets close; this one stays signed in (users.services.change_password)."""

    form_class = PasswordChangeForm
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        services.change_password(
            user=form.user, password=form.cleaned_data["new_password1"], request=self.request
        )
        return redirect(self.get_success_url())


@never_cache
@login_required
def profile_page(request: HttpRequest) -> HttpResponse:
    """My profile: display name, theme and language (users.services.update_profile),
    with the links to the password and token pages and "sign out everywhere"."""
    form = ProfileForm.for_user(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_profile(user=request.user, **form.cleaned_data)
        except Invalid as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your profile was saved."))
            return redirect("profile")
    return render(request, "users/profile.html", {"form": form})


@require_POST
@login_required
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of mine, this one included, and close their sockets;
    the login page then says so."""
    services.sign_out_everywhere(user=request.user, request=request)
    messages.info(
        request,
        _(
            "You were signed out everywhere: every browser must log in again. "
            "API tokens keep working."
        ),
    )
    return redirect("login")
