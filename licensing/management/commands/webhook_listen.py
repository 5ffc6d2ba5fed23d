"""`python manage.py webhook_listen --port <p> --secret <whsec_...>`: a consumer to watch events arrive.

A small receiver on 127.0.0.1 (stdlib http.server) that does what a consumer should: verify
each request with the `standardwebhooks` library (401 when the signature does not verify),
deduplicate on `webhook-id` (a retry after a lost answer carries the same id), print the
event and answer 204. It stops quietly, with status 0, on Ctrl-C and on SIGTERM (honcho's
stop in `make run`); a port already taken is one line on stderr and status 1.
"""

from __future__ import annotations

import errno
import json
import signal
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand, CommandError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 1024 * 1024
REMEMBERED_IDS = 10_000


class SeenIds:
    """The last REMEMBERED_IDS webhook-ids, to process each delivery once."""

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, webhook_id: str) -> bool:
        with self._lock:
            if webhook_id in self._ids:
                return False
            self._ids[webhook_id] = None
            if len(self._ids) > REMEMBERED_IDS:
                self._ids.popitem(last=False)
            return True


def receiver_handler(webhook: Webhook, seen: SeenIds, write) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = webhook.verify(body, headers)
            except (WebhookVerificationError, ValueError) as error:
                write(f"REFUSED {headers.get('webhook-id', '-')}: {error}")
                self.send_response(401)
                self.end_headers()
                return
            webhook_id = headers["webhook-id"]
            if seen.first_time(webhook_id):
                summary = json.dumps(event.get("data", {}), ensure_ascii=False)[:500]
                write(f"{event.get('type')} #{event.get('sequence')} {webhook_id} {summary}")
            else:
                write(f"duplicate {webhook_id} (already processed)")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass  # each event is printed once, above

    return Handler


class Command(BaseCommand):
    help = "Receive webhooks on 127.0.0.1, verify their signatures and print each event."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--secret", required=True, help="The endpoint's whsec_ secret.")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **options):
        try:
            webhook = Webhook(options["secret"])
        except Exception as error:
            raise CommandError(f"--secret is not a webhook secret: {error}") from None

        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        host, port = options["host"], options["port"]
        try:
            server = ThreadingHTTPServer((host, port), receiver_handler(webhook, SeenIds(), write))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {port} is already in use on {host}; choose another with --port."
                ) from None
            raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}.") from None
        try:
            if threading.current_thread() is threading.main_thread():
                # SIGTERM ends the receiver the way Ctrl-C does: quietly, with status 0.
                signal.signal(signal.SIGTERM, signal.default_int_handler)
            write(f"Listening for webhooks on http://{host}:{server.server_port}/")
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
