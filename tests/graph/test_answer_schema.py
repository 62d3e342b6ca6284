"""The answer schemas models fill: every bound in a form a grammar enforces (llama.cpp's
json_schema → grammar ignores minimum/maximum on a `number`), every value the schema allows
valid for the output model, and system prompts that describe the fields in words."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from graph.agents import researcher, risk_manager, technical, trader
from graph.agents.base import field_guide
from graph.schemas import (
    POSITIVE_NUMBER_PATTERN,
    AnalystReport,
    ResearchThesis,
    RiskReview,
    TradeProposal,
    answer_schema,
    fraction_grid,
)

SCHEMAS: list[type[BaseModel]] = [AnalystReport, ResearchThesis, TradeProposal, RiskReview]


def test_fraction_grid_is_exact_decimals() -> None:
    assert fraction_grid(-1, 1) == [round(-1 + i / 10, 1) for i in range(21)]
    assert fraction_grid(0, 1)[3] == 0.3  # not 0.30000000000000004


def test_bounded_numbers_become_enums_or_bounded_integers() -> None:
    report = answer_schema(AnalystReport)["properties"]
    assert report["score"]["enum"] == fraction_grid(-1, 1)
    assert report["confidence"]["enum"] == fraction_grid(0, 1)
    assert answer_schema(ResearchThesis)["properties"]["conviction"]["enum"] == fraction_grid(0, 1)
    for schema in (TradeProposal, RiskReview):
        size = answer_schema(schema)["properties"]["size_pct"]
        assert size == {"maximum": 100, "minimum": 0, "type": "integer"}
    stop = answer_schema(TradeProposal)["properties"]["stop_loss"]
    assert stop["anyOf"] == [
        {"type": "string", "pattern": POSITIVE_NUMBER_PATTERN},
        {"type": "null"},
    ]


@pytest.mark.parametrize(
    "price", ["0.000001234", "0.0003", "0.5", "7", "100", "64250.5", "64250.12345678"]
)
def test_a_price_the_pattern_allows_is_that_price(price: str) -> None:
    assert re.fullmatch(POSITIVE_NUMBER_PATTERN, price)
    proposal = TradeProposal.model_validate({"action": "buy", "size_pct": 5, "stop_loss": price})
    assert proposal.stop_loss == float(price)


@pytest.mark.parametrize("price", ["0", "0.0", "-1.0", "01.5", "1e5", "", "1.", "price"])
def test_the_pattern_refuses_what_is_not_a_positive_price(price: str) -> None:
    assert not re.fullmatch(POSITIVE_NUMBER_PATTERN, price)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_grid_value_is_valid_for_the_output(schema: type[BaseModel]) -> None:
    base = {
        AnalystReport: {"signal": "neutral", "score": 0, "confidence": 0},
        ResearchThesis: {"direction": "neutral", "conviction": 0},
        TradeProposal: {"action": "hold", "size_pct": 0},
        RiskReview: {"verdict": "reject", "size_pct": 0},
    }[schema]
    for name, prop in answer_schema(schema)["properties"].items():
        values = prop.get("enum") if prop.get("type") == "number" else None
        if prop.get("type") == "integer":
            values = [prop["minimum"], prop["maximum"]]
        for value in values or ():
            schema.model_validate({**base, name: value})
        if prop.get("type") == "integer":
            with pytest.raises(ValidationError):
                schema.model_validate({**base, name: prop["maximum"] + 1})


def test_enums_are_case_insensitive_but_never_guessed() -> None:
    report = AnalystReport.model_validate({"signal": " Bullish", "score": 0.2, "confidence": 0.4})
    assert report.signal == "bullish"
    assert TradeProposal.model_validate({"action": "HOLD", "size_pct": 0}).action == "hold"
    assert RiskReview.model_validate({"verdict": "Reject", "size_pct": 0}).verdict == "reject"
    with pytest.raises(ValidationError):
        AnalystReport.model_validate({"signal": "bull", "score": 0.2, "confidence": 0.4})
    with pytest.raises(ValidationError):
        AnalystReport.model_validate({"signal": "bullish", "score": 0.2, "confidence": -1})


def test_system_prompts_describe_the_fields_in_order_without_schema_numbers() -> None:
    guide = field_guide(TradeProposal)
    names = [line.split(":", 1)[0].strip('"') for line in guide.splitlines()]
    assert names == list(answer_schema(TradeProposal)["properties"])
    assert '"size_pct": a whole number from 0 to 100' in guide
    assert '"stop_loss": a price above 0 in quotes or null' in guide
    assert "from -1 to 1 in steps of 0.1" in field_guide(AnalystReport)
    for module in (technical, researcher, trader, risk_manager):
        assert field_guide_of(module.SYSTEM)
        assert "minimum" not in module.SYSTEM and "{" not in module.SYSTEM


def field_guide_of(system: str) -> str:
    return system.split("in this order:\n", 1)[1]
