from django.contrib import admin

from conversations.models import Conversation, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ["user"]
    readonly_fields = ["joined_at", "last_read_seq"]
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "__str__",
        "kind",
        "created_by",
        "created_at",
        "last_message_at",
        "last_seq",
    ]
    list_filter = ["kind", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["title"]
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "direct_key",
        "created_at",
        "last_message_at",
        "last_seq",
        "last_version",
    ]
    inlines = [MembershipInline]
    date_hierarchy = "created_at"
