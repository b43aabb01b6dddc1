from django.contrib.admin.apps import AdminConfig


class ChatAdminConfig(AdminConfig):
    """django.contrib.admin with chatproject.admin_site.ChatAdminSite as admin.site."""

    default_site = "chatproject.admin_site.ChatAdminSite"
