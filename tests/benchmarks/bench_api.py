"""Issue 3's benchmark: the shipments list over 1,000,000 shipments, on PostgreSQL.

Every request goes through Django's WSGI handler in this process, with the real middleware,
URLs, authentication (`Authorization: Api-Key ...`, a read-only key of the organization that
owns the 1,000,000 shipments), throttling (its rate raised so it never answers 429, its
bookkeeping still done), filters, serializer and keyset pagination. No HTTP server: the
numbers are the application's cost, not a socket's.

- `shipments_list_api_vs_bare_throughput`: requests per second of
  `GET /api/v1/shipments/?status=awaiting_license` (50 a page), divided by those of the bare
  view below, which runs the same filters (organization, status) and the same order
  (-created_at, -id) over the same table and returns the same 50 rows as `values()` in a
  JsonResponse: no DRF, no authentication, no lines, no license or clock. The ratio is
  therefore everything the API adds. Checked before timing: both return the same 50 ids.
- `shipments_deep_cursor_vs_first_page_latency`: the latency of the page after the
  500,000th shipment of the (unfiltered, -created_at) list, divided by that of the first
  page. The deep cursor is built from that row's (created_at, id), found once with OFFSET
  outside the timed section, and encoded by the paginator's own `_make_cursor`, exactly as a
  `next` link after that row would be. Checked: the page starts at row 500,001.
- `shipments_list_queries_500_vs_5`: queries of one list request at page_size=500 divided by
  those at page_size=5 (CaptureQueriesContext), same filter.

Each timed sample is a batch of requests sized to take ~0.4 s; the sides alternate in each
repeat and the result is the median of the per-repeat ratios.

What we saw (2 cores, PostgreSQL 15, shared machine): the throughput ratio misses, 0.04-0.05
(about 40 ms against 2 ms a request); a DISTINCT that django-filter adds to the status filter
costs 15-20 ms of it, DRF and ORM work spread over the request and its rows the rest. Deep
pages cost what the first does (1.00) and the query count is 6 at any page size. Details
and suggested fixes: README.md, "Benchmarks".
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import path

from config import urls as project_urls
from core.api.pagination import KeysetCursorPagination
from core.api.throttling import ApiKeyRateThrottle
from licensing.models import OrganizationAPIKey, Shipment, ShipmentStatus
from licensing.services.api_keys import api_key_create
from tests.benchmarks import measure, seed

LIST = "/api/v1/shipments/"
BARE = "/api/bench/bare-shipments/"
STATUS = ShipmentStatus.AWAITING_LICENSE
PAGE = 50
DEEP = 500_000
REPEATS = 7
SAMPLE_SECONDS = 0.4
KEY_NAME = "make bench"


# -- the bare view, and the URLconf that serves it next to the project's ------------------------

BARE_COLUMNS = tuple(field.attname for field in Shipment._meta.concrete_fields)


def bare_shipment_list(request: HttpRequest) -> JsonResponse:
    """The floor: the same rows from the same queryset, straight to JSON."""
    rows = (
        Shipment.objects.filter(
            organization_id=request.GET["organization"], status=request.GET["status"]
        )
        .order_by("-created_at", "-id")
        .values(*BARE_COLUMNS)[:PAGE]
    )
    return JsonResponse({"results": list(rows)})


urlpatterns = [path(BARE.lstrip("/"), bare_shipment_list), *project_urls.urlpatterns]
handler400 = project_urls.handler400
handler404 = project_urls.handler404
handler500 = project_urls.handler500


# -- in-process WSGI --------------------------------------------------------------------------


class WsgiClient:
    """GET requests through Django's WSGI handler, as a WSGI server would send them."""

    def __init__(self, **headers: str) -> None:
        self.handler = WSGIHandler()
        self.headers = {f"HTTP_{name.upper().replace('-', '_')}": v for name, v in headers.items()}

    def get(self, path_: str, query: dict[str, Any] | None = None) -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path_,
            "QUERY_STRING": urlencode(query or {}),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_ACCEPT": "application/json",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **self.headers,
        }
        statuses: list[str] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            statuses.append(status)

        response = self.handler(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            response.close()
        return int(statuses[0][:3]), body


def get_json(client: WsgiClient, path_: str, query: dict[str, Any] | None = None) -> dict:
    status, body = client.get(path_, query)
    if status != 200:
        raise AssertionError(
            f"GET {path_}?{urlencode(query or {})} answered {status}: {body[:300]!r}"
        )
    return json.loads(body)


def fresh_key(organization_name: str) -> str:
    OrganizationAPIKey.objects.filter(name=KEY_NAME).delete()
    _, key = api_key_create(organization_name=organization_name, name=KEY_NAME, read_only=True)
    return key


def deep_cursor(organization_id: Any, position: int) -> tuple[str, str]:
    """The cursor of the `next` link after row `position` of the list, and the id that follows."""
    rows = list(
        Shipment.objects.filter(organization_id=organization_id)
        .order_by("-created_at", "-id")
        .values_list("created_at", "id")[position - 1 : position + 1]
    )
    (created_at, last_id), (_, following_id) = rows
    row = SimpleNamespace(created_at=created_at, pk=last_id)
    cursor = KeysetCursorPagination()._make_cursor("next", "-created_at", row)
    return cursor, str(following_id)


# -- the benchmarks ---------------------------------------------------------------------------


def run(dataset: seed.ApiDataset) -> None:
    with (
        override_settings(ROOT_URLCONF=__name__),
        raised_throttle_rate("1000000/min"),
    ):
        key = fresh_key(seed.ORGANIZATION)
        api = WsgiClient(authorization=f"Api-Key {key}")
        bare = WsgiClient()
        list_throughput(api, bare, dataset)
        deep_page_latency(api, dataset)
        queries_per_request(api)


@contextmanager
def raised_throttle_rate(rate: str) -> Iterator[None]:
    """Raise the per-key throttle for the duration, as tests/test_schemathesis.py does."""
    previous = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = {**previous, ApiKeyRateThrottle.scope: rate}
    try:
        yield
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = previous


def list_throughput(api: WsgiClient, bare: WsgiClient, dataset: seed.ApiDataset) -> None:
    api_query = {"status": STATUS}
    bare_query = {"status": STATUS, "organization": str(dataset.organization_id)}
    api_ids = [row["id"] for row in get_json(api, LIST, api_query)["results"]]
    bare_ids = [str(row["id"]) for row in get_json(bare, BARE, bare_query)["results"]]
    if api_ids != bare_ids or len(api_ids) != PAGE:
        raise AssertionError("The API and the bare view do not return the same 50 rows.")

    def api_once() -> None:
        api.get(LIST, api_query)

    def bare_once() -> None:
        bare.get(BARE, bare_query)

    api_n = measure.calibrate(api_once, seconds=SAMPLE_SECONDS)
    bare_n = measure.calibrate(bare_once, seconds=SAMPLE_SECONDS)
    api_times, bare_times = measure.alternate(
        measure.Side(measure.repeat(api_once, api_n)),
        measure.Side(measure.repeat(bare_once, bare_n)),
        repeats=REPEATS,
    )
    # Throughput ratio: (api_n / api_t) / (bare_n / bare_t), per repeat.
    api_rates = [api_n / t for t in api_times]
    bare_rates = [bare_n / t for t in bare_times]
    ratio = measure.median_ratio(api_rates, bare_rates)
    measure.report("shipments_list_api", statistics.median(api_rates), unit=" req/s")
    measure.report("shipments_list_bare", statistics.median(bare_rates), unit=" req/s")
    measure.report("shipments_list_api_vs_bare_throughput", ratio, target=">= 0.5")


def deep_page_latency(api: WsgiClient, dataset: seed.ApiDataset) -> None:
    started = time.perf_counter()
    cursor, following_id = deep_cursor(dataset.organization_id, DEEP)
    found_in = time.perf_counter() - started
    deep = get_json(api, LIST, {"cursor": cursor})["results"]
    first = get_json(api, LIST)["results"]
    if len(deep) != PAGE or len(first) != PAGE or deep[0]["id"] != following_id:
        raise AssertionError("The deep cursor does not open the page after row 500,000.")
    measure.note(
        f"deep cursor: after row {DEEP:,} (found with OFFSET in {found_in * 1000:.0f} ms, untimed)"
    )

    def deep_once() -> None:
        api.get(LIST, {"cursor": cursor})

    def first_once() -> None:
        api.get(LIST)

    n = measure.calibrate(first_once, seconds=SAMPLE_SECONDS)
    deep_times, first_times = measure.alternate(
        measure.Side(measure.repeat(deep_once, n)),
        measure.Side(measure.repeat(first_once, n)),
        repeats=REPEATS,
    )
    measure.report("shipments_first_page", 1000 * statistics.median(first_times) / n, unit=" ms")
    measure.report("shipments_deep_page", 1000 * statistics.median(deep_times) / n, unit=" ms")
    measure.report(
        "shipments_deep_cursor_vs_first_page_latency",
        measure.median_ratio(deep_times, first_times),
        target="<= 1.5",
    )


def queries_per_request(api: WsgiClient) -> None:
    counts = {}
    for size in (5, 500):
        api.get(LIST, {"status": STATUS, "page_size": size})  # warm: calendars, caches
        with CaptureQueriesContext(connection) as queries:
            body = get_json(api, LIST, {"status": STATUS, "page_size": size})
        if len(body["results"]) != size:
            raise AssertionError(f"page_size={size} returned {len(body['results'])} rows")
        counts[size] = len(queries)
    measure.report("shipments_list_queries_page_size_5", counts[5], unit=" queries")
    measure.report("shipments_list_queries_page_size_500", counts[500], unit=" queries")
    measure.report("shipments_list_queries_500_vs_5", counts[500] / counts[5], target="<= 1.0")
