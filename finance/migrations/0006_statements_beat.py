"""Beat learns the monthly job that drafts last month's supplier statements (the 1st, 03:10)."""

from django.db import migrations

TASK = "finance.generate_supplier_statements"
TASK_NAME = "finance: draft last month's supplier statements"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    monthly, _ = CrontabSchedule.objects.get_or_create(minute="10", hour="3", day_of_week="*", day_of_month="1",
                                                       month_of_year="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.update_or_create(name=TASK_NAME, defaults={"task": TASK, "crontab": monthly, "interval": None,
                                                                    "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0005_supplier_statements"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
