from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from chatproject.errors import DomainError, Invalid
from chatproject.ids import parse_id
from messaging import services
from messaging.models import Attachment, Mention, Message, MessageEdit, Reaction


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
        if not value:
            return queryset
        conversation_id = parse_id(value)
        if conversation_id is None:
            # "²" or 23 digits: no conversation has that id.
            return queryset.none()
        return queryset.filter(conversation_id=conversation_id)


class AddMessageForm(forms.ModelForm):
    """The add page checks what the send service would refuse, so that it is
    a form error and not a 500: the text (not blank, within the length
    limit), and that a text message has a sender and a system message none
    (a text message without one is a deleted user's)."""

    text = forms.CharField(widget=forms.Textarea, strip=False)

    class Meta:
        model = Message
        fields = ["conversation", "sender", "kind", "text"]

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        try:
            services.validate_text(text)
        except Invalid as exc:
            raise forms.ValidationError(exc.fields["text"]) from exc
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return text

    def clean(self) -> dict:
        cleaned = super().clean()
        kind, sender = cleaned.get("kind"), cleaned.get("sender")
        if kind == Message.Kind.TEXT and sender is None:
            self.add_error("sender", "A text message needs a sender.")
        if kind == Message.Kind.SYSTEM and sender is not None:
            self.add_error("sender", "A system message has no sender.")
        return cleaned


class ReadOnlyInline(admin.TabularInline):
    """Rows the services keep (history, resolved mentions): shown, never
    added, changed or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageEditInline(ReadOnlyInline):
    """The edit history: each edit's previous text, who edited and when."""

    model = MessageEdit
    fields = readonly_fields = ["edited_at", "edited_by", "previous_text"]
    ordering = ["edited_at", "pk"]
    verbose_name = "earlier version"
    verbose_name_plural = "edit history (the text before each edit)"


class MentionInline(ReadOnlyInline):
    model = Mention
    fields = readonly_fields = ["user"]


class ReactionInline(ReadOnlyInline):
    """Who reacted with what, in order of first use (removed from the
    Reactions page, through the service)."""

    model = Reaction
    fields = readonly_fields = ["emoji", "user", "created_at"]
    ordering = ["created_at", "pk"]


class AttachmentInline(ReadOnlyInline):
    """The message's files (removed from the Attachments page, through the service)."""

    model = Attachment
    fields = readonly_fields = ["name", "content_type", "size", "width", "height"]
    ordering = ["position"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Admin writes go through messaging.services, so they reach live sockets
    and keep seq/version correct like any other send, edit or delete. An
    existing message is read-only here (its sender edits it); system messages
    and tombstones cannot be deleted, alone or in a bulk delete (which is
    then refused as a whole: its confirmation page says so)."""

    form = AddMessageForm

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
        "reply_to",
        "created_at",
        "edited_at",
        "edit_count",
        "deleted_at",
        "client_message_id",
    ]
    inlines = [MessageEditInline, MentionInline, ReactionInline, AttachmentInline]
    fields = ["conversation", "sender", "kind", "text", *readonly_fields]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_inlines(self, request: HttpRequest, obj: Message | None) -> list:
        """History and mentions of an existing message; a new one has none
        (and its add form posts no inline formsets)."""
        return self.inlines if obj is not None else []

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text[:80]

    def has_change_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        """Messages are edited by their senders only: an existing one is shown
        read-only, and a POST to its page is a 403 (saving it sent a copy)."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        if obj is not None and (obj.kind == Message.Kind.SYSTEM or obj.is_deleted):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Message, form, change: bool) -> None:
        if change:
            raise PermissionDenied("Messages are read-only here.")
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
        services.delete_messages(actor=request.user, messages=queryset)


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    """Reactions are added by members only; staff may remove any (a
    moderation), through messaging.services.remove_reaction, so the message
    takes its next version and members' sockets get `message.updated`."""

    list_display = ["id", "emoji", "user", "message", "created_at"]
    list_select_related = ["user", "message"]
    list_filter = ["created_at"]
    search_fields = ["emoji"]
    raw_id_fields = ["message", "user"]
    fields = readonly_fields = ["message", "user", "emoji", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reaction | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Reaction) -> None:
        services.remove_reaction(user=obj.user, message=obj.message, emoji=obj.emoji)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for reaction in queryset.select_related("user", "message"):
            self.delete_model(request, reaction)


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Files are uploaded by members only; staff may remove any (a
    moderation), through messaging.services.remove_attachment: the message
    takes its next version and members' sockets get `message.updated` (a
    message left with neither text nor files is deleted)."""

    list_display = ["id", "name", "content_type", "size", "conversation_id", "message", "uploader"]
    list_select_related = ["uploader", "message"]
    list_filter = ["content_type", "created_at"]
    search_fields = ["name"]
    raw_id_fields = ["conversation", "message", "uploader"]
    fields = readonly_fields = [
        "conversation",
        "message",
        "uploader",
        "name",
        "content_type",
        "size",
        "width",
        "height",
        "created_at",
    ]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Attachment | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Attachment) -> None:
        services.remove_attachment(actor=request.user, attachment=obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for attachment in queryset:
            self.delete_model(request, attachment)
