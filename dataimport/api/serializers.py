import json

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import ImportIssue, ImportJob
from ..specs import all_types


class ColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    en = serializers.CharField()
    zh = serializers.CharField()
    required = serializers.BooleanField()
    example = serializers.CharField()
    help_en = serializers.CharField()
    help_zh = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())


class ImportTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    en = serializers.CharField()
    zh = serializers.CharField()
    app_label = serializers.CharField()
    key = serializers.ListField(child=serializers.CharField())
    description_en = serializers.CharField()
    description_zh = serializers.CharField()
    columns = ColumnSerializer(many=True)


class ImportIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportIssue
        fields = ["id", "phase", "line", "column", "value", "message"]


class ImportJobSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True, allow_null=True)
    committed_by = serializers.CharField(source="committed_by.username", default=None, read_only=True, allow_null=True)
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "import_type", "status", "file_name", "file_size", "file_format", "encoding", "headers",
                  "header_map", "valid_only", "total_rows", "processed_rows", "progress_percent", "to_create",
                  "to_update", "to_skip", "rejected", "created_count", "updated_count", "skipped_count",
                  "failed_count", "file_error", "error", "reconciliation", "created_by", "created_at",
                  "validated_at", "committed_by", "commit_started_at", "finished_at"]
        read_only_fields = fields


class ReconciliationRowSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    file = serializers.DecimalField(max_digits=24, decimal_places=2)
    database = serializers.DecimalField(max_digits=24, decimal_places=2)
    difference = serializers.DecimalField(max_digits=24, decimal_places=2)
    matches = serializers.BooleanField()


class MappingRowSerializer(serializers.Serializer):
    header = serializers.CharField()
    key = serializers.CharField(allow_blank=True)
    auto = serializers.CharField(allow_blank=True)
    unknown = serializers.BooleanField()
    label = serializers.CharField(allow_blank=True)


class ChangeRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    name = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class ImportJobDetailSerializer(ImportJobSerializer):
    mapping = MappingRowSerializer(many=True, read_only=True)
    unknown_headers = serializers.ListField(child=serializers.CharField(), read_only=True)
    missing_required = serializers.ListField(child=serializers.CharField(), read_only=True)
    issues = ImportIssueSerializer(many=True, read_only=True)
    issue_count = serializers.IntegerField(read_only=True)
    reconciliation_rows = ReconciliationRowSerializer(many=True, read_only=True)
    reconciliation_ok = serializers.BooleanField(read_only=True)
    changes = ChangeRowSerializer(many=True, read_only=True)

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "mapping", "unknown_headers", "missing_required", "issues",
                  "issue_count", "reconciliation_rows", "reconciliation_ok", "changes"]
        read_only_fields = fields


def _header_map_field(value):
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise serializers.ValidationError(_("Give a JSON object: header in the file -> column key."))
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str | type(None)) for k, v in value.items()):
        raise serializers.ValidationError(_("Give a JSON object: header in the file -> column key (or \"\" to ignore)."))
    return value


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class HeaderMapField(serializers.Field):
    def to_internal_value(self, data):
        return _header_map_field(data)

    def to_representation(self, value):
        return value


class ImportJobCreateSerializer(serializers.Serializer):
    import_type = serializers.ChoiceField(choices=[])
    file = serializers.FileField(allow_empty_file=True)
    valid_only = serializers.BooleanField(default=False)
    header_map = HeaderMapField(required=False, help_text="JSON object: header in the file -> column key ('' ignores it)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_type"].choices = [(t.name, t.en) for t in all_types()]


class ImportJobMappingSerializer(serializers.Serializer):
    header_map = HeaderMapField(help_text="JSON object: header in the file -> column key ('' ignores it)")
    valid_only = serializers.BooleanField(required=False)


class ImportJobCommitSerializer(serializers.Serializer):
    valid_only = serializers.BooleanField(required=False, help_text="import the valid rows even if some were rejected")
