"""Upload size limit (``IMPORT_MAX_BYTES``), enforced while the request body streams in.

This handler runs first in ``FILE_UPLOAD_HANDLERS``: it refuses a request whose declared length
is already over the limit before a byte is read, and otherwise counts every file's bytes as
they arrive and stops the upload at the chunk that crosses the limit, before the handlers
behind it (memory, temporary file) receive that chunk. So nothing past the limit is held in
memory or written to disk, and the view never stores the file (job_enqueue is not reached).
The API answers 413 ``request_too_large`` (apps.core.api.errors); other pages a plain 413.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse

# Room for the multipart framing and the small form fields sent beside the file.
FORM_OVERHEAD_BYTES = 64 * 1024


class UploadTooLarge(RequestDataTooBig):
    pass


def import_max_bytes() -> int:
    return int(settings.IMPORT_MAX_BYTES)


def _refuse(size: str) -> UploadTooLarge:
    limit = import_max_bytes()
    return UploadTooLarge(f"the upload is larger than {limit:,} bytes (IMPORT_MAX_BYTES){size}")


class LimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: str | None = None) -> None:
        if content_length and content_length > import_max_bytes() + FORM_OVERHEAD_BYTES:
            raise _refuse(f": {content_length:,} bytes sent")
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_bytes += len(raw_data)
        self.received = getattr(self, "received", 0) + len(raw_data)
        if self.file_bytes > import_max_bytes() or self.received > import_max_bytes():
            raise _refuse("")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file


def too_large_response(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "request_too_large", "detail": str(exception), "errors": []}, status=413)
    return HttpResponse(str(exception), status=413, content_type="text/plain; charset=utf-8")


class UploadTooLargeMiddleware:
    """A multipart body whose declared length is over the limit is answered 413 before anything
    reads it (the CSRF check would otherwise parse it first, and Django answers its size
    error with a generic 400); an upload that crosses the limit while streaming in a view is
    answered 413 as well. Runs before CsrfViewMiddleware."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > import_max_bytes() + FORM_OVERHEAD_BYTES:
                return too_large_response(request, _refuse(f": {declared:,} bytes sent"))
        return self.get_response(request)  # type: ignore[no-any-return]

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return too_large_response(request, exception) if isinstance(exception, UploadTooLarge) else None
