"""Postgres guards the ledger and BI gets a flat view; beat learns the daily unsettled-orders job.

* finance_voucher_guard: a voucher becomes posted only when its lines balance (two or more lines,
  debits = credits) in an open period and on a date inside that period; a posted voucher is never
  updated or deleted (correct it with a reversal voucher).
* finance_voucherline_guard: the lines of a posted voucher are never inserted, updated or deleted.
* finance_ledger_bi: one row per line of a posted voucher with its account and dimensions
  (security_invoker: row-level security of the tables applies to whoever reads it).
"""

from django.db import migrations

GUARDS_SQL = """
CREATE OR REPLACE FUNCTION finance_voucher_guard() RETURNS trigger AS $$
DECLARE
    n integer;
    d numeric;
    c numeric;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'posted' THEN
            RAISE EXCEPTION 'finance: voucher % is posted and cannot be deleted (reverse it)', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'posted' THEN
        RAISE EXCEPTION 'finance: voucher % is posted and cannot be changed (reverse it)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status = 'posted' THEN
        SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0) INTO n, d, c
            FROM finance_voucherline WHERE voucher_id = NEW.id;
        IF n < 2 OR d <> c THEN
            RAISE EXCEPTION 'finance: voucher % does not balance (% lines, debits %, credits %)', NEW.id, n, d, c
                USING ERRCODE = 'check_violation';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM finance_period p WHERE p.id = NEW.period_id AND p.status = 'open'
                       AND p.year = extract(year FROM NEW.date) AND p.month = extract(month FROM NEW.date)) THEN
            RAISE EXCEPTION 'finance: voucher % is not dated in an open period', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS finance_voucher_guard ON finance_voucher;
CREATE TRIGGER finance_voucher_guard BEFORE INSERT OR UPDATE OR DELETE ON finance_voucher
    FOR EACH ROW EXECUTE FUNCTION finance_voucher_guard();

CREATE OR REPLACE FUNCTION finance_voucherline_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM finance_voucher v WHERE v.id = OLD.voucher_id AND v.status = 'posted') THEN
        RAISE EXCEPTION 'finance: the lines of posted voucher % cannot change', OLD.voucher_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM finance_voucher v WHERE v.id = NEW.voucher_id AND v.status = 'posted') THEN
        RAISE EXCEPTION 'finance: the lines of posted voucher % cannot change', NEW.voucher_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS finance_voucherline_guard ON finance_voucherline;
CREATE TRIGGER finance_voucherline_guard BEFORE INSERT OR UPDATE OR DELETE ON finance_voucherline
    FOR EACH ROW EXECUTE FUNCTION finance_voucherline_guard();
"""

DROP_GUARDS_SQL = """
DROP TRIGGER IF EXISTS finance_voucher_guard ON finance_voucher;
DROP FUNCTION IF EXISTS finance_voucher_guard();
DROP TRIGGER IF EXISTS finance_voucherline_guard ON finance_voucherline;
DROP FUNCTION IF EXISTS finance_voucherline_guard();
"""

VIEW_COLUMNS = """
    l.id AS line_id, l.tenant_id, v.id AS voucher_id, v.number AS voucher_number,
    p.year AS period_year, p.month AS period_month, v.date AS entry_date, v.posted_at,
    v.source_type, v.source_ref, v.reversal_of_id, v.memo AS voucher_memo,
    a.code AS account_code, a.name AS account_name, a.type AS account_type,
    l.debit, l.credit, l.debit - l.credit AS net_debit, l.currency, l.tag,
    l.shop_id, l.platform, l.order_id, l.platform_order_id, l.sku_id, l.supplier_id, l.memo AS line_memo
FROM finance_voucherline l
JOIN finance_voucher v ON v.id = l.voucher_id AND v.tenant_id = l.tenant_id
JOIN finance_period p ON p.id = v.period_id
JOIN finance_account a ON a.id = l.account_id
WHERE v.status = 'posted'
"""

VIEW_SQL = f"CREATE OR REPLACE VIEW finance_ledger_bi WITH (security_invoker = true) AS SELECT {VIEW_COLUMNS}"
VIEW_SQL_PORTABLE = f"CREATE VIEW IF NOT EXISTS finance_ledger_bi AS SELECT {VIEW_COLUMNS}"
DROP_VIEW_SQL = "DROP VIEW IF EXISTS finance_ledger_bi"

TASK = "finance.flag_unsettled"
TASK_NAME = "finance: flag shipped orders unsettled past the due days"


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARDS_SQL, params=None)
        schema_editor.execute(VIEW_SQL)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(VIEW_SQL_PORTABLE)


def drop_guards(apps, schema_editor):
    schema_editor.execute(DROP_VIEW_SQL)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARDS_SQL)


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(minute="30", hour="2", day_of_week="*", day_of_month="*",
                                                     month_of_year="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.update_or_create(name=TASK_NAME, defaults={"task": TASK, "crontab": daily, "interval": None,
                                                                    "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(add_guards, drop_guards),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
