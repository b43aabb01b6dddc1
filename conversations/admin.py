from collections.abc import Callable

from django.contrib import admin, messages
from django.http import HttpRequest

from chatproject.errors import DomainError
from conversations import services
from conversations.models import Conversation, Membership, Tag, TagTranslation
from messaging import services as messaging_services


class MembershipInline(admin.TabularInline):
    """Members and their roles (owner, member, agent, customer). Saved through
    conversations.services (add_member, set_member_role, remove_member).
    Muting is the member's own choice: shown, not edited here."""

    model = Membership
    raw_id_fields = ["user"]
    readonly_fields = ["joined_at", "last_read_seq", "muted"]
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Edits go through conversations.services: the details with
    update_conversation, tags with set_conversation_tags, members with the
    membership services, status with the close and reopen actions (which
    post a system message to the conversation), deletes with
    delete_conversations (members' sockets are told)."""

    list_display = [
        "id",
        "__str__",
        "kind",
        "workspace",
        "status",
        "assignee",
        "created_by",
        "created_at",
        "last_message_at",
        "last_seq",
    ]
    list_filter = ["status", "kind", "workspace", "created_at"]
    list_select_related = ["created_by", "workspace", "assignee"]
    search_fields = ["title", "summary"]
    raw_id_fields = ["created_by", "assignee"]
    filter_horizontal = ["tags"]
    readonly_fields = [
        "status",
        "closed_at",
        "access_token",
        "direct_key",
        "created_at",
        "last_message_at",
        "last_seq",
        "last_version",
    ]
    fieldsets = [
        (None, {"fields": ["workspace", "kind", "title", "created_by"]}),
        (
            "Support",
            {"fields": ["status", "closed_at", "assignee", "rating", "summary", "tags"]},
        ),
        (
            "Internals",
            {
                "fields": [
                    "access_token",
                    "direct_key",
                    "created_at",
                    "last_message_at",
                    "last_seq",
                    "last_version",
                ]
            },
        ),
    ]
    inlines = [MembershipInline]
    date_hierarchy = "created_at"
    actions = ["close_conversations", "reopen_conversations"]

    def get_fieldsets(self, request: HttpRequest, obj: Conversation | None = None):
        if obj is None:
            # Conversations added here are groups owned by the signed-in admin.
            return [
                (None, {"fields": ["workspace", "title"]}),
                ("Support", {"fields": ["assignee", "rating", "summary", "tags"]}),
            ]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Conversation | None = None):
        if obj is None:
            return []
        # A conversation's kind and creator are what they were created as.
        return [*self.readonly_fields, "kind", "created_by"]

    def save_model(self, request: HttpRequest, obj: Conversation, form, change: bool) -> None:
        details = {
            field: form.cleaned_data[field]
            for field in services.EDITABLE_DETAILS
            if field in form.changed_data
        }
        if not change:
            conversation, _ = services.create_conversation(
                creator=request.user,
                member_ids=[],
                title=form.cleaned_data["title"],
                kind=Conversation.Kind.GROUP,
                workspace=form.cleaned_data["workspace"],
            )
            obj.pk = conversation.pk
            obj.refresh_from_db()
            details = {k: v for k, v in details.items() if k not in {"title", "workspace"}}
        if details:
            self.run_service(request, lambda: services.update_conversation(obj, **details))

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        conversation = form.instance
        if "tags" in form.changed_data:
            tags = form.cleaned_data["tags"]
            self.run_service(request, lambda: services.set_conversation_tags(conversation, tags))
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        conversation = form.instance
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.remove_member(membership)
        for membership in memberships:
            if membership.pk is None:
                user, role = membership.user, membership.role
                self.run_service(
                    request,
                    lambda: services.add_member(conversation, user, role),  # noqa: B023
                )
            else:
                services.set_member_role(membership, membership.role)

    def delete_model(self, request: HttpRequest, obj: Conversation) -> None:
        services.delete_conversations(conversations=[obj])

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        services.delete_conversations(conversations=queryset)

    def run_service(self, request: HttpRequest, action: Callable[[], object]) -> None:
        """Run a service call; its validation error is shown as a message
        (what else the form changed is saved)."""
        try:
            action()
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Close the selected conversations")
    def close_conversations(self, request: HttpRequest, queryset) -> None:
        closed = sum(
            messaging_services.close_conversation(conversation, actor=request.user)
            for conversation in queryset
        )
        self.message_user(request, f"Closed {closed} conversation(s).")

    @admin.action(description="Reopen the selected conversations")
    def reopen_conversations(self, request: HttpRequest, queryset) -> None:
        reopened = sum(
            messaging_services.reopen_conversation(conversation, actor=request.user)
            for conversation in queryset
        )
        self.message_user(request, f"Reopened {reopened} conversation(s).")


class TagTranslationInline(admin.TabularInline):
    model = TagTranslation
    extra = 1


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """A tag's name and its name per language (seed 002 names tags in `lang`)."""

    list_display = ["name", "workspace", "languages"]
    list_filter = ["workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "translations__name"]
    inlines = [TagTranslationInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("translations")

    @admin.display(description="translations")
    def languages(self, tag: Tag) -> str:
        return ", ".join(translation.language for translation in tag.translations.all())

    def save_model(self, request: HttpRequest, obj: Tag, form, change: bool) -> None:
        services.save_tag(obj)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        translations = formset.save(commit=False)
        for translation in formset.deleted_objects:
            services.delete_tag_translation(translation)
        for translation in translations:
            services.save_tag_translation(translation)
