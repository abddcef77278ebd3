from django.db import migrations


class Migration(migrations.Migration):
    """EnrollmentCode now belongs to cases (cases.0002 takes its table over); accounts
    only forgets it, the table stays."""

    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="EnrollmentCode")],
            database_operations=[],
        ),
    ]
