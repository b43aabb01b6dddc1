"""`manage.py asyncapi --file asyncapi.json`: the AsyncAPI document of the
socket, as /api/asyncapi.json serves it (for `asyncapi validate` in .ci/run,
or a client generator), like `manage.py spectacular` for the OpenAPI one."""

import json

from django.core.management.base import BaseCommand

from realtime.asyncapi import DEFAULT_HOST, asyncapi_document


class Command(BaseCommand):
    help = "Write the AsyncAPI document of the WebSocket protocol."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", required=True, help="Where to write the JSON document.")
        parser.add_argument("--host", default=DEFAULT_HOST, help="The server's host[:port].")
        parser.add_argument("--protocol", choices=["ws", "wss"], default="ws")

    def handle(self, *args, file: str, host: str, protocol: str, **options) -> None:
        document = asyncapi_document(host, protocol)
        with open(file, "w", encoding="utf-8") as output:
            json.dump(document, output, indent=2)
            output.write("\n")
