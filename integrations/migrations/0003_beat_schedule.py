"""Beat schedule of the integrations jobs (django_celery_beat rows: editable in admin, Periodic tasks).

Every tick fans out one task per enabled shop whose own interval (Shop.*_interval) has passed; each
tick and each fanned-out task expires after one beat interval so a stalled worker never piles up a
backlog."""

from django.db import migrations

# name, task, every (seconds) or crontab (minute, hour), expire_seconds
INTERVAL_TASKS = [
    ("integrations.pull_orders_tick", "integrations.pull_orders_tick", 60, 60),
    ("integrations.pull_refunds_tick", "integrations.pull_refunds_tick", 60, 60),
    ("integrations.push_stock_tick", "integrations.push_stock_tick", 60, 60),
    ("integrations.push_shipments_tick", "integrations.push_shipments_tick", 60, 60),
    ("integrations.pull_bills_tick", "integrations.pull_bills_tick", 3600, 3600),
]
CRONTAB_TASKS = [
    # nightly full stock push at 03:30 China time (repairs anything a changed-stock push missed)
    ("integrations.push_stock_full_tick", "integrations.push_stock_full_tick", "30", "3", 3600),
]


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, expire in INTERVAL_TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={
            "task": task, "interval": schedule, "crontab": None, "enabled": True, "expire_seconds": expire,
            "description": "Fans out one task per enabled shop (integrations)."})
    for name, task, minute, hour, expire in CRONTAB_TASKS:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai")
        PeriodicTask.objects.update_or_create(name=name, defaults={
            "task": task, "crontab": schedule, "interval": None, "enabled": True, "expire_seconds": expire,
            "description": "Nightly full stock push to every enabled shop (integrations)."})


def remove(apps, schema_editor):
    names = [t[0] for t in INTERVAL_TASKS] + [t[0] for t in CRONTAB_TASKS]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_historicalshop_initial_lookback_hours_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
