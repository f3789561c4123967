"""The admin's sidebar and index (Unfold settings in erp/settings.py ``UNFOLD``).

The sidebar starts with a link back to the operator dashboard, then lists every app the member's
role may see (from ``admin.site.get_app_list``), so a new app's admin pages appear without edits
here. Group titles come from ``APP_TITLES`` (translated) and fall back to the app's verbose name.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

APP_TITLES = {
    "tenancy": _("Company & staff"),
    "orders": _("Orders"),
    "inventory": _("Inventory"),
    "purchasing": _("Purchasing"),
    "finance": _("Finance"),
    "aftersales": _("After-sales"),
    "members": _("Members"),
    "integrations": _("Shops & platforms"),
}

# Material Symbols names (the icon font Unfold ships).
APP_ICONS = {
    "tenancy": "apartment",
    "orders": "receipt_long",
    "inventory": "inventory_2",
    "purchasing": "shopping_cart",
    "finance": "account_balance",
    "aftersales": "assignment_return",
    "members": "loyalty",
    "integrations": "hub",
}
MODEL_ICONS = {
    "tenancy.membership": "badge",
    "tenancy.tenant": "domain",
    "integrations.shop": "storefront",
    "inventory.product": "category",
    "inventory.sku": "qr_code_2",
    "inventory.warehouse": "warehouse",
    "orders.order": "receipt_long",
}


def app_title(app: dict) -> str:
    return APP_TITLES.get(app["app_label"], app["name"])


def sidebar_navigation(request) -> list[dict]:
    """UNFOLD["SIDEBAR"]["navigation"]: called by Unfold once per admin page."""
    navigation = [
        {
            "items": [
                # "active": False, else Unfold marks "/" active on every page (prefix match).
                {"title": _("Dashboard"), "icon": "space_dashboard", "link": reverse("dashboard"), "active": False},
                {"title": _("Admin home"), "icon": "home", "link": reverse("admin:index")},
            ]
        }
    ]
    apps = admin.site.get_app_list(request)
    for app in apps:
        label = app["app_label"]
        items = [
            {
                "title": model["name"],
                "icon": MODEL_ICONS.get(f"{label}.{model['object_name'].lower()}", APP_ICONS.get(label, "table_rows")),
                "link": model["admin_url"],
            }
            for model in app["models"]
            if model.get("admin_url")
        ]
        if items:
            # Folded groups (opened where the current page is) once the list grows long.
            navigation.append({"title": app_title(app), "collapsible": len(apps) > 4, "items": items})
    return navigation


def dashboard_callback(request, context: dict) -> dict:
    """UNFOLD["DASHBOARD_CALLBACK"]: the admin index shows the same translated app titles."""
    for app in context.get("app_list") or []:
        app["name"] = app_title(app)
    return context


def favicon_url(request) -> str:
    """UNFOLD["SITE_FAVICONS"] href: the operator pages' icon."""
    from django.templatetags.static import static

    return static("erp/favicon.svg")


def admin_css_url(request) -> str:
    """UNFOLD["STYLES"]: small fixes on top of Unfold's stylesheet."""
    from django.templatetags.static import static

    return static("erp/admin.css")
