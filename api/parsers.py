"""The API's JSON parser: DRF's, refusing with 400 what would crash a later step."""

import codecs

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from deliveries import payloads


class JSONParser(parsers.JSONParser):
    """JSON nested deeper than payloads.MAX_DEPTH is refused before it is parsed (nothing
    recurses into it), and text that is not Unicode (a lone surrogate) once it is."""

    def parse(self, stream, media_type=None, parser_context=None):
        _, params = parse_header_parameters(media_type or "")
        encoding = params.get("charset") or (parser_context or {}).get(
            "encoding", settings.DEFAULT_CHARSET
        )
        try:
            utf8 = codecs.lookup(encoding).name == "utf-8"
        except LookupError:
            utf8 = False
        if not utf8:  # JSON is UTF-8 (RFC 8259); a charset naming a codec is not text
            raise ParseError(f"JSON must be UTF-8, not {encoding[:40]!r}.")
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("The body is not valid UTF-8 text.") from exc
        if payloads.text_depth(text) > payloads.MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {payloads.MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        problem = payloads.problem(data)
        if problem:
            raise ParseError(f"JSON {problem}.")
        return data
