"""RFC 9457 problem details: the one error body of the API.

Every 4xx and 5xx answer of /api/ is `application/problem+json` with `type`, `title`,
`status`, `detail`, `instance`, and for field errors `errors: [{pointer, detail, code}]`.
`type` points at /api/problems/<code>, which describes the problem.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError, FieldErrors

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# code -> (title, description): the catalogue served at /api/problems/<code>.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "invalid": (
        "The request is invalid",
        "A field or parameter is missing or malformed, or the body has a field that is unknown "
        "(`unknown_field`) or read-only and different from the stored value "
        "(`read_only_field`); see `errors`.",
    ),
    "invalid_fields": (
        "Some fields are invalid",
        "See `errors`: each names a JSON pointer into the request body.",
    ),
    "parse_error": ("The body is not valid JSON", "Send a JSON object encoded as UTF-8."),
    "not_authenticated": ("Authentication is needed", "Send `Authorization: Api-Key <key>`."),
    "authentication_failed": (
        "The API key is not valid",
        "The key is unknown, revoked or expired.",
    ),
    "permission_denied": (
        "This is not allowed",
        "The key or user may not do this, e.g. a read-only key that writes.",
    ),
    "not_found": ("Not found", "No such resource in your organization."),
    "method_not_allowed": ("Method not allowed", "See the `Allow` header."),
    "not_acceptable": ("Not acceptable", "This API answers in JSON."),
    "unsupported_media_type": ("Unsupported media type", "Send `Content-Type: application/json`."),
    "invalid_transition": (
        "This status change is not allowed",
        "The detail names the current status and the allowed ones.",
    ),
    "state_conflict": (
        "The object's state does not allow this",
        "For example, editing an application after submission.",
    ),
    "idempotency_key_in_use": (
        "A request with this Idempotency-Key is still running",
        "Retry after it has finished.",
    ),
    "idempotency_key_reused": (
        "This Idempotency-Key was used with another request",
        "Use a new key for a different request.",
    ),
    "precondition_failed": (
        "The object has changed since you read it",
        "GET it again and retry with the new ETag in If-Match.",
    ),
    "precondition_required": (
        "If-Match is required",
        "Send the ETag from your last GET in If-Match.",
    ),
    "payload_too_large": (
        "The request body is too large",
        "See the documented limit in the detail.",
    ),
    "quantity_exceeded": (
        "The license does not cover this quantity",
        "The detail states the remaining quantity.",
    ),
    "license_not_valid": (
        "No valid license covers this shipment",
        "An approved license valid on the ship date is needed.",
    ),
    "throttled": ("Too many requests", "Wait for the number of seconds in `Retry-After`."),
    "server_error": (
        "Internal server error",
        "Something failed on our side; the request id identifies it.",
    ),
}


def problem_type_uri(request: HttpRequest | None, code: str) -> str:
    path = f"/api/problems/{code}"
    return request.build_absolute_uri(path) if request is not None else path


def problem_body(
    *,
    request: HttpRequest | None,
    status_code: int,
    code: str,
    detail: str,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type_uri(request, code),
        "title": title or PROBLEM_TYPES.get(code, ("Error", ""))[0],
        "status": status_code,
        "detail": detail,
        "instance": request.get_full_path() if request is not None else "",
        "code": code,
    }
    if request is not None and getattr(request, "request_id", None):
        body["request_id"] = request.request_id
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def problem_response(
    request: HttpRequest | None, status_code: int, code: str, detail: str
) -> JsonResponse:
    """A problem answer for code that runs outside DRF (middleware, Django's error handlers)."""
    return JsonResponse(
        problem_body(request=request, status_code=status_code, code=code, detail=detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE


def pointer_token(key: Any) -> str:
    """A key as one JSON pointer segment (RFC 6901): an unknown field may contain / or ~."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _pointer_errors(detail: Any, pointer: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into [{pointer, detail, code}]."""
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in _pointer_errors(
                value, pointer if key == "non_field_errors" else f"{pointer}/{pointer_token(key)}"
            )
        ]
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [
                {
                    "pointer": pointer or "/",
                    "detail": str(item),
                    "code": getattr(item, "code", "invalid"),
                }
                for item in detail
            ]
        return [
            error
            for index, item in enumerate(detail)
            for error in _pointer_errors(item, f"{pointer}/{index}")
        ]
    return [
        {
            "pointer": pointer or "/",
            "detail": str(detail),
            "code": getattr(detail, "code", "invalid"),
        }
    ]


def _summary(errors: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{error['pointer']}: {error['detail']}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return shown + more


def _problem_from_exception(
    exc: Exception, request: HttpRequest | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    if isinstance(exc, FieldErrors):
        errors = [
            {"pointer": pointer or "/", "detail": message, "code": exc.code}
            for pointer, messages in exc.errors.items()
            for message in messages
        ]
        body = problem_body(
            request=request, status_code=exc.status, code=exc.code, detail=exc.detail, errors=errors
        )
        return exc.status, body, headers
    if isinstance(exc, DomainError):
        body = problem_body(
            request=request,
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            extra=exc.extra,
        )
        return exc.status, body, headers
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such resource in your organization.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return (
            413,
            problem_body(
                request=request,
                status_code=413,
                code="payload_too_large",
                detail=f"The request body exceeds the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            ),
            headers,
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ValidationError(str(exc))
    if not isinstance(exc, exceptions.APIException):
        raise exc
    if isinstance(exc, exceptions.ValidationError):
        errors = _pointer_errors(exc.detail)
        body = problem_body(
            request=request, status_code=400, code="invalid", detail=_summary(errors), errors=errors
        )
        return 400, body, headers
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Api-Key"
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    body = problem_body(request=request, status_code=exc.status_code, code=code, detail=str(detail))
    return exc.status_code, body, headers


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error as problem+json, and the transaction rolled back."""
    view_request = context.get("request")
    django_request = getattr(view_request, "_request", view_request)
    try:
        status_code, body, headers = _problem_from_exception(exc, django_request)
    except Exception:  # not ours to map: let Django's 500 handler answer
        return None
    set_rollback()
    if view_request is not None:
        view_request.accepted_renderer = ProblemJSONRenderer()
        view_request.accepted_media_type = PROBLEM_CONTENT_TYPE
    response = Response(
        body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )
    return response


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# A 404 changes nothing, so it needs no CSRF check; without the exemption a POST, PUT, PATCH or
# DELETE to an unknown /api/ path got Django's HTML CSRF page (403) instead of problem+json.
@csrf_exempt
def api_page_not_found(request: HttpRequest, exception: Exception | None = None):
    if is_api_request(request):
        return problem_response(request, 404, "not_found", "No such resource in your organization.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_server_error(request: HttpRequest):
    if is_api_request(request):
        return problem_response(
            request,
            500,
            "server_error",
            "Something failed on our side. Quote the request id when you report it.",
        )
    from django.views.defaults import server_error

    return server_error(request)


def api_bad_request(request: HttpRequest, exception: Exception | None = None):
    if is_api_request(request):
        return problem_response(request, 400, "invalid", "The request is malformed.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def problem_type_view(request: HttpRequest, code: str) -> JsonResponse:
    """Describes one problem type: what `type` in an error body points at."""
    if code not in PROBLEM_TYPES:
        return problem_response(request, 404, "not_found", f"There is no problem type {code!r}.")
    title, description = PROBLEM_TYPES[code]
    return JsonResponse(
        {"type": problem_type_uri(request, code), "title": title, "description": description}
    )


__all__ = ["PROBLEM_CONTENT_TYPE", "problem_exception_handler", "status"]
