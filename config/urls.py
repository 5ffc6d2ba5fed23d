"""Root URLs: the admin, API v1 with its schema and docs, problem types, the health check."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from core.api.problems import api_page_not_found, problem_type_view
from core.views import healthz
from licensing.admin.dashboard import admin_urls_with_dashboard

handler400 = "core.api.problems.api_bad_request"
handler404 = "core.api.problems.api_page_not_found"
handler500 = "core.api.problems.api_server_error"

urlpatterns = [
    # The admin, with the "Delays" dashboard at admin/delays/ (admin:delay-dashboard).
    path("admin/", admin_urls_with_dashboard(admin.site)),
    path("api/v1/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves Swagger UI's initialiser as a script file: no inline script (CSP).
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/v1/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="core/redoc.html"),
        name="redoc",
    ),
    path("api/v1/", include("licensing.api.v1.urls", namespace="v1")),
    path("api/problems/<slug:code>", problem_type_view, name="problem-type"),
    # Unknown API paths answer problem+json even with DEBUG on.
    re_path(r"^api/", api_page_not_found),
    path("healthz", healthz, name="healthz"),
]
