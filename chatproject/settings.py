"""Settings for the chat project, read from the environment.

The embedded defaults (no variables set) give a development server on SQLite
with the in-memory channel layer; production sets DATABASE_URL, REDIS_URL,
DJANGO_SECRET_KEY and turns DJANGO_DEBUG off. See README "Configuration".
"""

import os
import secrets
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


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

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
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
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

WSGI_APPLICATION = "chatproject.wsgi.application"
ASGI_APPLICATION = "chatproject.asgi.application"

# Database ------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so concurrent
    # senders queue for it instead of failing with "database is locked"
    # when a read lock cannot be upgraded.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # A file, not memory, so that tests with threads share it; one per test
    # run, so that runs side by side do not wipe each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    VAR_DIR.mkdir(exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer (a dropped network, a host gone) fails a
    # request in seconds with a 503 (chatproject.errors) instead of hanging it
    # for the kernel's TCP timeout, minutes. tests/faults measure it.
    connect_timeout = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["connect_timeout"] = connect_timeout
    # A connection that stops answering mid-query (a dropped network) fails
    # once unacknowledged data has waited this long, instead of hanging.
    options["tcp_user_timeout"] = connect_timeout * 1000
    if env_bool("DATABASE_POOL", True):
        # Under ASGI each HTTP request runs its queries in a sync thread of its
        # own (asgiref's ThreadSensitiveContext), so CONN_MAX_AGE stays 0 (a
        # persistent connection per thread would pile up); but a new
        # connection per request or socket frame costs ~4 ms,
        # the most expensive part of a send (bench/fanout.py, README
        # "Performance"). psycopg's pool hands them out instead; with
        # CONN_HEALTH_CHECKS each is checked as it is handed out, so one that
        # died while idle (PostgreSQL restarted) is replaced, not used.
        # Connections in all: up to processes x DATABASE_POOL_MAX_SIZE.
        options["pool"] = {
            "min_size": int(os.environ.get("DATABASE_POOL_MIN_SIZE", "2")),
            "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10")),
            # A request waits at most this long for a connection: with
            # PostgreSQL down it then answers 503 (README "Faults").
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", str(connect_timeout))),
            # The pool retries a failed connect with a doubling delay until
            # this many seconds have passed, then starts over at 1 s: so it
            # reconnects within seconds of PostgreSQL coming back, however
            # long the outage was (tests/faults).
            "reconnect_timeout": float(os.environ.get("DATABASE_POOL_RECONNECT_TIMEOUT", "4")),
        }
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if os.environ.get("CHAT_TEST_DB_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["CHAT_TEST_DB_NAME"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer ---------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis Sentinel (deploy/README.md "Redis Sentinel"): "host:port" of each
# sentinel, comma-separated. When set, the layer asks them for the address of
# the master named REDIS_SENTINEL_MASTER and follows it through a failover;
# REDIS_URL then serves only the cache below, which stays on that one address.
REDIS_SENTINELS = env_list("REDIS_SENTINELS", [])
REDIS_LAYER_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def sentinel_address(entry: str) -> tuple[str, int]:
    """(host, port) from "host:port", "host" (port 26379) or "[IPv6]:port"."""
    host, _, port = entry.partition(":")
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        if not bracket or (rest and not rest.startswith(":")):
            host = ""  # "[v6" or "[v6]x"
    try:
        if not host:
            raise ValueError(entry)
        return host, int(port or "26379")
    except ValueError:
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS: {entry!r} is not host:port (IPv6 as [address]:port)."
        ) from None


if REDIS_URL or REDIS_SENTINELS:
    from redis.asyncio.retry import Retry as RedisRetry
    from redis.backoff import ConstantBackoff

    # redis-py 8 times out idle reads unless socket_timeout is None
    # (channels_redis issue 422), which loses messages. After a Redis restart
    # a pooled connection fails its next command: retried once on a new
    # connection, or the first socket connect and publish after the restart
    # fail (tests/faults).
    redis_layer_options = {"socket_timeout": None, "retry": RedisRetry(ConstantBackoff(0.1), 1)}
    if REDIS_SENTINELS:
        # channels_redis.utils.create_pool builds a SentinelConnectionPool from
        # "sentinels" and "master_name": each new connection asks the
        # sentinels where the master is now, and a connection to a server that
        # was demoted to a replica is dropped at its first write (ReadOnlyError).
        sentinel_kwargs = {"socket_connect_timeout": 1, "socket_timeout": 1}
        if os.environ.get("REDIS_SENTINEL_PASSWORD"):
            sentinel_kwargs["password"] = os.environ["REDIS_SENTINEL_PASSWORD"]
        redis_layer_host = {
            "sentinels": [sentinel_address(entry) for entry in REDIS_SENTINELS],
            "master_name": os.environ.get("REDIS_SENTINEL_MASTER", "mymaster"),
            # A sentinel that does not answer is skipped after a second.
            "sentinel_kwargs": sentinel_kwargs,
            "db": int(os.environ.get("REDIS_SENTINEL_DB", "0")),
            # A master host that vanished fails a connect in seconds, not minutes.
            "socket_connect_timeout": 5,
            **redis_layer_options,
        }
        if os.environ.get("REDIS_SENTINEL_MASTER_PASSWORD"):
            redis_layer_host["password"] = os.environ["REDIS_SENTINEL_MASTER_PASSWORD"]
    else:
        redis_layer_host = {"address": REDIS_URL, **redis_layer_options}

    # RedisChannelLayer by default: measured in bench/channel_layer.py (README
    # "Channel layer"); CHANNEL_LAYER_BACKEND=pubsub switches.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": REDIS_LAYER_BACKENDS[os.environ.get("CHANNEL_LAYER_BACKEND", "core")],
            "CONFIG": {
                "hosts": [redis_layer_host],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }
    if CHANNEL_LAYERS["default"]["BACKEND"] == REDIS_LAYER_BACKENDS["core"]:
        CHANNEL_LAYERS["default"]["CONFIG"].update(
            capacity=int(os.environ.get("CHANNEL_LAYER_CAPACITY", "1000")),
            expiry=60,
            group_expiry=int(os.environ.get("CHANNEL_LAYER_GROUP_EXPIRY", "3600")),
        )
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# How often each process checks that Redis still holds its sockets' groups
# (realtime/layer_guard.py): the longest a socket stays deaf after Redis
# restarted empty, before it is closed so that its client reconnects and syncs.
CHAT_LAYER_CHECK_SECONDS = float(os.environ.get("CHAT_LAYER_CHECK_SECONDS", "2"))
# The longest any one channel-layer call (a publish, a group join, the
# readiness round trip) may take: a Redis that hangs (stopped, not down) costs
# a send or a probe at most this long, and clients catch up with sync.
CHAT_LAYER_TIMEOUT_SECONDS = float(os.environ.get("CHAT_LAYER_TIMEOUT_SECONDS", "0.5"))

# Cache (rate-limit counters) ---------------------------------------------------

# Redis when REDIS_URL is set, so that every process shares one budget per
# user and address; else each process counts on its own. The key prefix keeps
# deployments sharing a Redis apart (as CHANNEL_LAYER_PREFIX does for the layer).
CACHE_KEY_PREFIX = os.environ.get("CHAT_CACHE_PREFIX") or os.environ.get(
    "CHANNEL_LAYER_PREFIX", "chat"
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Short commands only: a Redis that is down or hangs costs a
            # request at most this long before the limiter lets it through.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "chat",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# Auth ------------------------------------------------------------------------

AUTH_USER_MODEL = "users.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2 (argon2-cffi) hashes every new password; the others only verify older
# hashes, which Django rehashes with Argon2 at the user's next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Internationalisation ----------------------------------------------------------

LANGUAGE_CODE = "en-us"
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
    "EXCEPTION_HANDLER": "chatproject.errors.api_exception_handler",
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

# Chat limits -------------------------------------------------------------------

CHAT_MESSAGE_MAX_LENGTH = int(os.environ.get("CHAT_MESSAGE_MAX_LENGTH", "4000"))
CHAT_HISTORY_DEFAULT_LIMIT = 50
CHAT_HISTORY_MAX_LIMIT = 200
CHAT_GROUP_MAX_MEMBERS = int(os.environ.get("CHAT_GROUP_MAX_MEMBERS", "500"))
CHAT_WS_MAX_FRAME_BYTES = 64 * 1024
# Open sockets per user, over every process: one more is closed with 4409.
CHAT_WS_MAX_SOCKETS = int(os.environ.get("CHAT_WS_MAX_SOCKETS", "20"))
CHAT_TYPING_INTERVAL = 2.0
# How long a `typing` active frame counts (messaging/typing_state.py): the web
# client repeats it every 3 s and shows a typist for 6 s after the last one.
CHAT_TYPING_TTL = 6
# Seeds 001, 002 and 004 return a whole conversation in one response (they
# document no paging); a conversation with more messages than this is refused
# with an error rather than cut short (README "Seed compatibility").
CHAT_COMPAT_MAX_MESSAGES = int(os.environ.get("CHAT_COMPAT_MAX_MESSAGES", "10000"))

# Rate limits (chatproject/throttling.py, README "Limits and throttling"):
# "COUNT/[N]UNIT" (s, min, h, day) or "off". Read at call time.
CHAT_RATE_LIMITS = {
    # Sends per user, REST and socket together.
    "message.send": os.environ.get("CHAT_RATE_MESSAGE_SEND", "60/min"),
    # Sign-up, token and login attempts per client address (all of them) ...
    "auth.ip": os.environ.get("CHAT_RATE_AUTH_IP", "20/min"),
    # ... and per username (the failed ones).
    "auth.username": os.environ.get("CHAT_RATE_AUTH_USERNAME", "10/min"),
    # Frames per socket, of every type.
    "socket.frames": os.environ.get("CHAT_RATE_SOCKET_FRAMES", "600/min"),
    # Conversations started per user (REST and the page), found direct ones included.
    "conversation.create": os.environ.get("CHAT_RATE_CONVERSATION_CREATE", "20/min"),
}
# Reverse proxies in front of the server that append to X-Forwarded-For; 0
# (the default) trusts only REMOTE_ADDR.
CHAT_TRUSTED_PROXIES = int(os.environ.get("CHAT_TRUSTED_PROXIES", "0"))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CHAT_MAX_BODY_BYTES", str(256 * 1024)))

# Production hardening ----------------------------------------------------------

# `manage.py check --deploy --fail-level WARNING` is clean with DJANGO_DEBUG=0
# (chatproject/tests/test_security.py runs it). Each setting below can be
# relaxed from the environment (README "Configuration"); the defaults are strict.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # HTTPS only: plain HTTP is redirected, except the load balancer's probes.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    # HSTS: browsers use HTTPS only, for a year by default (0 turns it off).
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)

# Logging -----------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "chatproject.request_context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        }
    },
    "root": {
        "handlers": ["console"],
        "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
    },
    "loggers": {
        "django.request": {"level": "ERROR"},
        # One line per request (chatproject.middleware.RequestIdMiddleware).
        "chatproject.access": {"level": "INFO" if env_bool("CHAT_ACCESS_LOG", True) else "WARNING"},
    },
}
