"""manage.py create_api_key --workspace default --name "CRM export": prints
the key's id and secret (the secret is not stored and not shown again)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workspaces import services
from workspaces.models import DEFAULT_WORKSPACE_SLUG, Workspace


class Command(BaseCommand):
    help = "Create an API key for a workspace and print its id and secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace",
            default=DEFAULT_WORKSPACE_SLUG,
            help="The workspace's slug or id (default: the default workspace).",
        )
        parser.add_argument("--name", required=True, help="What the key is for.")

    def handle(self, *args, workspace: str, name: str, **options) -> None:
        if workspace == DEFAULT_WORKSPACE_SLUG:
            found = Workspace.objects.default()
        else:
            found = Workspace.objects.filter(slug=workspace).first()
            if found is None and workspace.isdigit():
                found = Workspace.objects.filter(pk=int(workspace)).first()
        if found is None:
            raise CommandError(f"No workspace with slug or id {workspace!r}.")
        api_key, secret = services.create_api_key(workspace=found, name=name)
        self.stdout.write(f"workspace: {found.slug} (id {found.pk})")
        self.stdout.write(f"id: {api_key.key_id}")
        self.stdout.write(f"secret: {secret}")
