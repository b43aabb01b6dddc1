from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatproject.openapi import error_responses
from users import services
from users.models import User
from users.serializers import (
    SignUpSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSerializer,
)

USER_DIRECTORY_LIMIT = 200


def token_response(token_key: str, user: User, status_code: int) -> Response:
    body = {
        "token": token_key,
        "tokenPrefix": token_key[:8],
        "user": UserSerializer(user).data,
    }
    return Response(body, status=status_code)


class UserDirectoryView(generics.ListAPIView):
    serializer_class = UserSerializer

    @extend_schema(
        summary="The user directory",
        description=f"Active users by username; `search` matches username or display name. "
        f"At most {USER_DIRECTORY_LIMIT} are returned.",
        parameters=[OpenApiParameter("search", str, required=False)],
        responses={200: UserSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        users = User.objects.filter(is_active=True).order_by("username")
        search = self.request.query_params.get("search", "").strip()
        if search:
            users = users.filter(Q(username__icontains=search) | Q(display_name__icontains=search))
        return users[:USER_DIRECTORY_LIMIT]


class UserDetailView(generics.RetrieveAPIView):
    serializer_class = UserSerializer
    queryset = User.objects.filter(is_active=True)

    @extend_schema(summary="One user", responses={200: UserSerializer, **error_responses(401, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class CurrentUserView(APIView):
    @extend_schema(
        summary="The signed-in user",
        responses={200: UserSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class SignUpView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Create an account",
        description="Creates the account and returns an API token for it (shown once).",
        request=SignUpSerializer,
        responses={201: TokenSerializer, **error_responses(400)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = SignUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            display_name=serializer.validated_data["displayName"],
        )
        _, key = services.issue_token(user, name="sign-up")
        return token_response(key, user, status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Exchange a username and password for an API token",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **error_responses(400, 401)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.token_for_credentials(request._request, **serializer.validated_data)
        if issued is None:
            raise AuthenticationFailed("Wrong username or password.")
        _, key = issued
        return token_response(key, issued[0].user, status.HTTP_200_OK)

    def get_authenticate_header(self, request: Request) -> str:
        return "Bearer"
