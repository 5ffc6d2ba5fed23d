"""Refuse hostile requests before they reach a view: NUL bytes anywhere, oversized API bodies."""

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.api.problems import is_api_request, problem_response


class RequestGuardMiddleware:
    """NUL bytes in the path or query string get 400 on every path, the admin's filters
    included (PostgreSQL cannot even compare them); an API body declared over
    DATA_UPLOAD_MAX_MEMORY_SIZE gets 413 before it is read. (Form fields refuse NUL themselves:
    Django's CharField validates against it.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        if (
            "\x00" in raw_path
            or b"\x00" in unquote_to_bytes(query)
            or "%00" in request.get_full_path()
        ):
            return problem_response(
                request, 400, "invalid", "NUL bytes are not allowed in the path or query string."
            )
        if not is_api_request(request):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(request, 400, "invalid", "Content-Length is not a number.")
        if limit is not None and declared > limit:
            return problem_response(
                request,
                413,
                "payload_too_large",
                f"The request body is {declared} bytes; the limit is {limit} bytes.",
            )
        return self.get_response(request)
