"""The language of a signed-in user's pages."""

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: a signed-in user who chose a language
    on the profile page gets it, whatever the browser asks for; otherwise
    LocaleMiddleware's choice (Accept-Language) stands. Content-Language
    names the language the response is in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        language = user.language if user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers["Content-Language"] = language
        return response
