"""The HTTP calls the demo makes, one method per API route it uses."""

from __future__ import annotations

from typing import Any

import httpx

JsonObject = dict[str, Any]


class ApiError(Exception):
    """A non-2xx response, carrying the API's `{code, message, details}` error body."""

    def __init__(self, status: int, code: str, message: str, details: JsonObject) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class MissionsApi:
    """Calls the missions HTTP API with the bearer token of the user acting."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def is_ready(self) -> bool:
        """Return whether `/readyz` returns 200, and False when nothing listens."""
        try:
            response = await self._http.get("/readyz")
        except httpx.TransportError:
            return False
        return response.status_code == httpx.codes.OK

    async def put_provider(self, token: str, provider_id: str, profile: JsonObject) -> JsonObject:
        return await self._send("PUT", f"/providers/{provider_id}", token, profile)

    async def create_mission(self, token: str, body: JsonObject) -> JsonObject:
        return await self._send("POST", "/missions", token, body)

    async def get_mission(self, token: str, mission_id: str) -> JsonObject:
        return await self._send("GET", f"/missions/{mission_id}", token)

    async def command(
        self, token: str, mission_id: str, path: str, body: JsonObject | None = None
    ) -> JsonObject:
        """POST a command to `/missions/{mission_id}/{path}`."""
        return await self._send("POST", f"/missions/{mission_id}/{path}", token, body or {})

    async def _send(
        self, method: str, path: str, token: str, body: JsonObject | None = None
    ) -> JsonObject:
        response = await self._http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.is_success:
            payload = response.json()
            return payload if isinstance(payload, dict) else {"items": payload}
        raise _api_error(response)


def describe_transport_error(error: httpx.HTTPError) -> str:
    """Describe a request that got no usable response, naming the URL."""
    where = f" ({error.request.method} {error.request.url})" if _has_request(error) else ""
    if isinstance(error, httpx.TimeoutException):
        return f"no response from the API in time{where}: {type(error).__name__}"
    return f"{type(error).__name__}{where}: {error}"


def _has_request(error: httpx.HTTPError) -> bool:
    try:
        error.request  # noqa: B018 - the property raises when no request is attached
    except RuntimeError:
        return False
    return True


def _api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        reason = response.reason_phrase or "error"
        return ApiError(response.status_code, "http_error", f"{reason}: {response.text[:200]}", {})
    details = body.get("details")
    return ApiError(
        response.status_code,
        str(body.get("code", "http_error")),
        str(body.get("message", response.reason_phrase)),
        details if isinstance(details, dict) else {},
    )
