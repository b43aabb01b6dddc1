from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from messaging import views

urlpatterns = [path("c/<id:conversation_id>/", views.conversation_page, name="conversation")]
