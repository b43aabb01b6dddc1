from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chatproject.errors import NotFound, PermissionDenied
from conversations.selectors import conversation_for_member, display_names
from messaging.selectors import history_page
from messaging.serializers import MessageSerializer
from users.models import User
from users.services import online_user_ids

PAGE_SIZE = 50


@login_required
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The latest messages rendered on the server; conversation.js keeps them live."""
    try:
        conversation = conversation_for_member(request.user, conversation_id)
    except (NotFound, PermissionDenied) as exc:
        raise Http404("No such conversation.") from exc
    messages, more = history_page(conversation.pk, limit=PAGE_SIZE)
    members = User.objects.filter(pk__in=conversation.member_ids).order_by("username")
    read_seqs = {m.user_id: m.last_read_seq for m in conversation.memberships.all()}
    page_data = {
        "conversationId": str(conversation.pk),
        "me": str(request.user.pk),
        "members": {str(user.pk): user.name for user in members},
        "online": sorted(map(str, online_user_ids(conversation.member_ids))),
        "readSeqs": {str(uid): seq for uid, seq in read_seqs.items()},
        "lastVersion": conversation.last_version,
        "messages": MessageSerializer(messages, many=True).data,
        "hasOlder": more,
    }
    return render(
        request,
        "chat/conversation.html",
        {
            "conversation": conversation,
            "name": display_names([conversation], request.user)[conversation.pk],
            "members": members,
            "messages": messages,
            "page_data": page_data,
        },
    )
