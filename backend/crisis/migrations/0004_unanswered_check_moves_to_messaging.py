from django.db import migrations


class Migration(migrations.Migration):
    """UnansweredCheck now belongs to messaging (messaging.0002 takes its table over);
    crisis only forgets it, the table stays."""

    dependencies = [
        ("crisis", "0003_phrase_severity_from_the_enum"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="UnansweredCheck")],
            database_operations=[],
        ),
    ]
