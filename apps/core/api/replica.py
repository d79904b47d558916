"""Views whose handlers read from the replica (apps.core.replica) once the request is
authenticated: authentication, permissions and throttles run first, on the primary and the
shared cache, so a revoked key is refused at once whatever the replica's lag."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import replica
from apps.core.errors import NotFound, ValidationFailed


class ReplicaReadsMixin:
    """Put first among the bases of an APIView. A 404 or 400 answered from the replica (a release
    published a moment ago, whose generation the cache has not heard of yet) is asked again of
    the primary, so a published release is never missing."""

    _replica_token: Any = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._replica_token = replica.replica_enter()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotFound | ValidationFailed) and replica.reading_from_replica():
            with replica.primary_reads():
                handler = getattr(self, self.request.method.lower())  # type: ignore[attr-defined]
                try:
                    response: Response = handler(self.request, *self.args, **self.kwargs)  # type: ignore[attr-defined]
                    replica.primary_generation_forget()
                    return response
                except Exception as again:  # noqa: BLE001 - answered as the primary would
                    exc = again
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if self._replica_token is not None:
            replica.replica_exit(self._replica_token)
            self._replica_token = None
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
