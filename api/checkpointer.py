"""The API's LangGraph checkpointer: graph/checkpoint.py's saver, opened in the lifespan
(inside the running event loop, as the async Postgres saver requires) and probed by
`GET /api/ready`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from core.settings import Settings


async def open_checkpointer(stack: AsyncExitStack, settings: Settings) -> Any:
    from graph.checkpoint import open_checkpointer as open_desk_checkpointer

    return await stack.enter_async_context(open_desk_checkpointer(settings.database_url))


async def probe_checkpointer(checkpointer: Any) -> None:
    """Raise when the checkpointer cannot answer a read."""
    await checkpointer.aget_tuple({"configurable": {"thread_id": "__readiness_probe__"}})
