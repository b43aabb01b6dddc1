from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chatproject import throttling
from chatproject.errors import DomainError
from conversations import selectors, services
from conversations.forms import NewConversationForm
from messaging.selectors import with_last_messages
from messaging.serializers import MemberConversationSerializer
from users.services import online_user_ids


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    conversations = with_last_messages(selectors.conversations_for_user(request.user))
    names = selectors.display_names(conversations, request.user)
    rows = [{"name": names[c.pk], **MemberConversationSerializer(c).data} for c in conversations]
    online = online_user_ids({uid for c in conversations for uid in c.member_ids})
    return render(
        request,
        "chat/inbox.html",
        {
            "rows": rows,
            "page_data": {"me": str(request.user.pk), "online": sorted(map(str, online))},
        },
    )


@login_required
def new_conversation(request: HttpRequest) -> HttpResponse:
    form = NewConversationForm(request.POST or None, me=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            throttling.limit_conversation_create(request.user.pk)
        except throttling.RateLimited as exc:
            # The form again with the refusal, as the login page answers it.
            form.add_error(None, exc.message)
            response = render(request, "chat/new_conversation.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.wait)
            return response
        try:
            conversation, _ = services.create_conversation(
                creator=request.user,
                member_ids=[user.pk for user in form.cleaned_data["users"]],
                title=form.cleaned_data["title"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("conversation", conversation_id=conversation.pk)
    return render(request, "chat/new_conversation.html", {"form": form})
