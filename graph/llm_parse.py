"""From a model's answer to a validated output: the JSON answer (reasoning first) or, for
prompt-and-parse providers, the last JSON object in the text; and `ReasoningTap`, which picks
the `reasoning` field's text out of a JSON answer while it streams."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pydantic import BaseModel, ValidationError


class OutputParseError(ValueError):
    pass


def _last_fenced_object(text: str) -> tuple[str, int] | None:
    """The body of the last ```-fenced block holding a JSON object, and where its fence opens.
    (Adjacent fence pairs are tried from the end: a later fenced non-JSON block is skipped.)"""
    end = text.rfind("```")
    while end > 0:
        start = text.rfind("```", 0, end)
        if start < 0:
            return None
        body = text[start + 3 : end]
        body = (body[4:] if body.startswith("json") else body).strip()
        if body.startswith("{") and body.endswith("}"):
            return body, start
        end = start
    return None


def validate_answer[T: BaseModel](args: dict[str, Any], schema: type[T]) -> tuple[T, str]:
    """A decoded answer (tool-call arguments or a JSON object) → (output, its reasoning)."""
    args = dict(args)
    reasoning = args.pop("reasoning", "")
    try:
        parsed = schema.model_validate(args)
    except ValidationError as exc:
        raise OutputParseError(str(exc).replace("\n", "; ")) from exc
    return parsed, reasoning if isinstance(reasoning, str) else str(reasoning)


def parse_reply[T: BaseModel](text: str, schema: type[T]) -> tuple[T, str]:
    """The answer in `text` validated against `schema`, plus its reasoning: the JSON object's
    `reasoning` field, else the prose before the JSON. The JSON is the whole text (structured
    output), else the last fenced JSON block, else the outermost {...}."""
    stripped = text.strip()
    fenced = None if stripped.startswith("{") else _last_fenced_object(text)
    if fenced is not None:
        raw, start = fenced
    else:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise OutputParseError("no JSON object found in the reply")
        raw = text[start : end + 1]
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"invalid JSON: {exc.msg} at char {exc.pos}") from exc
    if not isinstance(decoded, dict):
        raise OutputParseError("the JSON answer is not an object")
    parsed, reasoning = validate_answer(decoded, schema)
    return parsed, reasoning or text[:start].strip()


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_KEY = '"reasoning"'


class ReasoningTap:
    """Fed a streamed answer piece by piece, returns the new text of its reasoning: prose as
    it comes, or, for a JSON answer, the decoded `reasoning` string value as it grows."""

    def __init__(self) -> None:
        self._mode: str | None = None  # "prose" | "json"
        self._buf = ""
        self._pos = 0  # next character of _buf to look at (json mode)
        self._state = "key"  # key → colon → open → string → done
        self._escape = ""

    def feed(self, piece: str) -> str:
        if not piece:
            return ""
        if self._mode is None:
            head = (self._buf + piece).lstrip()
            if not head:
                self._buf += piece
                return ""
            self._mode = "json" if head[0] in "{[" else "prose"
            if self._mode == "prose":
                piece, self._buf = self._buf + piece, ""
        if self._mode == "prose":
            return piece
        self._buf += piece
        return self._scan()

    def _scan(self) -> str:
        out: list[str] = []
        buf = self._buf
        while self._pos < len(buf) and self._state != "done":
            if self._state == "key":
                found = buf.find(_KEY, self._pos)
                if found < 0:
                    self._pos = max(self._pos, len(buf) - len(_KEY))
                    break
                self._pos, self._state = found + len(_KEY), "colon"
            elif self._state in ("colon", "open"):
                char = buf[self._pos]
                self._pos += 1
                if char.isspace():
                    continue
                if self._state == "colon" and char == ":":
                    self._state = "open"
                elif self._state == "open" and char == '"':
                    self._state = "string"
                else:
                    self._state = "done"  # not a string value: nothing to stream
            else:  # inside the string
                char = buf[self._pos]
                if self._escape:
                    self._escape += char
                    if self._escape[1] == "u":
                        if len(self._escape) < 6:
                            self._pos += 1
                            continue
                        with contextlib.suppress(ValueError):
                            out.append(chr(int(self._escape[2:], 16)))
                    else:
                        out.append(_ESCAPES.get(char, char))
                    self._escape = ""
                elif char == "\\":
                    self._escape = "\\"
                elif char == '"':
                    self._state = "done"
                else:
                    out.append(char)
                self._pos += 1
        return "".join(out)
