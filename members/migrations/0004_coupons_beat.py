"""The beat schedule of coupon expiry (hourly: a coupon's end is a moment, not a day)."""

from django.db import migrations

NAME = "members: expire coupons past their end"
TASK = "members.coupons_expiry_tick"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = CrontabSchedule.objects.get_or_create(minute="5", hour="*", day_of_week="*", day_of_month="*",
                                                      month_of_year="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.update_or_create(name=NAME, defaults={"task": TASK, "crontab": hourly, "interval": None,
                                                               "enabled": True})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_coupons"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
