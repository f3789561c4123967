from django.urls import path

from . import views

app_name = "warehouse"

urlpatterns = [
    path("", views.waves, name="waves"),
    path("waves/<int:pk>/", views.wave_detail, name="wave"),
    path("waves/<int:pk>/pick-list.pdf", views.wave_pdf, name="wave-pdf"),
    path("pack/", views.pack, name="pack"),
    path("parcels/", views.parcels, name="parcels"),
    path("parcels/<int:pk>/label.pdf", views.label, name="label"),
    path("parcels/<int:pk>/weigh/", views.weigh, name="weigh"),
    path("wms/", views.wms, name="wms"),
]
