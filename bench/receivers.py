"""HTTP receivers for the benchmark: nginx answering 204 (the fast one, logging when each
webhook-id arrived) and a 'hanging' server that accepts and never answers."""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format receipt '$msec $http_webhook_id $request_uri';
    access_log {dir}/access.log receipt;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_buffer_size 1m;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's nginx-light when missing (as root)."""
    path = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if path:
        return path
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx-light"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/bin:/usr/sbin:/bin"},
    )
    subprocess.run(["/usr/sbin/nginx", "-s", "stop"], check=False, capture_output=True)
    return "/usr/sbin/nginx"


class Nginx:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="flexhooks-bench-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.dir / "access.log"

    def start(self) -> "Nginx":
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.process = subprocess.Popen(
            [ensure_nginx(), "-c", str(conf), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def receipts(self) -> dict[str, float]:
        """webhook-id → first arrival time (unix seconds)."""
        first: dict[str, float] = {}
        for line in self.log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) >= 2 and parts[1] != "-":
                first.setdefault(parts[1], float(parts[0]))
        return first

    def request_count(self) -> int:
        return sum(1 for _ in self.log.open())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class HangingServer:
    """Accepts connections and never answers: every request runs into the deadline."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)  # never accept(): the kernel completes handshakes for us
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self) -> None:
        self.sock.close()
