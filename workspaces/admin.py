from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from workspaces import services
from workspaces.models import ApiKey, Workspace


class ApiKeyInline(admin.TabularInline):
    """A workspace's keys, read-only: keys are created on the API key page
    (which shows the secret once) and revoked there."""

    model = ApiKey
    fields = ["name", "key_id", "secret_prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "id", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    inlines = [ApiKeyInline]

    def save_model(self, request: HttpRequest, obj: Workspace, form, change: bool) -> None:
        services.save_workspace(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        # The default workspace is where conversations go when none is named.
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here (the secret is shown once, in the page that
    answers the add form) and
    revoked with the action; secrets are never shown again (only hashes are stored)."""

    list_display = [
        "name",
        "workspace",
        "key_id",
        "secret_prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["workspace", "revoked_at"]
    list_select_related = ["workspace"]
    search_fields = ["name", "key_id", "secret_prefix"]
    readonly_fields = [
        "key_id",
        "secret_prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is None:
            return ["workspace", "name"]
        return ["workspace", "name", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is None:
            return []
        return ["workspace", "name", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            return  # Nothing on an existing key is editable.
        api_key, secret = services.create_api_key(
            workspace=obj.workspace, name=obj.name, created_by=request.user
        )
        obj.pk = api_key.pk
        obj.key_id, obj.secret_prefix = api_key.key_id, api_key.secret_prefix
        obj.new_secret = secret  # for response_add, this request only

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue=None):
        """The new secret in this response's body only: not in a message
        (Django's messages cookie is signed, not encrypted), not in a
        redirect, never cached."""
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "opts": self.opts,
            "api_key": obj,
            "secret": obj.new_secret,
        }
        response = TemplateResponse(request, "admin/workspaces/apikey/created.html", context)
        add_never_cache_headers(response)
        return response

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Revoked, not deleted: the key and its last use stay on record.
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset) -> None:
        revoked = sum(services.revoke_api_key(api_key) for api_key in queryset)
        self.message_user(request, f"Revoked {revoked} API key(s).")
