from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from users import api

urlpatterns = [
    path("users", api.UserDirectoryView.as_view(), name="user-directory"),
    path("users/me", api.CurrentUserView.as_view(), name="user-me"),
    path("users/<id:pk>", api.UserDetailView.as_view(), name="user-detail"),
    path("auth/signup", api.SignUpView.as_view(), name="auth-signup"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/token/rotate", api.TokenRotateView.as_view(), name="auth-token-rotate"),
    path("auth/tokens", api.TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/<id:pk>", api.TokenDetailView.as_view(), name="auth-token-detail"),
]
