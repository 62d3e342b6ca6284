"""How a model's text answer becomes a validated output (graph.llm.parse_reply)."""

from __future__ import annotations

import pytest

from graph.llm import OutputParseError, parse_reply
from graph.schemas import AnalystReport

REPORT = '{"signal": "bullish", "score": 0.5, "confidence": 0.6, "summary": "up"}'


def test_reasoning_then_fenced_json() -> None:
    report, reasoning = parse_reply(
        f"Trend is up.\nMomentum too.\n```json\n{REPORT}\n```", AnalystReport
    )
    assert (report.signal, report.score, report.confidence) == ("bullish", 0.5, 0.6)
    assert reasoning == "Trend is up.\nMomentum too."


def test_the_last_json_block_wins_and_a_later_non_json_block_is_skipped() -> None:
    draft = REPORT.replace("bullish", "bearish").replace("0.5", "-0.5")
    text = f"Draft:\n```json\n{draft}\n```\nFinal:\n```\n{REPORT}\n```\nCode:\n```py\nx = 1\n```"
    report, reasoning = parse_reply(text, AnalystReport)
    assert report.signal == "bullish"
    assert reasoning.startswith("Draft:") and reasoning.endswith("Final:")


def test_unfenced_json_object() -> None:
    report, reasoning = parse_reply(f"Mood is fine. {REPORT}", AnalystReport)
    assert report.summary == "up" and reasoning == "Mood is fine."


def test_an_unclosed_fence_falls_back_to_the_outer_braces() -> None:
    report, _ = parse_reply(f"ok\n```json\n{REPORT}", AnalystReport)
    assert report.signal == "bullish"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I would rather not say.", "no JSON object"),
        ('```json\n{"signal": "bullish", "score": }\n```', "invalid JSON"),
        ('```json\n{"signal": "moon", "score": 0.5, "confidence": 0.6}\n```', "signal"),
        ('```json\n{"signal": "bullish", "score": 3, "confidence": 0.6}\n```', "score"),
    ],
)
def test_garbage_is_an_error_that_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(OutputParseError, match=message):
        parse_reply(text, AnalystReport)


def test_a_json_answer_gives_its_reasoning_field() -> None:
    text = '{"reasoning": "Up \\"trend\\".", "signal": "bullish", "score": 0.5, "confidence": 0.6}'
    report, reasoning = parse_reply(text, AnalystReport)
    assert report.signal == "bullish" and reasoning == 'Up "trend".'


def test_reasoning_tap_streams_the_reasoning_of_a_json_answer_piece_by_piece() -> None:
    from graph.llm_parse import ReasoningTap

    answer = '{\n  "reasoning": "Trend up;\\nRSI \\u00e9 \\"hot\\".", "signal": "bullish"}'
    tap = ReasoningTap()
    out = "".join(tap.feed(answer[i : i + 3]) for i in range(0, len(answer), 3))
    assert out == 'Trend up;\nRSI é "hot".'
    prose = ReasoningTap()
    assert prose.feed("  ") == "" and prose.feed("Plain words") == "  Plain words"


def test_answer_schema_puts_reasoning_first_and_bounds_every_text() -> None:
    from graph.schemas import TEXT_MAX_CHARS, answer_schema

    schema = answer_schema(AnalystReport)
    assert next(iter(schema["properties"])) == "reasoning"
    assert schema["required"][0] == "reasoning" and "source" not in schema["properties"]
    assert schema["properties"]["summary"]["maxLength"] == TEXT_MAX_CHARS
    assert schema["properties"]["key_points"]["items"]["maxLength"] == TEXT_MAX_CHARS
    assert schema["additionalProperties"] is False
