"""A minimal SSE client parser (tests and the benchmark read the API's streams with it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pydantic import BaseModel


class ReceivedEvent(BaseModel):
    id: int | None
    event: str
    data: dict[str, Any]


class _Builder:
    def __init__(self) -> None:
        self.id: str | None = None
        self.event = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> ReceivedEvent | None:
        """Feed one line (without its newline); returns an event at each blank line."""
        if line == "":
            if not self.data:
                self.event = "message"
                return None
            event = ReceivedEvent(
                id=int(self.id) if self.id is not None else None,
                event=self.event,
                data=json.loads("\n".join(self.data)),
            )
            self.event, self.data = "message", []
            return event
        if line.startswith(":"):
            return None  # a comment: the server's heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            self.id = value
        elif name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        return None


def parse_sse_lines(lines: Iterator[str]) -> Iterator[ReceivedEvent]:
    builder = _Builder()
    for line in lines:
        event = builder.feed(line.rstrip("\r"))
        if event is not None:
            yield event


async def aparse_sse_lines(lines: AsyncIterator[str]) -> AsyncIterator[ReceivedEvent]:
    builder = _Builder()
    async for line in lines:
        event = builder.feed(line.rstrip("\r"))
        if event is not None:
            yield event


class SseHeads:
    """(id, event name) of each event in an SSE byte stream fed in chunks, the data left
    undecoded: a load generator must cost much less than the server it measures (decoding
    every event's JSON made the 50-stream benchmark's client busier than both API processes)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[int | None, str]]:
        buffer = (self._buffer + chunk).replace(b"\r\n", b"\n")  # a "\r" at the end pairs later
        *frames, self._buffer = buffer.split(b"\n\n")
        heads = []
        for frame in frames:
            seq: int | None = None
            name, has_data = "message", False
            for line in frame.split(b"\n"):
                if line.startswith(b"id:"):
                    seq = int(line[3:])
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode()
                elif line.startswith(b"data:"):
                    has_data = True
            if has_data:  # a frame of comments only is a heartbeat
                heads.append((seq, name))
        return heads
