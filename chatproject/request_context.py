"""The current request id, for log lines. Imported by the logging config,
so it depends on nothing of Django's."""

import contextvars
import logging

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default="-"
)


class RequestIdLogFilter(logging.Filter):
    """Adds the current request id to every log record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
