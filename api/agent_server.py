"""What the API adds to the LangGraph Agent Server (`langgraph.json` → `http.app`) besides its
routes: a guard on commands that LangGraph would silently ignore.

- LangGraph accepts `Command(resume=...)` on a thread that is not interrupted and does nothing
  (the run "succeeds"); a chat client that resumes twice, or resumes the wrong thread, would
  never learn. Answered 409 naming `command.resume`.
- `Command(goto=END)` without a resume on a thread waiting for an approval (Agent Chat UI's
  "Mark as Resolved") is ignored by LangGraph: the approval stays pending and nothing tells the
  user. Answered 422 naming `command.goto`: approve or reject with `command.resume`.

The Agent Server applies this app's middleware to all its routes, so the guard sees the
run-creating requests (`POST /threads/{id}/runs`, `/runs/stream`, `/runs/wait`) and answers
before any run starts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_RUN_PATH = re.compile(r"^(?:/noauth)?/threads/(?P<thread>[^/]+)/runs(?:/stream|/wait)?$")


async def thread_is_interrupted(thread_id: str) -> bool | None:
    """Ask the server itself (in-process SDK client); None: no such thread."""
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError

    client = get_client(url=None, api_key=None)
    try:
        thread: Any = await client.threads.get(thread_id)
    except NotFoundError:
        return None
    return thread.get("status") == "interrupted" or bool(thread.get("interrupts"))


class ResumeGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _RUN_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in chunks)
        refusal = await _refusal(body, match["thread"])
        if refusal is not None:
            status, detail = refusal
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            return

        replay = iter(chunks)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


async def _refusal(body: bytes, thread_id: str) -> tuple[int, str] | None:
    """(status, detail) for a command LangGraph would ignore on this thread; None: let it run."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None  # the server's own validation answers malformed bodies
    command = payload.get("command") if isinstance(payload, dict) else None
    if not isinstance(command, dict):
        return None
    if command.get("resume") is not None:
        if await thread_is_interrupted(thread_id) is False:
            return 409, (
                f"command.resume: thread {thread_id} has no pending interrupt "
                "(nothing awaits approval); start a new turn instead"
            )
        return None
    if command.get("goto") is not None and await thread_is_interrupted(thread_id):
        return 422, (
            f"command.goto: thread {thread_id} waits for an approval, which a goto does not "
            "answer; send command.resume {'decisions': [{'type': 'approve'}]} or "
            "{'decisions': [{'type': 'reject', 'message': ...}]}"
        )
    return None
