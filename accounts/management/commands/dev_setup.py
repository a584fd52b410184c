from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.models import Account
from accounts.services import account_create

USERNAME = PASSWORD = "admin"  # noqa: S105 - development only, printed on purpose


class Command(BaseCommand):
    help = "Development only: a superuser admin/admin and a 'demo' account (for `make run`)."

    def handle(self, *args, **options):
        user_model = get_user_model()
        if not user_model.objects.filter(username=USERNAME).exists():
            user_model.objects.create_superuser(USERNAME, "admin@localhost", PASSWORD)
        self.stdout.write(
            f"Dashboard: http://127.0.0.1:8000/admin/  user {USERNAME!r}, password {PASSWORD!r}"
        )
        if not Account.objects.filter(name="demo").exists():
            _, raw_key = account_create(name="demo")
            self.stdout.write(f"Account 'demo' created; its API key (shown once): {raw_key}")
        else:
            # Keys are stored hashed: the first run's key cannot be shown again.
            self.stdout.write(
                "Account 'demo' exists; its API key was printed by the first `make run`."
                " Lost it? Add one in the dashboard: http://127.0.0.1:8000/admin/accounts/apikey/add/"
            )
