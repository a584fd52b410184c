import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from deliveries import payloads
from deliveries.services import PayloadTooLargeError, event_emit


class Command(BaseCommand):
    help = "Emit an event for an account and print its id."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the account's name")
        parser.add_argument("--idempotency-key", default=None)
        parser.add_argument("event_type", help="e.g. invoice.created")
        parser.add_argument("object", help="the event object, as JSON")

    def handle(self, *args, account, event_type, object, idempotency_key, **options):
        if payloads.text_depth(object) > payloads.MAX_DEPTH:
            raise CommandError(f"the object is nested deeper than {payloads.MAX_DEPTH} levels")
        try:
            data = json.loads(object)
        except json.JSONDecodeError as exc:
            raise CommandError(f"the object is not valid JSON: {exc}") from exc
        tenant = Account.objects.filter(name=account).first()
        if tenant is None:
            raise CommandError(f"no account named {account!r}")
        try:
            result = event_emit(
                account=tenant, event_type=event_type, data=data, idempotency_key=idempotency_key
            )
        except ValidationError as exc:
            raise CommandError("; ".join(_messages(exc))) from exc
        except PayloadTooLargeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.event.id)


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items()]
    return error.messages
