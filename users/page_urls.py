from django.contrib.auth import views as auth_views
from django.urls import path

from users import views

urlpatterns = [
    path("signup/", views.sign_up, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("tokens/", views.tokens_page, name="tokens"),
    path("profile/", views.profile_page, name="profile"),
    path("sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
]
