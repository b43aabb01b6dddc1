from django.http import HttpRequest, JsonResponse

from realtime.asyncapi import asyncapi_document


def asyncapi_json(request: HttpRequest) -> JsonResponse:
    """The AsyncAPI 3 document of the WebSocket protocol (open, like the OpenAPI
    schema), its server the host it was asked on (wss when the page is https)."""
    protocol = "wss" if request.is_secure() else "ws"
    return JsonResponse(asyncapi_document(request.get_host(), protocol))
