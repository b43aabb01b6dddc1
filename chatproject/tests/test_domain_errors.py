"""The project's errors and their one description (chatproject.errors):
REST, the socket, the pages and the admin report a refusal alike."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from rest_framework import exceptions

from chatproject import errors
from chatproject.throttling import RateLimited
from tests.support.factories import TEST_PASSWORD, UserFactory
from users.models import User


@pytest.mark.parametrize(
    ("exc", "status", "code", "details"),
    [
        (errors.NotFound("No such conversation."), 404, "not_found", {}),
        (errors.PermissionDenied(), 403, "permission_denied", {}),
        (errors.Conflict("Deleted.", code="message_deleted"), 409, "message_deleted", {}),
        (
            errors.Invalid({"text": ["Empty."]}),
            400,
            "validation_error",
            {"fields": {"text": ["Empty."]}},
        ),
        (errors.Invalid("Whole."), 400, "validation_error", {"fields": {"nonField": ["Whole."]}}),
        (RateLimited(1.2, "Too many."), 429, "throttled", {"retryAfterSeconds": 2}),
        (
            DjangoValidationError({"name": ["Bad."]}),
            400,
            "validation_error",
            {"fields": {"name": ["Bad."]}},
        ),
        (
            exceptions.ValidationError(["Bad."]),
            400,
            "validation_error",
            {"fields": {"nonField": ["Bad."]}},
        ),
        (exceptions.ParseError(), 400, "parse_error", {}),
        (OperationalError("down"), 503, "service_unavailable", {}),
    ],
)
def test_every_refusal_has_one_description(exc, status, code, details):
    description = errors.describe(exc)
    assert (description.status, description.code, description.details) == (status, code, details)
    assert description.message


def test_a_throttle_waits_whole_seconds_everywhere():
    description = errors.describe(RateLimited(0.2, "Too many."))
    assert description.details == {"retryAfterSeconds": 1}
    assert description.headers == {"Retry-After": "1"}
    assert description.message == "Too many. Expected available in 1 second."


def test_an_unexpected_exception_has_no_description():
    assert errors.describe(ValueError("a bug")) is None


@pytest.mark.django_db
def test_a_service_refusal_on_a_page_is_the_forms_error_not_a_500(client):
    """The sign-up page calls the registration service: its refusal (a
    username that looks like a taken one, "alice" with a Cyrillic a) shows on
    the form."""
    UserFactory(username="alice")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "\u0430lice",
            "display_name": "Not Alice",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "looks like it" in response.content.decode()
    assert not User.objects.filter(display_name="Not Alice").exists()
