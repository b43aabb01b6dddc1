import conversations.models
import django.db.models.deletion
import workspaces.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("conversations", "0004_backfill_workspace_and_tokens")]

    operations = [
        migrations.AlterField(
            model_name="conversation",
            name="workspace",
            field=models.ForeignKey(default=workspaces.models.default_workspace_id, on_delete=django.db.models.deletion.PROTECT, related_name="conversations", to="workspaces.workspace"),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="access_token",
            field=models.CharField(default=conversations.models.generate_access_token, editable=False, help_text="Names the conversation in seed 002's /conversations/{token}/messages.", max_length=64, unique=True),
        ),
    ]
