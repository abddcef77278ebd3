"""The host's nginx configuration (deploy/nginx/livlina.conf) run for real: rewritten only
where a test must differ from a server (ports, a self-signed certificate from trustme,
paths under a temporary folder), so what is tested is the shipped file."""

from __future__ import annotations

import re
from pathlib import Path

import trustme

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "nginx" / "livlina.conf"
HOST = "livlina.example.org"


def nginx_test_config(folder: Path, *, upstream_ports: list[int], listen_port: int, plain_port: int = 0) -> Path:
    """Writes ``nginx.conf`` (and a certificate for ``HOST``) into ``folder``; returns its path.
    The CA that signed the certificate is at ``folder / "ca.pem"``."""
    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    (folder / "static").mkdir(exist_ok=True)
    site = SHIPPED.read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstream_ports)
    site = re.sub(r"(upstream livlina_daphne \{\n    least_conn;\n)(?:    server [^\n]+\n)+", rf"\g<1>{servers}", site)
    site = site.replace("listen 443", f"listen {listen_port}").replace("listen [::]:443", f"listen [::]:{listen_port}")
    plain = plain_port or listen_port + 1
    site = site.replace("listen 80", f"listen {plain}").replace("listen [::]:80", f"listen [::]:{plain}")
    site = re.sub(
        r"ssl_certificate(_key)?\s+[^;]+;", lambda m: f"ssl_certificate{m.group(1) or ''} {folder}/server.pem;", site
    )
    site = site.replace("/var/log/nginx/", f"{folder}/").replace("/var/lib/livlina/static/", f"{folder}/static/")
    (folder / "livlina.conf").write_text(site)
    main = f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/livlina.conf;
}}
"""
    (folder / "nginx.conf").write_text(main)
    return folder / "nginx.conf"
