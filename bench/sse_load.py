"""The benchmark's SSE load generator: one HTTP/1.1 connection per stream on asyncio streams,
responses parsed by httptools (the C parser uvicorn itself uses), events read by id and name
(`api.sse_client.SseHeads`).

Why not httpx, which the tests use: measured here, one httpx client reading 50 streams spent
4-5 ms of CPU per stream, as much as the API process spends serving one, on the same two
cores — the client's own queueing was being measured as the server's latency. This client
spends about 2 ms per stream (0.09–0.11 s per 50 streams in the same measurement).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httptools

from api.sse_client import SseHeads


class _Response:
    """httptools callbacks: the status once the head is parsed, body chunks as they come."""

    def __init__(self) -> None:
        self.head_done = False
        self.complete = False
        self.body: list[bytes] = []

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


async def read_stream(base: str, path: str) -> tuple[float, list[tuple[int | None, str]], int]:
    """GET `path` on `base` as an SSE client and read the stream to its end: (ms from the
    request to the first event, every event's (id, name), HTTP status)."""
    url = urlsplit(base)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        heads = SseHeads()
        events: list[tuple[int | None, str]] = []
        first = 0.0
        while not response.complete:
            data = await reader.read(65536)
            if not data:
                break
            parser.feed_data(data)
            for chunk in response.body:
                events.extend(heads.feed(chunk))
            response.body.clear()
            if events and not first:
                first = (time.perf_counter() - started) * 1000
        status = parser.get_status_code() if response.head_done else 0
        return first, events, status
    finally:
        writer.close()
