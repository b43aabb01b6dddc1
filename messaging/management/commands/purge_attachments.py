"""Remove the uploads that were never sent (deploy/README.md "Attachments":
a timer runs it hourly)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from messaging.services import purge_unsent_attachments


class Command(BaseCommand):
    help = "Remove attachments uploaded but not sent within CHAT_ATTACHMENT_UNSENT_HOURS (24)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=settings.CHAT_ATTACHMENT_UNSENT_HOURS,
            help="Age of an unsent upload that is removed (default CHAT_ATTACHMENT_UNSENT_HOURS).",
        )

    def handle(self, *args, older_than_hours: float, **options) -> None:
        removed = purge_unsent_attachments(older_than=timedelta(hours=older_than_hours))
        self.stdout.write(f"Removed {removed} unsent attachment(s).")
