from django.db import migrations


def create_default_workspace(apps, schema_editor):
    Workspace = apps.get_model("workspaces", "Workspace")
    Workspace.objects.get_or_create(slug="default", defaults={"name": "Default workspace"})


class Migration(migrations.Migration):
    """The default workspace: every conversation created without naming a
    workspace (and every conversation that existed before workspaces) is in it."""

    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_default_workspace, migrations.RunPython.noop)]
