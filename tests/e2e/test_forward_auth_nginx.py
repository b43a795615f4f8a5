"""A real nginx with ``auth_request`` against ``/auth/verify``, in front of an echo upstream.

nginx runs in the foreground with its own config, pid, logs and temp paths under the
test's directory, on a free port. The upstream echoes what reached it, so the test sees
the ``X-Auth-*`` headers nginx set from the verify answer.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unavailable
from tests.e2e.conftest import STARTUP_TIMEOUT, Server, free_port
from tests.plain_http import HTTP
from tests.support import PASSWORD

pytestmark = pytest.mark.nginx

UUID4 = "0f8fad5b-d9cb-469f-a165-70867728950e"
ECHO = Path(__file__).with_name("echo_upstream.py")

# The same shape as the snippet in docs/guard.md, with test paths and ports.
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;

    upstream xpay_auth {{ server 127.0.0.1:{auth_port}; }}
    upstream app {{ server 127.0.0.1:{upstream_port}; }}

    server {{
        listen 127.0.0.1:{port};

        # $xpay_scope is set per location, never at server level: the verify subrequest
        # shares the request's variables and would run a server-level "set" again.
        location / {{
            set $xpay_scope "tme_user";
            auth_request /_xpay/verify;
            auth_request_set $xpay_user $upstream_http_x_auth_user;
            auth_request_set $xpay_scopes $upstream_http_x_auth_scopes;
            auth_request_set $xpay_ticket $upstream_http_x_auth_ticket;
            auth_request_set $xpay_key_id $upstream_http_x_auth_key_id;
            # Always set every X-Auth-* header, so a client cannot smuggle its own
            # (an empty value makes nginx drop the header).
            proxy_set_header X-Auth-User $xpay_user;
            proxy_set_header X-Auth-Scopes $xpay_scopes;
            proxy_set_header X-Auth-Ticket $xpay_ticket;
            proxy_set_header X-Auth-Key-Id $xpay_key_id;
            error_page 401 403 = @xpay_denied;
            proxy_pass http://app;
        }}

        location /admin/ {{
            set $xpay_scope "tme_admin";
            auth_request /_xpay/verify;
            auth_request_set $xpay_user $upstream_http_x_auth_user;
            proxy_set_header X-Auth-User $xpay_user;
            proxy_set_header X-Auth-Scopes "";
            proxy_set_header X-Auth-Ticket "";
            proxy_set_header X-Auth-Key-Id "";
            error_page 401 403 = @xpay_denied;
            proxy_pass http://app;
        }}

        location = /_xpay/verify {{
            internal;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://xpay_auth/auth/verify?scope=$xpay_scope;
        }}

        # Refusals: ask once more to pass on xpay-auth's envelope as the body. nginx has
        # already copied the challenge (WWW-Authenticate) of the first answer.
        location @xpay_denied {{
            proxy_method GET;
            proxy_hide_header WWW-Authenticate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            rewrite ^ /auth/verify?scope=$xpay_scope? break;
            proxy_pass http://xpay_auth;
        }}
    }}
}}
"""


@dataclass
class Gateway:
    base_url: str

    def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return HTTP.get(f"{self.base_url}{path}", headers=headers, timeout=10)

    def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return HTTP.post(f"{self.base_url}{path}", json=body, headers=headers, timeout=10)


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, log: Path | None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"{what} exited with {process.returncode}: {detail}")
        try:
            HTTP.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        return
    pytest.fail(f"{what} did not start listening")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    """The tests here share one server (``shared_server``) and one gateway; each makes
    accounts of its own."""
    return shared_server


@pytest.fixture(scope="module")
def gateway(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """nginx on a free port: auth_request to ``server``, then the echo upstream."""
    nginx = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )
    if nginx is None:
        unavailable("nginx is not installed (Debian: apt-get install nginx-light)")
        return
    root = tmp_path_factory.mktemp("nginx")
    upstream_port, port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, str(ECHO), str(upstream_port)])
    config = root / "nginx.conf"
    config.write_text(
        NGINX_CONF.format(root=root, auth_port=server.port, upstream_port=upstream_port, port=port)
    )
    command = [nginx, "-p", str(root), "-c", str(config), "-e", str(root / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        stop(upstream)
        pytest.fail(f"nginx refused the config: {checked.stderr}")
    proxy = subprocess.Popen(command)
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/", upstream, "echo upstream", None)
        wait_for(f"http://127.0.0.1:{port}/", proxy, "nginx", root / "error.log")
        yield Gateway(f"http://127.0.0.1:{port}")
    finally:
        stop(proxy, signal.SIGQUIT)  # graceful shutdown
        stop(upstream)


def test_valid_token_passes_with_identity_headers(server: Server, gateway: Gateway) -> None:
    """An API-key token passes; the upstream sees X-Auth-* from xpay-auth, never the client's."""
    server.create_user("alice@example.com")
    key = server.create_key("alice@example.com")
    data = server.login("alice@example.com", key["secretKey"])
    response = gateway.get("/wallets/balance", data["access_token"], **{"X-Auth-User": "mallory"})
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-auth-user"] == "alice@example.com"
    assert seen["x-auth-scopes"] == "tme_user"
    assert seen["x-auth-ticket"] == data["ticket"]
    assert seen["x-auth-key-id"] == key["id"]
    echoed = gateway.post("/wallets/transfer", {"amount": 1}, data["access_token"]).json()
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"amount":1}'


def test_dashboard_token_passes_without_a_key_id(server: Server, gateway: Gateway) -> None:
    """A password session passes, and a client-sent X-Auth-Key-Id does not reach the upstream."""
    server.create_user("bob@example.com", password=PASSWORD)
    token = server.login("bob@example.com", PASSWORD, is_api=False)["access_token"]
    response = gateway.get("/wallets/balance", token, **{"X-Auth-Key-Id": "forged"})
    assert response.status_code == 200
    assert "x-auth-key-id" not in response.json()["headers"]


def test_missing_and_revoked_tokens_are_stopped_with_401(server: Server, gateway: Gateway) -> None:
    """No token, and a token after logout, are stopped with 401 in xpay-auth's envelope."""
    missing = gateway.get("/wallets/balance", uuid=UUID4)
    assert missing.status_code == 401
    assert missing.json()["uuid"] == UUID4
    assert set(missing.json()["error"]) == {"message", "data", "tag"}
    assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    server.create_user("carol@example.com", password=PASSWORD)
    token = server.login("carol@example.com", PASSWORD, is_api=False)["access_token"]
    assert gateway.get("/wallets/balance", token).status_code == 200
    assert server.post("/client/logout", token=token).status_code == 200
    revoked = gateway.get("/wallets/balance", token)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "error" in revoked.json()


def test_location_requiring_admin_scope_stops_a_user_with_403(
    server: Server, gateway: Gateway
) -> None:
    """A location asking ?scope=tme_admin answers 403 to a user token and passes an admin's."""
    server.create_user("dave@example.com", password=PASSWORD)
    user = server.login("dave@example.com", PASSWORD, is_api=False)["access_token"]
    refused = gateway.get("/admin/report", user)
    assert refused.status_code == 403
    assert refused.json()["error"]["data"] == {"required": "tme_admin"}
    server.create_user("root@example.com", "tme_admin", password=PASSWORD)
    admin = server.login("root@example.com", PASSWORD, is_api=False)["access_token"]
    allowed = gateway.get("/admin/report", admin)
    assert allowed.status_code == 200
    assert allowed.json()["headers"]["x-auth-user"] == "root@example.com"
