from django.db import migrations

SYNC, STOCK = "warehouse.wms_sync_tick", "warehouse.wms_stock_tick"


def add_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.update_or_create(
        name="warehouse: third-party warehouses (send, confirmations)",
        defaults={"task": SYNC, "interval": every, "enabled": True})
    nightly, _ = CrontabSchedule.objects.get_or_create(minute="40", hour="3", day_of_week="*", day_of_month="*",
                                                       month_of_year="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.update_or_create(
        name="warehouse: third-party warehouse stock comparison",
        defaults={"task": STOCK, "crontab": nightly, "interval": None, "enabled": True})


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=[SYNC, STOCK]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("warehouse", "0003_wms"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
