from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import account_create


class Command(BaseCommand):
    help = "Create an account and print a new API key as the last line of the output."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--key-only", action="store_true", help="print only the API key, for scripts"
        )

    def handle(self, *args, name: str, key_only: bool, **options):
        name = name.strip()
        if not name:
            raise CommandError("the account name may not be empty")
        if Account.objects.filter(name=name).exists():
            raise CommandError(f"an account named {name!r} already exists")
        account, raw_key = account_create(name=name)
        if not key_only:
            self.stdout.write(f"Created account {account.name!r} (id {account.pk}).")
            self.stdout.write("Its API key, shown only this once:")
        self.stdout.write(raw_key)
