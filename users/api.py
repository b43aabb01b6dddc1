from django.db.models import Case, Exists, OuterRef, Q, When
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatproject import throttling
from chatproject.errors import ApiError, Invalid
from chatproject.openapi import error_responses
from conversations import selectors as conversation_selectors
from users import services
from users.models import ApiToken, User
from users.serializers import (
    USER_DIRECTORY_LIMIT,
    ApiTokenSerializer,
    CurrentUserSerializer,
    DirectoryEntrySerializer,
    ProfileUpdateSerializer,
    SignUpSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSearchSerializer,
    UserSerializer,
)


def users_data(
    viewer: User, users: list[User], *, many: bool, serializer_class=UserSerializer
) -> dict | list:
    """`users` (or with many=False the one in it) as `viewer` sees them (their
    lastSeenAt only where conversations.selectors.last_seen_visible_ids allows): one query."""
    visible = conversation_selectors.last_seen_visible_ids(
        viewer=viewer, user_ids=[user.pk for user in users]
    )
    context = {"last_seen_visible": visible}
    return serializer_class(users if many else users[0], many=many, context=context).data


def renamed_fields(exc: Invalid, renames: dict[str, str]) -> dict:
    """A service's Invalid fields (model field names) under the API's names."""
    return {renames.get(name, name): errors for name, errors in exc.fields.items()}


def current_user_data(user: User) -> dict:
    return users_data(user, [user], many=False, serializer_class=CurrentUserSerializer)


def token_response(token_key: str, user: User, status_code: int) -> Response:
    body = {
        "token": token_key,
        "tokenPrefix": token_key[:8],
        "user": users_data(user, [user], many=False),
    }
    return Response(body, status=status_code)


class UserDirectoryView(generics.ListAPIView):
    serializer_class = DirectoryEntrySerializer

    @extend_schema(
        summary="The user directory",
        description=f"Active users by username (an exact username match first); `search` "
        f"matches username or display name. At most `limit` ({USER_DIRECTORY_LIMIT} by "
        f"default and at most) are returned, each with whether they are `online`.",
        parameters=[UserSearchSerializer],
        responses={200: DirectoryEntrySerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        users = list(self.get_queryset())
        visible = conversation_selectors.last_seen_visible_ids(
            viewer=request.user, user_ids=[user.pk for user in users]
        )
        context = {"last_seen_visible": visible}
        return Response(DirectoryEntrySerializer(users, many=True, context=context).data)

    def get_queryset(self):
        online = Exists(services.live_sockets().filter(user_id=OuterRef("pk")))
        users = User.objects.filter(is_active=True).annotate(online=online)
        query = UserSearchSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        search, limit = query.validated_data["search"], query.validated_data["limit"]
        if not search:
            return users.order_by("username")[:limit]
        exact_first = Case(When(username__iexact=search, then=0), default=1)
        users = users.filter(Q(username__icontains=search) | Q(display_name__icontains=search))
        return users.order_by(exact_first, "username")[:limit]


class UserDetailView(generics.RetrieveAPIView):
    serializer_class = UserSerializer
    queryset = User.objects.filter(is_active=True)

    @extend_schema(summary="One user", responses={200: UserSerializer, **error_responses(401, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return Response(users_data(request.user, [self.get_object()], many=False))


class CurrentUserView(APIView):
    @extend_schema(
        summary="The signed-in user",
        responses={200: CurrentUserSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(current_user_data(request.user))

    @extend_schema(
        summary="Change my display name or preferences",
        description="Any of `displayName`, `theme` (system, light, dark) and `language` "
        '(en, pl, or "" for the browser\'s); what is left out is kept. With the session '
        "cookie, send the CSRF token in `X-CSRFToken`.",
        request=ProfileUpdateSerializer,
        responses={200: CurrentUserSerializer, **error_responses(400, 401, 403)},
    )
    def patch(self, request: Request) -> Response:
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        try:
            user = services.update_profile(
                user=request.user,
                display_name=fields.get("displayName"),
                theme=fields.get("theme"),
                language=fields.get("language"),
            )
        except Invalid as exc:
            raise Invalid(renamed_fields(exc, {"display_name": "displayName"})) from exc
        return Response(current_user_data(user))


class SignUpView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Create an account",
        description="Creates the account and returns an API token for it (shown once). "
        "Attempts are limited per client address and per username (429 `throttled`).",
        request=SignUpSerializer,
        responses={201: TokenSerializer, **error_responses(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        throttling.limit_auth_attempt(request._request, username)
        serializer = SignUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.register_user(
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
                display_name=serializer.validated_data["displayName"],
            )
        except Invalid as exc:
            raise Invalid(renamed_fields(exc, {"display_name": "displayName"})) from exc
        throttling.auth_succeeded(username)
        _, key = services.issue_token(user, name="sign-up")
        return token_response(key, user, status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Exchange a username and password for an API token",
        description="Every attempt counts against the client address, failed ones against "
        "the username too; over either limit the answer is 429 `throttled` with `Retry-After`, "
        "whatever the password.",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **error_responses(400, 401, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        throttling.limit_auth_attempt(request._request, username)
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.token_for_credentials(request._request, **serializer.validated_data)
        if issued is None:
            raise AuthenticationFailed("Wrong username or password.")
        throttling.auth_succeeded(username)
        _, key = issued
        return token_response(key, issued[0].user, status.HTTP_200_OK)

    def get_authenticate_header(self, request: Request) -> str:
        return "Bearer"


class TokenListView(APIView):
    @extend_schema(
        summary="My API tokens",
        description="The signed-in user's tokens, newest first, revoked ones included. Keys are "
        "never shown again (only their SHA-256 is stored): `prefix` tells them apart.",
        responses={200: ApiTokenSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(ApiTokenSerializer(services.tokens_of(request.user), many=True).data)


class TokenDetailView(APIView):
    @extend_schema(
        summary="Revoke one of my API tokens",
        description="The token stops authenticating at once. Revoking a revoked token changes "
        "nothing; another user's token is 404, as one that does not exist.",
        request=None,
        responses={
            200: OpenApiResponse(ApiTokenSerializer, "The revoked token"),
            **error_responses(401, 403, 404),
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        token = services.revoke_token_of(request.user, pk)
        if token is None:
            raise NotFound("You have no token with this id.")
        return Response(ApiTokenSerializer(token).data)


class TokenRotateView(APIView):
    @extend_schema(
        summary="Rotate the token of this request",
        description="Revokes the token this request is authenticated with and returns its "
        "successor (same name; the new key is shown once). Only for token authentication: a "
        "request signed in with the session cookie has no token to rotate (400).",
        request=None,
        responses={200: TokenSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise ApiError(
                400,
                "bad_request",
                "Rotation replaces the token this request is authenticated with: send it as "
                "`Authorization: Bearer <key>`. A session has no token to rotate (manage tokens "
                "at /accounts/tokens/).",
            )
        rotated = services.rotate_token(request.auth)
        if rotated is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        token, key = rotated
        return token_response(key, token.user, status.HTTP_200_OK)
