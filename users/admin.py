from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from users.models import ApiToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "display_name",
        "is_bot",
        "is_staff",
        "is_active",
        "last_seen_at",
    ]
    list_filter = [*DjangoUserAdmin.list_filter, "is_bot"]
    search_fields = ["username", "display_name", "email", "external_id"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Chat", {"fields": ["display_name", "is_bot", "external_id", "last_seen_at"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        ("Chat", {"fields": ["display_name", "is_bot"]}),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; keys are never shown (only hashes are stored)."""

    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        from users.services import revoke_token

        for token in queryset:
            revoke_token(token)
