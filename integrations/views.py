"""Operator pages: shops with their sync health, a shop's page (runs, "run now"), the sync log."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from erp.views_helpers import tenant_page

from . import selectors, services
from .models import Job, Outbox, Shop, SyncRun

RUN_NOW_BUDGET_SECONDS = 20


def _shop(pk: int) -> Shop:
    shop = Shop.objects.filter(pk=pk).first()
    if shop is None:
        raise Http404
    return shop


@tenant_page(app_label="integrations")
def shops(request):
    return render(request, "integrations/shops.html", {"health": selectors.shops_health()})


@tenant_page(app_label="integrations")
def shop_detail(request, pk: int):
    shop = _shop(pk)
    outbox = Outbox.objects.filter(shop=shop).exclude(status=Outbox.Status.SENT).order_by("-created_at")[:20]
    return render(request, "integrations/shop.html", {
        "shop": shop, "health": selectors.shop_health(shop), "runs": selectors.recent_runs(shop=shop, limit=30),
        "outbox": outbox, "jobs": Job.choices,
        "channel_url": request.build_absolute_uri(f"/api/v1/channels/{shop.code}/orders/"),
    })


@transaction.non_atomic_requests  # a pull commits page by page
@require_POST
@tenant_page(app_label="integrations", write=True)
def shop_run(request, pk: int):
    shop = _shop(pk)
    job = request.POST.get("job", "")
    if job not in Job.values:
        messages.error(request, _("Unknown job."))
        return redirect("integrations:shop", pk=shop.pk)
    run = services.sync_run_now(shop=shop, job=job, trigger="manual", budget_seconds=RUN_NOW_BUDGET_SECONDS)
    if run is None:
        messages.warning(request, _("A run of this job is already in progress for this shop."))
    elif run.status == SyncRun.Status.PARTIAL:
        from .tasks import SHOP_TASKS

        SHOP_TASKS[job].apply_async(kwargs={"tenant_id": shop.tenant_id, "shop_id": shop.pk, "trigger": "continue"})
        messages.info(request, _("Part done, continuing in the background: %(s)s") % {"s": run.summary()})
    elif run.status == SyncRun.Status.SUCCESS:
        messages.success(request, run.summary())
    else:
        messages.error(request, run.summary())
    return redirect("integrations:shop", pk=shop.pk)


@tenant_page(app_label="integrations")
def runs(request):
    qs = SyncRun.objects.select_related("shop").order_by("-started_at", "-id")
    applied = {}
    for key in ("shop", "job", "status"):
        value = request.GET.get(key, "")
        if value:
            if key == "shop" and not value.isdigit():
                continue
            qs = qs.filter(**{f"{key}_id" if key == "shop" else key: value})
            applied[key] = value
    return render(request, "integrations/runs.html", {
        "runs": qs[:200], "applied": applied, "shops": Shop.objects.all(), "jobs": Job.choices,
        "statuses": SyncRun.Status.choices,
    })
