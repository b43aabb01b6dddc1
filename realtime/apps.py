from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """The socket side, on top of every app: the consumer, presence, delivery
    ordering, the frame schemas and the AsyncAPI document. No app imports it."""

    name = "realtime"
