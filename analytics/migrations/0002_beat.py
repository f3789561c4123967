"""Beat learns the rollup jobs: refresh the dirty days every minute, repair every 10 minutes."""

from django.db import migrations

JOBS = [
    ("analytics: fold dirty days into the rollups", "analytics.refresh_rollups", 60),
    ("analytics: repair the rollups (orders changed without an event)", "analytics.repair_rollups", 600),
]


def add_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "crontab": None,
                                                                   "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=[t for _, t, _ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
