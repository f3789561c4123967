from django.urls import path

from . import portal_views as portal
from . import views

app_name = "purchasing"

urlpatterns = [
    path("", views.po_list, name="list"),
    path("new/", views.po_new, name="new"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path("suggestions/action/", views.suggestions_action, name="suggestions-action"),
    path("notifications/", views.notifications, name="notifications"),
    path("<int:pk>/", views.po_detail, name="detail"),
    path("<int:pk>/action/", views.po_action, name="action"),
    path("<int:pk>/lines/", views.po_lines, name="lines"),
    path("<int:pk>/receive/", views.po_receive, name="receive"),
    path("<int:pk>/export/", views.po_export, name="export"),
    path("asn/<int:pk>/receive/", portal.asn_receive, name="asn-receive"),
    # the supplier portal (supplier users only: erp.tenancy.supplier_access)
    path("portal/", portal.home, name="portal-home"),
    path("portal/po/<int:pk>/", portal.po_detail, name="portal-po"),
    path("portal/po/<int:pk>/action/", portal.po_action, name="portal-po-action"),
    path("portal/receipts/", portal.receipts, name="portal-receipts"),
    path("portal/items/", portal.items, name="portal-items"),
    path("portal/notifications/", portal.notifications, name="portal-notifications"),
]
