"""Operator pages of the data import: the import types with their templates, the history of jobs
(who, when, what), upload, mapping of unknown headers, dry-run report, commit, progress, resume,
reconciliation and the rejected rows as a download."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.views_helpers import error_text, keyset_page, tenant_page

from . import selectors, services
from .api.views import errors_response, template_response
from .models import JobStatus
from .reading import max_file_bytes
from .specs import get_type

APP = "dataimport"


def _type_or_404(name):
    spec = get_type(name)
    if spec is None:
        raise Http404
    return spec


def _job_or_404(pk):
    job = selectors.job_find(job_id=pk)
    if job is None:
        raise Http404
    return job


@tenant_page(app_label=APP)
def import_list(request):
    type_filter = request.GET.get("type", "")
    if type_filter and get_type(type_filter) is None:
        messages.error(request, _("Unknown import type “%(name)s”.") % {"name": type_filter[:50]})
        type_filter = ""
    page = keyset_page(request, selectors.jobs(import_type=type_filter or None), size=50)
    context = {"types": selectors.types_overview(), "jobs": page.rows, "next_url": page.next_url,
               "type_filter": type_filter, "lang": "zh" if (get_language() or "").startswith("zh") else "en",
               "type_filter_label": get_type(type_filter).label() if type_filter else ""}
    return render(request, "dataimport/list.html", context)


@tenant_page(app_label=APP)
def import_new(request, import_type):
    spec = _type_or_404(import_type)
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            job = services.job_create(import_type=spec.name, upload=upload, user=request.user,
                                      valid_only=request.POST.get("valid_only") in ("on", "1", "true"))
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            return redirect("dataimport:detail", pk=job.pk)
    lang = "zh" if (get_language() or "").startswith("zh") else "en"
    return render(request, "dataimport/new.html", {"spec": spec, "lang": lang, "max_mb": max_file_bytes() // (1024 * 1024)})


@tenant_page(app_label=APP)
def import_template(request, import_type, kind):
    spec = _type_or_404(import_type)
    if kind not in ("xlsx", "csv"):
        raise Http404
    lang = request.GET.get("lang") or ("zh" if (get_language() or "").startswith("zh") else "en")
    return template_response(spec, kind=kind, lang="zh" if lang.startswith("zh") else "en")


@tenant_page(app_label=APP)
def import_detail(request, pk):
    job = _job_or_404(pk)
    report = selectors.job_report(job)
    context = {"job": job, "spec": report["type"], "report": report, "statuses": JobStatus}
    return render(request, "dataimport/detail.html", context)


@tenant_page(app_label=APP)
def import_progress(request, pk):
    job = _job_or_404(pk)
    return JsonResponse({"id": job.pk, "status": job.status, "status_label": str(job.get_status_display()),
                         "processed_rows": job.processed_rows, "total_rows": job.total_rows,
                         "percent": job.progress_percent})


@tenant_page(app_label=APP, write=True)
@require_POST
def import_action(request, pk):
    job = _job_or_404(pk)
    action = request.POST.get("action", "")
    try:
        if action == "mapping":
            spec = _type_or_404(job.import_type)
            keys = {c.key for c in spec.columns}
            header_map = {}
            for i, header in enumerate(job.headers or []):
                value = request.POST.get(f"map_{i}")
                if value is None:
                    continue
                if value and value not in keys:
                    raise ValidationError({"header_map": [_("“%(key)s” is not a column of this import.") % {"key": value[:50]}]})
                header_map[header] = value
            services.job_set_mapping(job=job, header_map=header_map)
            messages.success(request, _("Mapping saved; the dry run runs again."))
        elif action == "dry_run":
            services.job_start_dry_run(job=job)
            messages.success(request, _("The dry run runs again."))
        elif action == "commit":
            services.job_commit(job=job, user=request.user, valid_only=request.POST.get("valid_only") in ("on", "1", "true"))
            messages.success(request, _("The import runs in the background."))
        elif action == "resume":
            services.job_resume(job=job, user=request.user)
            messages.success(request, _("The import resumes after its last committed batch."))
        else:
            messages.error(request, _("Unknown action."))
    except (ValidationError, Conflict) as exc:
        messages.error(request, error_text(exc))
    return redirect("dataimport:detail", pk=job.pk)


@tenant_page(app_label=APP)
def import_rejected_rows(request, pk):
    return errors_response(_job_or_404(pk))
