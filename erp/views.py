import logging

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from erp import dashboard, lockout
from erp.tenancy.models import Tenant
from erp.tenancy.roles import Role
from erp.tenancy.services import session_tenant_switch, tenant_create

logger = logging.getLogger("erp")


@login_required
def dashboard_view(request):
    if request.membership is None:
        return render(request, "erp/no_tenant.html", status=403)
    if request.membership.role == Role.SUPPLIER:  # supplier users work in the supplier portal only
        return redirect("purchasing:portal-home")
    return render(request, "erp/dashboard.html", {"cards": dashboard.cards_for(request),
                                                  "charts": dashboard.charts_for(request)})


@login_required
@require_POST
def switch_tenant(request):
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        tenant_id = 0
    if session_tenant_switch(request=request, tenant_id=tenant_id) is None:
        messages.error(request, _("You are not a member of that tenant."))
    nxt = request.POST.get("next") or "/"
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")


class SignupForm(forms.Form):
    company = forms.CharField(label=_("Company name"), max_length=200)
    slug = forms.SlugField(label=_("Short name (URL slug)"), max_length=50, required=False,
                           help_text=_("Letters, digits and hyphens; derived from the company name if empty."))
    username = forms.RegexField(r"^[\w.@+-]+\Z", max_length=150, label=_("Your username"))
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This username is taken."))
        return username

    def clean(self):
        data = super().clean()
        slug = data.get("slug") or slugify(data.get("company") or "")
        if not slug:
            self.add_error("slug", _("Choose a short name made of letters and digits."))
        elif Tenant.objects.filter(slug=slug).exists():
            self.add_error("slug" if data.get("slug") else "company", _("A company with this short name exists."))
        data["slug"] = slug
        if data.get("password"):
            try:
                validate_password(data["password"], get_user_model()(username=data.get("username", ""), email=data.get("email", "")))
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


def signup(request):
    if request.method == "POST":
        if not lockout.signup_allowed(request):  # too many refused signups or logins from this address
            return lockout.lockout_response(request)
        form = SignupForm(request.POST)
        if not form.is_valid():
            lockout.signup_failed(request)
        else:
            data = form.cleaned_data
            tenant = tenant_create(name=data["company"], slug=data["slug"], owner_username=data["username"],
                                   owner_password=data["password"], owner_email=data["email"])
            user = get_user_model().objects.get(username=data["username"])
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["tenant_id"] = tenant.pk
            messages.success(request, _("Welcome! Your company %(name)s is ready.") % {"name": tenant.name})
            return redirect("dashboard")
    else:
        form = SignupForm()
    return render(request, "registration/signup.html", {"form": form})


def healthz(request):
    """Database and Redis state: 200 when all configured services answer, else 503."""
    from django.conf import settings

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        checks["database"] = f"error: {exc.__class__.__name__}"
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc.__class__.__name__}"
    else:
        checks["redis"] = "not configured (jobs run in-process)"
    healthy = all(not str(v).startswith("error") for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)
