"""The audit trail is append-only in the database too: on PostgreSQL a trigger rejects every
UPDATE and DELETE of a row of ``compliance_auditentry`` (the model and its queryset refuse them
in Python already). TRUNCATE stays possible: the test runner empties tables with it, and only
the database owner can run it. Other databases (SQLite for development) rely on the model guards.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION compliance_auditentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditentry is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER compliance_auditentry_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditentry
    FOR EACH ROW EXECUTE FUNCTION compliance_auditentry_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS compliance_auditentry_append_only ON compliance_auditentry;
DROP FUNCTION IF EXISTS compliance_auditentry_append_only();
"""


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on databases other than PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0001_initial"),
    ]

    operations = [
        PostgresOnlyRunSQL(sql=FORWARD, reverse_sql=REVERSE),
    ]
