"""Bearer tokens for every user the demo acts as, signed with the API's own settings."""

from __future__ import annotations

from datetime import timedelta

from missions.contracts import Role
from missions.settings import Settings
from missions.tokens import mint_token

OPS_USER_ID = "ops-demo"
# Long enough to outlast a run, including its bounded waits.
TOKEN_TTL = timedelta(hours=2)


class TokenBook:
    """Mints one token per user and role on first use and reuses it afterwards."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tokens: dict[tuple[str, Role], str] = {}

    def get(self, user_id: str, role: Role) -> str:
        key = (user_id, role)
        if key not in self._tokens:
            self._tokens[key] = mint_token(self._settings, user_id, role, ttl=TOKEN_TTL)
        return self._tokens[key]

    def ops(self) -> str:
        return self.get(OPS_USER_ID, Role.OPS)
