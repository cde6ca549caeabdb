"""Full-text search index on PostgreSQL only (SQLite uses a simple fallback, no index)."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS messaging_message_body_fts "
    "ON messaging_message USING GIN (to_tsvector('simple', body))"
)
DROP = "DROP INDEX IF EXISTS messaging_message_body_fts"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
