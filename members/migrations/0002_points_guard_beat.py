"""The points ledger is append-only in the database too (a trigger refuses UPDATE and DELETE on
Postgres), and the beat schedules of members: points expiry (daily) and levels + RFM (nightly)."""

from django.db import migrations

GUARD_SQL = """
CREATE OR REPLACE FUNCTION members_pointsentry_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'members_pointsentry is append-only: add a new entry instead of %', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS members_pointsentry_guard ON members_pointsentry;
CREATE TRIGGER members_pointsentry_guard BEFORE UPDATE OR DELETE ON members_pointsentry
    FOR EACH ROW EXECUTE FUNCTION members_pointsentry_guard();
"""
DROP_GUARD_SQL = """
DROP TRIGGER IF EXISTS members_pointsentry_guard ON members_pointsentry;
DROP FUNCTION IF EXISTS members_pointsentry_guard();
"""

SCHEDULES = [
    ("members: expire points past their date", "members.expiry_tick", "20", "0"),
    ("members: levels and RFM segments", "members.nightly_tick", "40", "3"),
]


def add_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL, params=None)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARD_SQL, params=None)


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in SCHEDULES:
        daily, _ = CrontabSchedule.objects.get_or_create(minute=minute, hour=hour, day_of_week="*", day_of_month="*",
                                                         month_of_year="*", timezone="Asia/Shanghai")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "crontab": daily, "interval": None,
                                                                   "enabled": True})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(add_guard, drop_guard),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
