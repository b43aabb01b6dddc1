"""The chat page: the conversation list beside the open conversation, one
template for the inbox (`/`), a conversation (`/c/{id}/`) and the people
picker (`/conversations/new/`). The server renders what is on screen (the
rows, the newest messages) and the same data as JSON for static/chat/app.js,
which keeps it live and navigates without reloading (docs/web.md)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chatproject.errors import NotFound, PermissionDenied
from conversations.models import Conversation
from conversations.selectors import conversation_for_member, conversations_for_user
from messaging.selectors import history_page, with_last_messages
from messaging.serializers import MemberConversationSerializer, MessageSerializer
from users.models import User
from users.services import online_user_ids

PAGE_SIZE = 50


def open_conversation_data(conversation: Conversation) -> tuple[dict, list]:
    """The page data of the open conversation, and its messages."""
    messages, more = history_page(conversation.pk, limit=PAGE_SIZE)
    data = {
        "conversationId": str(conversation.pk),
        "messages": MessageSerializer(messages, many=True).data,
        "hasOlder": more,
        "readSeqs": {str(m.user_id): m.last_read_seq for m in conversation.memberships.all()},
    }
    return data, messages


def chat_page(
    request: HttpRequest, *, conversation_id: int | None = None, open_picker: bool = False
) -> HttpResponse:
    user: User = request.user
    conversations = with_last_messages(conversations_for_user(user))
    rows = MemberConversationSerializer(conversations, many=True).data
    opened = None
    if conversation_id is not None:
        opened = next((c for c in conversations if c.pk == conversation_id), None)
        if opened is None:
            try:
                conversation_for_member(user, conversation_id)
            except (NotFound, PermissionDenied) as exc:
                raise Http404("No such conversation.") from exc
    open_data, messages = open_conversation_data(opened) if opened else (None, [])
    member_ids = {uid for conversation in conversations for uid in conversation.member_ids}
    page_data = {
        "me": str(user.pk),
        "people": [{"id": str(user.pk), "name": user.name, "username": user.username}],
        "conversations": rows,
        "online": sorted(map(str, online_user_ids(member_ids))),
        "open": open_data,
        "openPicker": open_picker,
    }
    open_row = next((row for row in rows if opened and row["id"] == str(opened.pk)), None)
    return render(
        request,
        "chat/app.html",
        {
            "rows": rows,
            "open_row": open_row,
            "messages": messages,
            "page_data": page_data,
        },
    )


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return chat_page(request)


@login_required
def new_conversation(request: HttpRequest) -> HttpResponse:
    return chat_page(request, open_picker=True)


@login_required
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return chat_page(request, conversation_id=conversation_id)
