from django.urls import path

from messaging.search_api import SearchViewSet

urlpatterns = [
    path("search/messages", SearchViewSet.as_view({"get": "search"}), name="message-search"),
]
