import copy

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db import transaction

from users import services
from users.models import ApiToken, User


class PasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form, through users.services.change_password:
    the user's sessions are signed out and their sockets close."""

    request = None

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data["password1"] if usable else None
        return services.change_password(user=self.user, password=password, request=self.request)


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

    def user_change_password(self, request, id, form_url=""):
        """Django's view, with a form that knows the request (an admin changing
        their own password stays signed in), on a copy of this admin: nothing
        shared between requests is changed."""
        bound = copy.copy(self)
        bound.change_password_form = type(
            "PasswordChangeForm", (PasswordChangeForm,), {"request": request}
        )
        return DjangoUserAdmin.user_change_password(bound, request, id, form_url)

    actions = ["deactivate"]

    @admin.action(description="Deactivate the selected users (signs them out everywhere)")
    def deactivate(self, request, queryset) -> None:
        with transaction.atomic():
            for user in queryset.filter(is_active=True):
                services.deactivate_user(user=user)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        was_active = form.initial.get("is_active") if change else None
        services.save_user_account(user=obj, was_active=was_active)

    def get_deleted_objects(self, objs, request):
        """Tokens cannot be deleted on their own (ApiTokenAdmin), but they go
        with their user: not a permission the admin deleting a user lacks."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed - {ApiToken._meta.verbose_name}, protected

    def delete_model(self, request, obj: User) -> None:
        services.delete_user(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for user in queryset:
                services.delete_user(user=user)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed, looked at and revoked here (the action, through
    users.services.revoke_token, which closes their sockets); nothing on a
    token is edited (a live token is never reassigned to another user) and
    none is deleted (revoked ones stay on record). Keys are never shown
    (only hashes are stored)."""

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

    def has_change_permission(self, request, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for token in queryset:
            services.revoke_token(token)
