from django.db import migrations, models


def _payload_field(field_class, model):
    field = field_class()
    field.set_attributes_from_name("payload")
    field.model = model
    return field


def _alter(apps, schema_editor, old_class, new_class, postgresql_sql, sqlite_type):
    if schema_editor.connection.vendor == "postgresql":
        for sql in postgresql_sql:
            schema_editor.execute(sql)
        return
    model = apps.get_model("analytics", "CollectBatch")
    schema_editor.alter_field(model, _payload_field(old_class, model), _payload_field(new_class, model))
    # SQLite copies the values as they are: a text stays a text in a blob column.
    schema_editor.execute(f"UPDATE analytics_collectbatch SET payload = CAST(payload AS {sqlite_type})")


def payload_to_bytes(apps, schema_editor):
    # jsonb has no cast to bytea: through its text. Uncompressed, as it is read once.
    _alter(
        apps,
        schema_editor,
        models.JSONField,
        models.BinaryField,
        [
            "ALTER TABLE analytics_collectbatch ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8')",
            "ALTER TABLE analytics_collectbatch ALTER COLUMN payload SET STORAGE EXTERNAL",
        ],
        "BLOB",
    )


def payload_to_jsonb(apps, schema_editor):
    _alter(
        apps,
        schema_editor,
        models.BinaryField,
        models.JSONField,
        [
            "ALTER TABLE analytics_collectbatch ALTER COLUMN payload TYPE jsonb USING convert_from(payload, 'UTF8')::jsonb",
            "ALTER TABLE analytics_collectbatch ALTER COLUMN payload SET STORAGE EXTENDED",
        ],
        "TEXT",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0007_environment_references_unconstrained"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="collectbatch", name="payload", field=models.BinaryField()),
            ],
            database_operations=[migrations.RunPython(payload_to_bytes, payload_to_jsonb)],
        ),
    ]
