# Workspaces, status, assignee, rating, summary, tags and access tokens.
# The workspace and the access token are added nullable here, filled in by
# 0004 and made required by 0005: each is its own transaction, as PostgreSQL
# refuses to ALTER a table with pending deferred-constraint events.

import django.db.models.deletion
import workspaces.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0002_initial"),
        ("workspaces", "0002_default_workspace"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("workspace", models.ForeignKey(default=workspaces.models.default_workspace_id, on_delete=django.db.models.deletion.CASCADE, related_name="tags", to="workspaces.workspace")),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.CreateModel(
            name="TagTranslation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("language", models.CharField(help_text="A language code, lower case: en, pl, de, pt-br.", max_length=16)),
                ("name", models.CharField(max_length=100)),
                ("tag", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="translations", to="conversations.tag")),
            ],
            options={"ordering": ["language"]},
        ),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.UniqueConstraint(fields=("workspace", "name"), name="one_tag_name_per_workspace"),
        ),
        migrations.AddConstraint(
            model_name="tagtranslation",
            constraint=models.UniqueConstraint(fields=("tag", "language"), name="one_name_per_tag_language"),
        ),
        migrations.AddField(
            model_name="conversation",
            name="workspace",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="conversations", to="workspaces.workspace"),
        ),
        migrations.AddField(
            model_name="conversation",
            name="access_token",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="assignee",
            field=models.ForeignKey(blank=True, help_text="The agent looking after the conversation.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="assigned_conversations", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="conversation",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="rating",
            field=models.PositiveSmallIntegerField(blank=True, help_text="The customer's rating of the conversation.", null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="status",
            field=models.CharField(choices=[("open", "Open"), ("closed", "Closed")], default="open", max_length=10),
        ),
        migrations.AddField(
            model_name="conversation",
            name="summary",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="tags",
            field=models.ManyToManyField(blank=True, related_name="conversations", to="conversations.tag"),
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.CheckConstraint(condition=models.Q(models.Q(("closed_at__isnull", True), ("status", "open")), models.Q(("closed_at__isnull", False), ("status", "closed")), _connector="OR"), name="closed_conversations_have_closed_at"),
        ),
        migrations.AlterField(
            model_name="membership",
            name="role",
            field=models.CharField(choices=[("owner", "Owner"), ("member", "Member"), ("agent", "Agent"), ("customer", "Customer")], default="member", max_length=20),
        ),
    ]
