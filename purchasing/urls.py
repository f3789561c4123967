from django.urls import path

from . import views

app_name = "purchasing"

urlpatterns = [
    path("", views.po_list, name="list"),
    path("new/", views.po_new, name="new"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path("suggestions/action/", views.suggestions_action, name="suggestions-action"),
    path("<int:pk>/", views.po_detail, name="detail"),
    path("<int:pk>/action/", views.po_action, name="action"),
    path("<int:pk>/lines/", views.po_lines, name="lines"),
    path("<int:pk>/receive/", views.po_receive, name="receive"),
    path("<int:pk>/export/", views.po_export, name="export"),
]
