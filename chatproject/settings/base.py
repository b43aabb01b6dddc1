"""The core of the settings: paths, DEBUG, the secret key and hosts, the
installed apps and middleware, templates, static files and the REST API.
Evaluated first (chatproject/settings/__init__.py): DEBUG off without a
DJANGO_SECRET_KEY is refused before anything else is read."""

import os
import secrets
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chatproject.settings.environment import env_bool, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"


def development_secret_key() -> str:
    """A random key kept in var/ so that sessions survive restarts and are
    shared by every local process; never used when DEBUG is off."""
    VAR_DIR.mkdir(exist_ok=True)
    key_file = VAR_DIR / "dev-secret-key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    warnings.warn(
        "DJANGO_SECRET_KEY is not set: using a generated development key from var/.",
        stacklevel=1,
    )
    SECRET_KEY = development_secret_key()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "chatproject.apps.ChatAdminConfig",
    "chatproject.apps.ChatProjectConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "users",
    "workspaces",
    "conversations",
    "messaging",
    "realtime",
    "integrations",
]

MIDDLEWARE = [
    "chatproject.middleware.RequestIdMiddleware",
    "chatproject.middleware.ApiErrorEnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "chatproject.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "users.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chatproject.middleware.DebugNotFoundPageMiddleware",
]

ROOT_URLCONF = "chatproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "users.context_processors.preferences",
            ],
        },
    },
]

WSGI_APPLICATION = "chatproject.wsgi.application"
ASGI_APPLICATION = "chatproject.asgi.application"

# Internationalisation ----------------------------------------------------------

# The pages speak English and Polish (docs/web.md "Languages"): the browser's
# Accept-Language decides, or the language chosen on the profile page.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pl", "Polski")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files ------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# REST API ----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chatproject.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chatproject.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": (
        "Real-time chat: users, conversations and messages. Every endpoint except "
        "sign-up, token, health and the schema needs a signed-in user (session cookie, "
        "or `Authorization: Token <key>` / `Bearer <key>`). Errors use one envelope: "
        '`{"error": {"code", "message", "requestId", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Relative: the server that serves the document (and, for `manage.py
    # spectacular`, the one it is deployed to).
    "SERVERS": [{"url": "/", "description": "The server this document is served by."}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chatproject.openapi.strict_openapi_30",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ConversationKindEnum": "conversations.models.Conversation.Kind",
        "MessageKindEnum": "messaging.models.Message.Kind",
        "ConversationStatusEnum": "conversations.models.Conversation.Status",
        # The seed 001-004 endpoints (integrations).
        "AsappRoleEnum": ["agent", "customer", "system"],
        "FiveChatStatusEnum": ["active", "closed"],
        "OdysseyMessageTypeEnum": ["query", "response"],
    },
}
