"""The lockout records of django-axes in the admin, for platform superusers only: the failures are
not a tenant's rows (an address or a username is shared by every tenant), so a tenant's owner
unlocks its own users with the "Unlock login" action on the memberships instead."""

from axes.models import AccessAttempt
from django.contrib import admin
from unfold.admin import ModelAdmin


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ModelAdmin):
    list_display = ["attempt_time", "username", "ip_address", "failures_since_start", "path_info"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"
    fields = ["attempt_time", "username", "ip_address", "user_agent", "path_info", "failures_since_start"]
    readonly_fields = fields

    def has_module_permission(self, request):
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):  # deleting the record is the unlock
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

