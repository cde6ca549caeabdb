"""Full-text search index on listings, PostgreSQL only (SQLite searches with icontains, no index).

The expression is ``commerce.selectors.SEARCH_DOCUMENT_SQL`` (the search filters on exactly it),
so the planner uses the index for ``q``. Both columns are NOT NULL: no COALESCE needed.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS commerce_listing_search_fts ON commerce_listing "
    "USING GIN (to_tsvector('simple'::regconfig, title || ' ' || description))"
)
DROP = "DROP INDEX IF EXISTS commerce_listing_search_fts"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("commerce", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
