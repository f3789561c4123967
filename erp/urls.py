from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

handler404 = "erp.client_errors.not_found"  # JSON under /api/

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("signup/", views.signup, name="signup"),
    path("tenant/switch/", views.switch_tenant, name="switch-tenant"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("erp.api.urls")),
]

# Purpose-built pages of each domain app, when it has them.
from importlib.util import find_spec  # noqa: E402

for _app in ["orders", "inventory", "purchasing", "finance", "aftersales", "members", "integrations", "dataimport", "warehouse", "analytics"]:
    if find_spec(f"{_app}.urls") is not None:
        urlpatterns.append(path(f"{_app}/", include(f"{_app}.urls")))
