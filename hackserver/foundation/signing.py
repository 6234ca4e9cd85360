"""Signing with the server's secret (HACKSERVER_SECRET_KEY, or one generated and stored on first
run): private links' tokens, and the addresses people open them at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from itsdangerous import URLSafeSerializer

if TYPE_CHECKING:
    from hackserver.foundation.models import Link

Scope = Literal["expert", "book", "submit", "jury"]


@dataclass(frozen=True)
class Signer:
    """Signs and reads tokens with the server's secret, and writes links as people open them."""

    secret: str = field(repr=False)  # never in a log line that shows a runtime or a transaction
    public_url: str | None = None  # HACKSERVER_PUBLIC_URL

    def serializer(self, scope: Scope) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=f"link:{scope}")

    def token_of(self, link: Link) -> str:
        return self.serializer(link.scope).dumps(link.id)  # type: ignore[arg-type]

    def address(self, scope: Scope, token: str) -> str:
        """The link as participants open it: absolute when HACKSERVER_PUBLIC_URL is set."""
        return f"{self.public_url or ''}/{scope}/{token}"
