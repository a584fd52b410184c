"""The production command serves the dashboard's styles: gunicorn with DEBUG=0, after
collectstatic, with WhiteNoise's compressed, content-hashed files."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_gunicorn_with_debug_off_serves_the_admin_stylesheet(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "FLEXHOOKS_STATIC_ROOT": str(tmp_path / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("FLEXHOOKS_STATIC_STORAGE", None)  # production's storage, not the suite's
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "flexhooks.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, _, page = _get(f"{base}/admin/login/")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(server.stderr.read1().decode() if server.poll() else "no answer")
        assert status == 200
        stylesheets = re.findall(rb'href="(/static/[^"]+\.css)"', page)
        base_css = next(s.decode() for s in stylesheets if b"admin/css/base." in s)
        assert re.search(r"base\.[0-9a-f]{12}\.css$", base_css), base_css  # cache-busted
        status, headers, _body = _get(base + base_css, **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        assert headers.get("Content-Encoding") == "gzip"
        assert "immutable" in headers["Cache-Control"]
        # The API docs' Swagger UI comes from the same static files.
        status, _, docs = _get(f"{base}/api/v1/docs/")
        bundle = re.search(rb'src="(/static/[^"]+swagger-ui-bundle[^"]*\.js)"', docs)
        assert status == 200 and bundle, docs[:500]
        assert _get(base + bundle.group(1).decode())[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
