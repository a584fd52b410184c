"""docker-compose.yml cannot run here (no Docker engine); check what can be checked."""

import re
from pathlib import Path

import yaml

from flexhooks import settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_every_service_of_a_production_stack():
    assert set(_compose()["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_every_app_command_exists_in_the_project():
    services = _compose()["services"]
    assert services["migrate"]["command"][:2] == ["python", "manage.py"]
    assert (ROOT / "manage.py").exists()
    assert services["web"]["command"][:2] == ["gunicorn", "flexhooks.wsgi"]
    assert (ROOT / "flexhooks" / "wsgi.py").exists()
    for name in ("worker", "beat"):
        assert services[name]["command"][:3] == ["celery", "-A", "flexhooks"]
    queues = services["worker"]["command"][services["worker"]["command"].index("-Q") + 1]
    assert set(queues.split(",")) == {q.name for q in settings.CELERY_TASK_QUEUES}


def test_every_variable_set_is_one_the_settings_read():
    source = (ROOT / "flexhooks" / "settings.py").read_text()
    read = set(re.findall(r'"([A-Z_]+)"', source))
    compose_env = set(_compose()["services"]["web"]["environment"])
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert compose_env <= read
    assert example <= read, example - read
