"""With DEBUG off, start-up refuses insecure defaults; with FLEXHOOKS_TLS=1 Django's own
deployment check passes."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)
FERNET_KEY = Fernet.generate_key().decode()


def _run(*command: str, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLEXHOOKS_", "DATABASE", "SECRET_KEY", "DEBUG"))
    }
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "flexhooks.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _setup(**env) -> subprocess.CompletedProcess:
    return _run("-c", "import django; django.setup(); print('started')", **env)


@pytest.mark.parametrize(
    "secret_key",
    [
        None,
        "django-insecure-flexhooks-development-key",
        "short-but-set",
        "a" * 60,
        "django-insecure-" + "x" * 60,
    ],
    ids=["missing", "the development key", "short", "one character", "django-insecure"],
)
def test_production_refuses_a_weak_secret_key(secret_key):
    env = {"FLEXHOOKS_ENCRYPTION_KEYS": FERNET_KEY}
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    result = _setup(DEBUG="0", **env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_to_run_without_encryption_keys():
    result = _setup(DEBUG="0", SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0 and "FLEXHOOKS_ENCRYPTION_KEYS" in result.stderr
    assert (
        _setup(DEBUG="0", SECRET_KEY=STRONG_KEY, FLEXHOOKS_ENCRYPTION_KEYS=FERNET_KEY).returncode
        == 0
    )


def test_manage_py_check_fails_too_and_development_needs_nothing():
    result = _run("manage.py", "check", DEBUG="0")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
    assert _run("manage.py", "check", DEBUG="1").returncode == 0  # make run sets nothing else


def test_build_commands_need_no_secrets_and_serving_commands_still_refuse():
    # a fresh checkout's migrations check and an image build's collectstatic sign nothing
    result = _run("manage.py", "makemigrations", "--check", "--dry-run", DEBUG="0")
    assert result.returncode == 0, result.stderr[-500:]
    for command in (["migrate", "--plan"], ["check"]):
        refused = _run("manage.py", *command, DEBUG="0")
        assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr, command


def test_the_deployment_check_passes_with_tls_and_warns_without():
    production = {
        "DEBUG": "0",
        "SECRET_KEY": STRONG_KEY,
        "FLEXHOOKS_ENCRYPTION_KEYS": FERNET_KEY,
        "ALLOWED_HOSTS": "hooks.example.com",
    }
    check = ("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    passed = _run(*check, FLEXHOOKS_TLS="1", **production)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    warned = _run(*check, **production)
    assert warned.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in warned.stderr + warned.stdout
