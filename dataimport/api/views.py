"""/api/v1/imports/: the import flow for scripted migrations - types and templates, upload (dry run
starts at once), mapping of unknown headers, commit, progress, resume, rejected rows."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from erp.api.viewsets import TenantScopedViewSetMixin

from .. import selectors, services
from ..models import ImportIssue, ImportJob
from ..reading import write_csv_bytes
from ..specs import all_types, get_type
from .serializers import (
    ImportIssueSerializer,
    ImportJobCommitSerializer,
    ImportJobCreateSerializer,
    ImportJobDetailSerializer,
    ImportJobMappingSerializer,
    ImportJobSerializer,
    ImportTypeSerializer,
)


def _type_data(spec):
    return {"name": spec.name, "en": spec.en, "zh": spec.zh, "app_label": spec.app_label, "key": list(spec.key),
            "description_en": spec.description_en, "description_zh": spec.description_zh,
            "columns": [{"key": c.key, "en": c.en, "zh": c.zh, "required": c.required, "example": c.example,
                         "help_en": c.help_en, "help_zh": c.help_zh, "aliases": list(c.aliases)} for c in spec.columns]}


class ImportTypeViewSet(viewsets.ViewSet):
    access_app = "dataimport"
    serializer_class = ImportTypeSerializer
    lookup_value_regex = "[a-z_]+"

    @extend_schema(responses=ImportTypeSerializer(many=True))
    def list(self, request):
        return Response([_type_data(t) for t in all_types()])

    @extend_schema(responses=ImportTypeSerializer)
    def retrieve(self, request, pk=None):
        spec = get_type(pk)
        if spec is None:
            raise NotFound()
        return Response(_type_data(spec))

    @extend_schema(parameters=[
        OpenApiParameter("as", str, enum=["xlsx", "csv"], description="file type (default xlsx)"),
        OpenApiParameter("lang", str, enum=["zh", "en"], description="header language (default zh)")],
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
                   (200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def template(self, request, pk=None):
        spec = get_type(pk)
        if spec is None:
            raise NotFound()
        kind = request.query_params.get("as", "xlsx")
        lang = request.query_params.get("lang", "zh")
        if kind not in ("xlsx", "csv"):
            raise ValidationError({"as": ["xlsx or csv"]})
        if lang not in ("zh", "en"):
            raise ValidationError({"lang": ["zh or en"]})
        return template_response(spec, kind=kind, lang=lang)


def template_response(spec, *, kind: str, lang: str) -> HttpResponse:
    if kind == "csv":
        response = HttpResponse(selectors.template_csv(spec, language=lang), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(selectors.template_xlsx(spec, language=lang),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="import-{spec.name}-{lang}.{kind}"'
    return response


def errors_response(job) -> HttpResponse:
    response = HttpResponse(write_csv_bytes(list(services.rejected_rows(job))), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected-rows.csv"'
    return response


class ImportJobViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    model = ImportJob
    serializer_class = ImportJobSerializer
    select_related = ("created_by", "committed_by")
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_fields = ["import_type", "status"]
    ordering_fields = ["created_at", "id"]

    def get_serializer_class(self):
        if self.action == "create":
            return ImportJobCreateSerializer
        if self.action == "retrieve":
            return ImportJobDetailSerializer
        return ImportJobSerializer

    def _detail(self, job, code=status.HTTP_200_OK):
        job.refresh_from_db()
        report = selectors.job_report(job)
        data = ImportJobDetailSerializer(job).data
        data.update({
            "mapping": report["mapping"], "unknown_headers": report["unknown_headers"],
            "missing_required": [c.key for c in report["missing_required"]],
            "issues": ImportIssueSerializer(report["issues"], many=True).data, "issue_count": report["issue_count"],
            "reconciliation_rows": [{**r, "file": str(r["file"]), "database": str(r["database"]),
                                     "difference": str(r["difference"])} for r in report["reconciliation"]],
            "reconciliation_ok": report["reconciliation_ok"],
            "changes": report["changes"],
        })
        response = Response(data, status=code)
        if code == status.HTTP_202_ACCEPTED:
            response["Location"] = f"/api/v1/imports/jobs/{job.pk}/"
        return response

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    @extend_schema(request={"multipart/form-data": ImportJobCreateSerializer}, responses={202: ImportJobDetailSerializer})
    def create(self, request):
        serializer = ImportJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = services.job_create(import_type=data["import_type"], upload=data["file"], user=request.user,
                                  valid_only=data["valid_only"], header_map=data.get("header_map") or {})
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(request=ImportJobMappingSerializer, responses={202: ImportJobDetailSerializer})
    @action(detail=True, methods=["post"])
    def mapping(self, request, pk=None):
        job = self.get_object()
        serializer = ImportJobMappingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.job_set_mapping(job=job, header_map=serializer.validated_data["header_map"],
                                 valid_only=serializer.validated_data.get("valid_only"))
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportJobDetailSerializer})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        job = self.get_object()
        services.job_start_dry_run(job=job)
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(request=ImportJobCommitSerializer, responses={202: ImportJobDetailSerializer})
    @action(detail=True, methods=["post"])
    def commit(self, request, pk=None):
        job = self.get_object()
        serializer = ImportJobCommitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.job_commit(job=job, user=request.user, valid_only=serializer.validated_data.get("valid_only"))
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportJobDetailSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        job = self.get_object()
        services.job_resume(job=job, user=request.user)
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ImportIssueSerializer(many=True),
                   parameters=[OpenApiParameter("phase", str, enum=["dry_run", "commit"])])
    @action(detail=True, methods=["get"])
    def issues(self, request, pk=None):
        job = self.get_object()
        phase = request.query_params.get("phase") or ("commit" if job.commit_started_at else "dry_run")
        if phase not in ("dry_run", "commit"):
            raise ValidationError({"phase": ["dry_run or commit"]})
        qs = ImportIssue.objects.filter(job=job, phase=phase).order_by("line", "id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ImportIssueSerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="rejected-rows")
    def rejected_rows(self, request, pk=None):
        return errors_response(self.get_object())
