from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from messaging import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("conversations/new/", views.new_conversation, name="new-conversation"),
    path("c/<id:conversation_id>/", views.conversation_page, name="conversation"),
]
