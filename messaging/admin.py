from django.contrib import admin
from django.http import HttpRequest

from messaging import services
from messaging.models import Message


class ConversationIdFilter(admin.SimpleListFilter):
    """Filter by conversation id typed into a box: listing every conversation
    as a choice would not scale to millions of rows."""

    title = "conversation id"
    parameter_name = "conversation"
    template = "admin/id_input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(conversation_id=int(value))
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Admin writes go through messaging.services, so they reach live sockets
    and keep seq/version correct like any other send, edit or delete."""

    list_display = [
        "id",
        "conversation_id",
        "seq",
        "sender",
        "kind",
        "short_text",
        "created_at",
        "deleted_at",
    ]
    list_filter = [ConversationIdFilter, "kind", "created_at"]
    list_select_related = ["sender"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "sender"]
    readonly_fields = [
        "seq",
        "version",
        "created_at",
        "edited_at",
        "deleted_at",
        "client_message_id",
    ]
    fields = ["conversation", "sender", "kind", "text", *readonly_fields]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text[:80]

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None):
        """Messages are edited by their senders only; an admin adds and deletes."""
        if obj is not None:
            return self.fields
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Message, form, change: bool) -> None:
        stored, _ = services.send_message(
            sender=obj.sender,
            conversation=obj.conversation,
            text=obj.text,
            kind=obj.kind,
        )
        obj.pk, obj.seq, obj.version = stored.pk, stored.seq, stored.version

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        services.delete_message(actor=request.user, message=obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for message in queryset:
            services.delete_message(actor=request.user, message=message)
