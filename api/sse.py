"""SSE relay of a run's events: `event:` = type, `id:` = seq, `data:` = the event as JSON.

Resuming: the browser's EventSource resends the last `id:` it saw as `Last-Event-ID`; the
`after` query parameter does the same for clients that cannot set headers on first connect.
"""

from __future__ import annotations

from typing import Any

from sse_starlette import EventSourceResponse

from api.errors import ErrorResponse, NotFoundError, UnprocessableError
from api.run_manager import RunManager

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "text/event-stream of run events: `event:` is the event `type`, `id:` the per-run "
            "sequence number, `data:` one `RunEvent` as JSON; heartbeats are comments. "
            "The stream ends after the run's task ends (`run_finished`)."
        ),
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/RunEvent"}}},
    },
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def resume_point(last_event_id: str | None, after: int | None) -> int:
    """The seq to resume after: `Last-Event-ID` wins over `after`; 0 = from the start."""
    if last_event_id is not None and last_event_id.strip() != "":
        try:
            value = int(last_event_id)
        except ValueError:
            raise UnprocessableError("Last-Event-ID", "must be an integer event id") from None
        if value < 0:
            raise UnprocessableError("Last-Event-ID", "must be >= 0")
        return value
    return after or 0


async def event_stream(
    manager: RunManager,
    run_id: str,
    kind: str,
    label: str,
    after_seq: int,
    *,
    ping_seconds: float,
) -> EventSourceResponse:
    """The relay of run `run_id` of `kind` after `after_seq` (`api.relays`); 404 naming it as
    `label` when there is no such run — checked by the relay's own first read."""
    relay = await manager.relay(run_id, kind, after_seq)
    if relay is None:
        raise NotFoundError(label, run_id)
    return EventSourceResponse(relay, ping=ping_seconds)
