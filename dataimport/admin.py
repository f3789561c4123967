from django.contrib import admin

from erp.tenancy.admin import ReadOnlyAdmin

from .models import ImportChange, ImportIssue, ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "import_type", "file_name", "status", "total_rows", "created_count", "updated_count",
                    "rejected", "created_by", "created_at")
    list_filter = ("import_type", "status")
    search_fields = ("file_name",)


@admin.register(ImportIssue)
class ImportIssueAdmin(ReadOnlyAdmin):
    list_display = ("job", "phase", "line", "column", "message")
    list_filter = ("phase",)


@admin.register(ImportChange)
class ImportChangeAdmin(ReadOnlyAdmin):
    list_display = ("job", "batch_end", "model", "action", "count", "created_at")
    list_filter = ("model", "action")
