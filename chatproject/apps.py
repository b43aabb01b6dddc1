from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class ChatAdminConfig(AdminConfig):
    """django.contrib.admin with chatproject.admin_site.ChatAdminSite as admin.site."""

    default_site = "chatproject.admin_site.ChatAdminSite"


class ChatProjectConfig(AppConfig):
    """The project package as an app, for what must be set up once at start."""

    name = "chatproject"

    def ready(self) -> None:
        from chatproject import lookups

        lookups.register()
