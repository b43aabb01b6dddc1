from django.urls import path

from conversations import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("conversations/new/", views.new_conversation, name="new-conversation"),
]
