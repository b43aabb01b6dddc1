from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject import throttling
from chatproject.openapi import error_responses
from conversations.models import Conversation
from conversations.selectors import is_member, membership_for
from messaging import downloads, events, selectors, services
from messaging.serializers import (
    AddReactionSerializer,
    AttachmentSerializer,
    EditMessageSerializer,
    HistoryQuerySerializer,
    MessageSerializer,
    MessageVersionSerializer,
    SendMessageSerializer,
    validated,
)
from users.services import token_user_id_column

LINK_HEADER = OpenApiParameter(
    "Link",
    str,
    location=OpenApiParameter.HEADER,
    response=True,
    description='RFC 8288 links to the neighbouring pages: rel="prev" (older), rel="next" (newer).',
)


def page_link(request: Request, rel: str, **query) -> str:
    url = request.build_absolute_uri(request.path) + "?" + urlencode(query)
    return f'<{url}>; rel="{rel}"'


def history_links(request: Request, query: dict, messages: list, more: bool) -> list[str]:
    limit = query["limit"]
    if "sinceVersion" in query:
        if more:
            return [page_link(request, "next", sinceVersion=messages[-1].version, limit=limit)]
        return []
    links = []
    forward = "after" in query or "around" in query
    older_exist = (bool(messages) and messages[0].seq > 1) if forward else more
    newer_exist = more if forward else "before" in query
    if messages and older_exist:
        links.append(page_link(request, "prev", before=messages[0].seq, limit=limit))
    if newer_exist:
        cursor = messages[-1].seq if messages else query.get("after", query.get("before", 1) - 1)
        links.append(page_link(request, "next", after=cursor, limit=limit))
    return links


class MessageViewSet(viewsets.ViewSet):
    """Messages. Only members of a conversation read it or post to it."""

    def token_annotations(self, request: Request) -> dict:
        """For ApiTokenAuthentication: a history page reads whether the token's
        user is a member with the token (`request.auth.is_member`), one query
        fewer per page (docs/performance.md "History pages")."""
        if self.action != "history":
            return {}
        conversation_id = request.parser_context["kwargs"]["conversationId"]
        return {"is_member": is_member(conversation_id, token_user_id_column())}

    @extend_schema(
        summary="Send a message",
        description="`sender` must be the signed-in user, who must be a member of the "
        "conversation. Answers 200 with the stored message (as the seed documents). Sending is "
        "idempotent with `clientMessageId` (or an `Idempotency-Key` header): a retry returns the "
        "first message and stores nothing new. Sends are limited per user, REST and socket "
        "together (429 `throttled` with `Retry-After`).",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Used as clientMessageId when the body has none.",
            )
        ],
        request=SendMessageSerializer,
        responses={
            200: MessageSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 422, 429),
        },
    )
    def create(self, request: Request) -> Response:
        data = validated(SendMessageSerializer, request.data)
        if data["sender"] != request.user.pk:
            raise PermissionDenied("sender must be your own user id.")
        throttling.limit_message_send(request.user.pk)
        client_message_id = data.get("clientMessageId") or request.headers.get("Idempotency-Key")
        if client_message_id and len(client_message_id) > 64:
            raise ValidationError({"Idempotency-Key": ["At most 64 characters."]})
        if client_message_id and "\x00" in client_message_id:
            # As the body's clientMessageId; PostgreSQL cannot store it (was a 500).
            raise ValidationError({"Idempotency-Key": ["Null characters are not allowed."]})
        # 403 for a non-member, 404 for no such conversation: checked inside
        # the send's transaction, so a send costs no lookup of its own.
        message, _ = services.send_message(
            sender=request.user,
            conversation=Conversation.reference(data["conversationId"]),
            text=data["text"],
            client_message_id=client_message_id or None,
            client_timestamp=data.get("clientTimestamp"),
            require_membership=True,
            reply_to_id=data.get("replyTo"),
            attachment_ids=data["attachments"],
        )
        return Response(events.represented(message, viewer_id=request.user.pk))

    @extend_schema(
        summary="A conversation's messages",
        description="A JSON array in ascending `seq` order: by default the newest `limit` "
        "messages. `before=S` pages back (older than seq S), `after=S` forward, `around=S` gives "
        "the page around seq S (about half before it, the rest from it on: to open a linked "
        "message); the `Link` header gives the neighbouring pages. `sinceVersion=V` returns what "
        "changed after version V, in version order (new, edited and deleted messages, each once "
        "in its latest state), for catching up. One of before, after, around, sinceVersion.",
        parameters=[HistoryQuerySerializer, LINK_HEADER],
        responses={
            200: MessageSerializer(many=True),
            **error_responses(400, 401, 403, 404),
        },
    )
    def history(self, request: Request, conversationId: int) -> Response:
        query = validated(HistoryQuerySerializer, request.query_params)
        if not getattr(request.auth, "is_member", False):
            # Signed in by session, or not a member: 403 or 404.
            membership_for(request.user, conversationId)
        if "sinceVersion" in query:
            messages, more = selectors.rendered_changes_since(
                conversationId,
                query["sinceVersion"],
                viewer_id=request.user.pk,
                limit=query["limit"],
            )
        else:
            messages, more = selectors.rendered_history_page(
                conversationId,
                viewer_id=request.user.pk,
                limit=query["limit"],
                before=query.get("before"),
                after=query.get("after"),
                around=query.get("around"),
            )
        headers = {}
        links = history_links(request, query, messages, more)
        if links:
            headers["Link"] = ", ".join(links)
        # The messages come as JSON already (selectors.rendered_rows): joined,
        # not parsed and rendered again. JSON is the API's one renderer.
        body = "[" + ",".join(message.json for message in messages) + "]"
        return HttpResponse(body, content_type="application/json", headers=headers)

    def own_message(self, request: Request, conversation_id: int, message_id: int):
        return selectors.message_of_member(request.user, conversation_id, message_id)

    @extend_schema(
        summary="A message's edit history",
        description="Its versions, oldest first: the original text (at its creation, by its "
        "sender), then the text each edit left (at the edit, by its editor); the last is the "
        "current text, so a message never edited has one version. Members only. A deleted "
        "message has no history (404): its texts are erased with it.",
        responses={
            200: MessageVersionSerializer(many=True),
            **error_responses(401, 403, 404),
        },
    )
    def edit_history(self, request: Request, conversationId: int, messageId: int) -> Response:
        message = self.own_message(request, conversationId, messageId)
        if message.is_deleted:
            raise NotFound("The message was deleted, and its history with it.")
        versions = selectors.edit_history(message)
        return Response(MessageVersionSerializer(versions, many=True).data)

    @extend_schema(
        summary="Edit one of my messages",
        request=EditMessageSerializer,
        responses={
            200: MessageSerializer,
            **error_responses(400, 401, 403, 404, 409, 422),
        },
    )
    def partial_update(self, request: Request, conversationId: int, messageId: int) -> Response:
        serializer = EditMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = self.own_message(request, conversationId, messageId)
        message = services.edit_message(
            actor=request.user, message=message, text=serializer.validated_data["text"]
        )
        return Response(events.represented(message, viewer_id=request.user.pk))

    @extend_schema(
        summary="Delete one of my messages",
        description="The message stays as a tombstone (empty text, `deletedAt` set) so that "
        "history keeps its seq and clients syncing by version see the deletion.",
        request=None,
        responses={
            200: OpenApiResponse(MessageSerializer, "The tombstone"),
            **error_responses(401, 403, 404, 409),
        },
    )
    def destroy(self, request: Request, conversationId: int, messageId: int) -> Response:
        message = self.own_message(request, conversationId, messageId)
        message = services.delete_message(actor=request.user, message=message)
        return Response(events.represented(message, viewer_id=request.user.pk))

    @extend_schema(
        summary="React to a message",
        description="Adds my reaction with `emoji` to a message of a conversation I am a member "
        "of: 201 with the message when it is new, 200 with it unchanged when I had it already "
        "(idempotent). A change takes the conversation's next `version` and reaches every "
        "member's sockets as `message.updated`. An emoji is one grapheme cluster of Unicode's "
        "emoji (✓ too), at most 64 bytes (400 otherwise); a message has at most 20 different "
        "emoji (409 `too_many_reactions` for a 21st; one already there can still be added). "
        "System messages take reactions, deleted ones do not (409 `message_deleted`). Adds are "
        "limited per user, REST and socket together (429 `throttled`).",
        request=AddReactionSerializer,
        responses={
            201: OpenApiResponse(MessageSerializer, "Added"),
            200: OpenApiResponse(MessageSerializer, "I had it already: the message unchanged"),
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def add_reaction(self, request: Request, conversationId: int, messageId: int) -> Response:
        serializer = AddReactionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = self.own_message(request, conversationId, messageId)
        throttling.limit_reaction_add(request.user.pk)
        message, added = services.add_reaction(
            user=request.user, message=message, emoji=serializer.validated_data["emoji"]
        )
        return Response(
            events.represented(message, viewer_id=request.user.pk),
            status=status.HTTP_201_CREATED if added else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Take back my reaction",
        description="Removes my reaction with `emoji` (URL-encoded in the path) from the "
        "message: 200 with the message, also when I had none (idempotent: nothing changes "
        "then). A removal takes the next `version` and is sent as `message.updated`. 409 "
        "`message_deleted` on a deleted message.",
        request=None,
        responses={
            200: MessageSerializer,
            **error_responses(401, 403, 404, 409),
        },
    )
    def remove_reaction(
        self, request: Request, conversationId: int, messageId: int, emoji: str
    ) -> Response:
        message = self.own_message(request, conversationId, messageId)
        message, _ = services.remove_reaction(user=request.user, message=message, emoji=emoji)
        return Response(events.represented(message, viewer_id=request.user.pk))


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The file, at most CHAT_ATTACHMENT_MAX_BYTES (10 MB). Its name is kept "
        "(made safe); its type is decided from its content."
    )


# A multipart body this much larger than the file limit is refused before it is
# read: room for the part's headers and boundaries, never for a second file.
MULTIPART_ALLOWANCE = 64 * 1024


class AttachmentViewSet(viewsets.ViewSet):
    """Attachments: uploaded into a conversation, sent with a message, read by its members."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload a file",
        description="Stores one file (multipart part `file`) in a conversation I am a member "
        "of, to be sent with my next message (`attachments: [id]` on POST /api/messages or "
        "the socket's `message.send`). Its type comes from its content, not its name: PNG, "
        "JPEG, GIF and WebP images are decoded and encoded again (no EXIF or other metadata "
        "stays) and get a thumbnail and their size in pixels; everything else is kept as it "
        "came and is only ever served as a download. A name whose extension claims another "
        "type gets the real one after it. 413 `attachment_too_large` over "
        "CHAT_ATTACHMENT_MAX_BYTES; uploads are limited per user (429). An upload not sent "
        "within CHAT_ATTACHMENT_UNSENT_HOURS (24) is removed (`manage.py purge_attachments`).",
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: AttachmentSerializer,
            **error_responses(400, 401, 403, 404, 413, 429),
        },
    )
    def upload(self, request: Request, conversationId: int) -> Response:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.CHAT_ATTACHMENT_MAX_BYTES + MULTIPART_ALLOWANCE:
            raise services.attachment_too_large(declared)
        membership_for(request.user, conversationId)
        throttling.limit_attachment_upload(request.user.pk)
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > settings.CHAT_ATTACHMENT_MAX_BYTES:
            raise services.attachment_too_large(upload.size)
        attachment = services.upload_attachment(
            uploader=request.user,
            conversation_id=conversationId,
            name=upload.name or "",
            content=upload.read(),
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Download a file",
        description="The file of an attachment sent in a conversation I am a member of (or "
        "my own upload, not sent yet); 404 otherwise, as for an unknown id. Images are served "
        "inline with their type, every other file with `Content-Disposition: attachment`; "
        "always `X-Content-Type-Options: nosniff`. Depending on the deployment the answer is "
        "the file itself, or a 302 to a short-lived pre-signed URL of the object storage "
        '(docs/api.md "Attachments").',
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="To a pre-signed URL of the object storage"),
            **error_responses(401, 404),
        },
    )
    def file(self, request: Request, attachmentId: int) -> HttpResponse:
        attachment = selectors.attachment_for_viewer(request.user, attachmentId)
        return downloads.attachment_response(attachment)

    @extend_schema(
        summary="An image's thumbnail",
        description="A WebP within 400 by 400 pixels, for images only (404 for other files); "
        "who may read it as for the file.",
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="To a pre-signed URL of the object storage"),
            **error_responses(401, 404),
        },
    )
    def thumbnail(self, request: Request, attachmentId: int) -> HttpResponse:
        attachment = selectors.attachment_for_viewer(request.user, attachmentId)
        if not attachment.is_image:
            raise NotFound("Only images have a thumbnail.")
        return downloads.attachment_response(attachment, thumbnail=True)
