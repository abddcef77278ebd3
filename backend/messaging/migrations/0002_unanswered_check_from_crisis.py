import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """UnansweredCheck moves from crisis to messaging with its rows: the model is taken
    over as it stands on crisis' table, then the table is renamed to messaging's."""

    dependencies = [
        ("messaging", "0001_initial"),
        ("crisis", "0004_unanswered_check_moves_to_messaging"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UnansweredCheck",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("seq", models.PositiveBigIntegerField()),
                        ("due_at", models.DateTimeField(db_index=True)),
                        (
                            "conversation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="messaging.conversation",
                            ),
                        ),
                    ],
                    options={"db_table": "crisis_unansweredcheck"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="unansweredcheck", table=None),
    ]
