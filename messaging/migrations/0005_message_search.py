"""Full-text search of messages on PostgreSQL (messaging/search.py reads it).

A stored generated tsvector column, so the database keeps it current after
every send, edit and delete (the services write `text`; a deleted message's
text is ""), and a GIN index on it. The vector is NULL for what search never
finds (system messages, deleted messages), so they take no index entries.

The 'simple' configuration lower-cases and splits words without stemming or
stop words: it treats English and Polish (and any other language) alike, and a
word is found as typed. Chat text is not HTML, but PostgreSQL's parser reads
`<b>` as a tag and skips `<script>…</script>` whole: `<`, `>` and `&` are read
as spaces, so that a message quoting code is found by its words (the search
selector reads the query the same way). The Message model does not know the column (nothing
but the search selector reads it; bulk_create and the rest are unaffected).
SQLite has no such column: search there falls back to word containment.
"""

from django.db import migrations

ADD_SEARCH_VECTOR = """
ALTER TABLE messaging_message ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        CASE WHEN kind = 'text' AND deleted_at IS NULL
             THEN to_tsvector('simple'::regconfig, translate(text, '<>&', '   '))
        END
    ) STORED
"""
INDEX_SEARCH_VECTOR = (
    "CREATE INDEX message_search_vector ON messaging_message USING gin (search_vector)"
)
DROP_SEARCH_VECTOR = [
    "DROP INDEX IF EXISTS message_search_vector",
    "ALTER TABLE messaging_message DROP COLUMN IF EXISTS search_vector",
]


def add_search_vector(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(ADD_SEARCH_VECTOR)
    schema_editor.execute(INDEX_SEARCH_VECTOR)


def drop_search_vector(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in DROP_SEARCH_VECTOR:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_message_edit_count"),
    ]

    operations = [
        migrations.RunPython(add_search_vector, drop_search_vector, elidable=False),
    ]
