import secrets

from django.db import migrations

BATCH = 2000


def backfill(apps, schema_editor):
    """Conversations that existed before workspaces go to the default
    workspace, and each gets its own random access token."""
    Workspace = apps.get_model("workspaces", "Workspace")
    Conversation = apps.get_model("conversations", "Conversation")
    default, _ = Workspace.objects.get_or_create(
        slug="default", defaults={"name": "Default workspace"}
    )
    Conversation.objects.filter(workspace__isnull=True).update(workspace=default)
    while True:
        batch = list(Conversation.objects.filter(access_token__isnull=True).only("pk")[:BATCH])
        if not batch:
            break
        for conversation in batch:
            conversation.access_token = secrets.token_urlsafe(24)
        Conversation.objects.bulk_update(batch, ["access_token"])


class Migration(migrations.Migration):

    dependencies = [("conversations", "0003_conversation_details")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
