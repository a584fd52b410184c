"""Drop the single-column indexes Django made for five foreign keys.

Each of those columns leads a composite index that serves the same lookups
(event_account_newest, one_delivery_per_endpoint, delivery_account_newest,
delivery_endpoint_created, attempt_delivery_number), so the extra indexes only cost every
insert and every status change. Only the indexes go: the foreign key constraints stay as
they are (AlterField alone would drop and re-validate them on the whole table).
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [
    "deliveries_attempt_delivery_id_0b361f59",
    "deliveries_delivery_account_id_5c1b5931",
    "deliveries_delivery_endpoint_id_76a728d2",
    "deliveries_delivery_event_id_ee0aa5a0",
    "deliveries_delivery_event_id_ee0aa5a0_like",
    "deliveries_event_account_id_1e79403d",
]


def _foreign_key(to: str, related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to=to,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("deliveries", "0001_initial"),
        ("endpoints", "0002_seed_event_types"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in DROPPED],
                    reverse_sql=migrations.RunSQL.noop,
                )
            ],
            state_operations=[
                migrations.AlterField(
                    "attempt", "delivery", _foreign_key("deliveries.delivery", "attempts")
                ),
                migrations.AlterField(
                    "delivery", "account", _foreign_key("accounts.account", "deliveries")
                ),
                migrations.AlterField(
                    "delivery", "endpoint", _foreign_key("endpoints.endpoint", "deliveries")
                ),
                migrations.AlterField(
                    "delivery", "event", _foreign_key("deliveries.event", "deliveries")
                ),
                migrations.AlterField(
                    "event", "account", _foreign_key("accounts.account", "events")
                ),
            ],
        )
    ]
