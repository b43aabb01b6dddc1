from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The message-history endpoints of seeds 001-004, on top beside realtime,
    reading through the other apps' selectors."""

    name = "integrations"
