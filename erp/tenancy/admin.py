from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportActionMixin
from import_export.resources import ModelResource
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminEmailInputWidget, UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from erp.admin_site import RoleAdminMixin
from erp.lockout import login_unlock

from .context import require_tenant
from .models import Membership, Tenant
from .roles import Role
from .services import api_token_issue, membership_add

# Users exist across tenants: no tenant may browse them. Staff are managed as memberships.
for model in (User, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class TenantResource(ModelResource):
    """Base import/export resource: never exports or imports the tenant column; rows are created
    in the current tenant by TenantScopedModel.save()."""

    def get_queryset(self):
        return self._meta.model.objects.all()

    class Meta:
        exclude = ("tenant",)
        skip_unchanged = True
        report_skipped = True


class TenantScopedAdmin(RoleAdminMixin, ExportActionMixin, SimpleHistoryAdmin, ModelAdmin):
    """Base admin of every business model (scoped by the default manager, role permissions,
    XLSX/CSV export, history)."""

    exclude = ("tenant",)

    def get_queryset(self, request):
        require_tenant()
        return super().get_queryset(request)

    def get_resource_classes(self, request):
        if self.resource_classes:
            return self.resource_classes
        meta = type("Meta", (TenantResource.Meta,), {"model": self.model})
        return [type(f"{self.model.__name__}Resource", (TenantResource,), {"Meta": meta})]


class ReadOnlyAdmin(TenantScopedAdmin):
    """Records written only by the app's services (ledgers, logs, documents with a workflow): the
    admin shows them, never adds, changes or deletes them."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside their parent's page that change only through the app's services (lines,
    timeline events): no add, change or delete here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MembershipForm(forms.ModelForm):
    username = forms.RegexField(r"^[\w.@+-]+\Z", max_length=150, label=_("username"), widget=UnfoldAdminTextInputWidget)
    email = forms.EmailField(required=False, label=_("email"), widget=UnfoldAdminEmailInputWidget)
    password = forms.CharField(
        required=False, widget=UnfoldAdminPasswordWidget, label=_("password"),
        help_text=_("Only for a new user; an existing user keeps their password."),
    )

    class Meta:
        model = Membership
        fields = ["role", "is_active"]


@admin.register(Membership)
class MembershipAdmin(RoleAdminMixin, ModelAdmin):
    access_app = "tenancy"
    list_display = ["user", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "user__email"]
    actions = ["issue_api_token", "unlock_login"]

    @admin.action(description=_("Issue (or rotate) the API token"))
    def issue_api_token(self, request, queryset):
        """Shows each new key once; only a hash is stored, so a lost key is rotated, not recovered."""
        for membership in queryset:
            key = api_token_issue(membership=membership)
            self.message_user(request, _("API token for %(user)s: %(key)s (shown once; store it now)")
                              % {"user": membership.user.username, "key": key}, messages.WARNING)

    @admin.action(description=_("Unlock login (forget failed sign-in attempts)"), permissions=["change"])
    def unlock_login(self, request, queryset):
        """Lifts a lockout of these users' usernames (erp/lockout.py) before the cool-off ends."""
        usernames = [m.user.username for m in queryset.select_related("user")]
        for username in usernames:
            login_unlock(username=username)
        self.message_user(request, _("Login unlocked for %(users)s.") % {"users": ", ".join(usernames)})

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["username", "email", "password", "role", "is_active"] if obj is None else ["role", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(tenant=require_tenant()).select_related("user")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        membership = membership_add(tenant=require_tenant(), username=data["username"], role=data["role"],
                                    email=data.get("email") or "", password=data.get("password") or None)
        obj.pk = membership.pk

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "role":  # supplier users are invited from purchasing (they need a supplier)
            field.choices = [c for c in field.choices if c[0] != Role.SUPPLIER]
        if db_field.name == "role" and getattr(request, "membership", None) and request.membership.role != Role.OWNER:
            field.choices = [c for c in field.choices if c[0] != Role.OWNER]
        return field


@admin.register(Tenant)
class TenantAdmin(RoleAdminMixin, ModelAdmin):
    """Owners and administrators see and edit their own tenant only."""

    access_app = "tenancy"
    list_display = ["name", "slug", "timezone", "currency"]
    fields = ["name", "timezone", "currency"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk=require_tenant().pk)

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from erp import lockout_admin  # noqa: E402,F401 - the lockout records, for platform superusers
