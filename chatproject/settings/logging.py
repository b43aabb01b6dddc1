"""Logging: one line per record with its request id, to the console."""

from chatproject.settings.environment import env_bool, env_str

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
        "level": env_str("DJANGO_LOG_LEVEL", "INFO"),
    },
    "loggers": {
        "django.request": {"level": "ERROR"},
        # One line per request (chatproject.middleware.RequestIdMiddleware).
        "chatproject.access": {"level": "INFO" if env_bool("CHAT_ACCESS_LOG", True) else "WARNING"},
    },
}
