"""Postgres guards the ledger (no UPDATE/DELETE of stock moves) and beat learns the lock job."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION inventory_stockmove_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'inventory_stockmove is append-only (write a correcting move instead)'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS inventory_stockmove_append_only ON inventory_stockmove;
CREATE TRIGGER inventory_stockmove_append_only BEFORE UPDATE OR DELETE ON inventory_stockmove
    FOR EACH ROW EXECUTE FUNCTION inventory_stockmove_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS inventory_stockmove_append_only ON inventory_stockmove;
DROP FUNCTION IF EXISTS inventory_stockmove_append_only();
"""

PERIODIC_TASKS = [
    # (name, task, every seconds)
    ("inventory: start and end promotion stock locks", "inventory.expire_stock_locks", 60),
]


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def add_periodic_tasks(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in PERIODIC_TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": schedule, "enabled": True})


def remove_periodic_tasks(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in PERIODIC_TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(add_periodic_tasks, remove_periodic_tasks),
    ]
