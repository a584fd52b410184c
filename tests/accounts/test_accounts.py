import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Account, ApiKey
from accounts.services import api_key_authenticate, api_key_revoke

pytestmark = pytest.mark.django_db


def test_create_account_prints_a_working_key_as_the_last_line(capsys):
    call_command("create_account", "globex")
    raw_key = capsys.readouterr().out.strip().splitlines()[-1]
    api_key = api_key_authenticate(raw_key=raw_key)
    assert api_key.account == Account.objects.get(name="globex")
    assert api_key.last_used_at is not None


def test_key_only_prints_just_the_key(capsys):
    call_command("create_account", "initech", "--key-only")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("fh_")


def test_no_api_key_is_stored_in_clear(capsys):
    call_command("create_account", "globex", "--key-only")
    raw_key = capsys.readouterr().out.strip()
    with connection.cursor() as cursor:
        cursor.execute("SELECT prefix, key_hash, name FROM accounts_apikey")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert raw_key not in stored and raw_key[10:] not in stored


def test_a_revoked_key_no_longer_authenticates(capsys):
    call_command("create_account", "globex", "--key-only")
    raw_key = capsys.readouterr().out.strip()
    api_key_revoke(api_key=ApiKey.objects.get())
    assert api_key_authenticate(raw_key=raw_key) is None
    assert api_key_authenticate(raw_key=raw_key + "x") is None
