"""Unit tests of the simulated broker's rules (rounding, fees, rejections, exits)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from tools.broker import (
    FALLBACK_RULES,
    Bar,
    BrokerConfig,
    OrderRejected,
    SimulatedBroker,
    SymbolRules,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def broker() -> SimulatedBroker:
    return SimulatedBroker(BrokerConfig(fee_rate=D("0.001"), slippage_bps=D(5)))


def test_symbol_rules_binance_like() -> None:
    cfg = BrokerConfig()
    assert cfg.rules_for("BTCUSDT").step_size == D("0.00001")
    assert cfg.rules_for("ethusdt").step_size == D("0.0001")
    assert cfg.rules_for("BTCUSDT").min_notional == D(5)
    assert cfg.rules_for("DOGEUSDT") == FALLBACK_RULES


def test_symbol_rules_must_fit_the_ledger_scale() -> None:
    with pytest.raises(ValidationError, match="step_size/tick_size"):
        SymbolRules(step_size=D("0.000001"), tick_size=D("0.000001"), min_notional=D(5))


def test_fill_price_rounds_against_the_taker_on_the_tick(broker: SimulatedBroker) -> None:
    # 12345.67 × 1.0005 = 12351.842835 → buy pays 12351.85; × 0.9995 = 12339.497165 → 12339.49
    assert broker.fill_price("BTCUSDT", "buy", D("12345.67")) == D("12351.85")
    assert broker.fill_price("BTCUSDT", "sell", D("12345.67")) == D("12339.49")


def test_fee_rounds_up_to_the_money_scale() -> None:
    broker = SimulatedBroker(BrokerConfig(fee_rate=D("0.00075")))
    assert broker.fee_for(D("0.00000000013")) == D("1E-10")


def test_size_buy_never_exceeds_budget(broker: SimulatedBroker) -> None:
    for budget in (D("5"), D("123.45"), D("1000"), D("9999.99")):
        qty = broker.size_buy(budget, D("43567.89"), symbol="BTCUSDT")
        price = broker.fill_price("BTCUSDT", "buy", D("43567.89"))
        assert qty * price + broker.fee_for(qty * price) <= budget
        # one more step would not fit
        more = qty + D("0.00001")
        assert more * price + broker.fee_for(more * price) > budget


def test_size_buy_returns_zero_when_nothing_fits(broker: SimulatedBroker) -> None:
    assert broker.size_buy(D("0.1"), D("100000"), symbol="BTCUSDT") == 0


def test_size_buy_requires_the_symbol(broker: SimulatedBroker) -> None:
    with pytest.raises(TypeError):
        broker.size_buy(D(100), D(100))  # type: ignore[call-arg]


def test_float_amounts_are_refused(broker: SimulatedBroker) -> None:
    with pytest.raises(TypeError, match="quantity"):
        broker.market_fill("BTCUSDT", "buy", 0.01, D(100000), at=AT, client_order_id="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="quote_budget"):
        broker.size_buy(100.0, D(100), symbol="BTCUSDT")  # type: ignore[arg-type]


def test_below_one_step_is_rejected(broker: SimulatedBroker) -> None:
    with pytest.raises(OrderRejected, match="below one step"):
        broker.market_fill("BTCUSDT", "buy", D("0.000009"), D(100000), at=AT, client_order_id="x")


def test_closing_sell_is_exempt_from_min_notional(broker: SimulatedBroker) -> None:
    with pytest.raises(OrderRejected, match="minimum"):
        broker.market_fill("BTCUSDT", "sell", D("0.00004"), D(100000), at=AT, client_order_id="x")
    fill = broker.market_fill(
        "BTCUSDT", "sell", D("0.00004"), D(100000), at=AT, client_order_id="x", closes_position=True
    )
    assert fill.quantity == D("0.00004")
    assert fill.price == D("99950")


def test_bar_validates_its_range() -> None:
    with pytest.raises(ValidationError, match="high"):
        Bar(open=D(10), high=D(9), low=D(8), close=D(9))
    with pytest.raises(ValidationError, match="low"):
        Bar(open=D(10), high=D(12), low=D(11), close=D(11))


def test_bar_from_floats_is_the_shortest_decimal() -> None:
    bar = Bar.from_floats(0.1, 0.3, 0.1, 0.2)
    assert bar.open == D("0.1") and bar.high == D("0.3")


@pytest.mark.parametrize(
    ("stop", "tp", "bar", "expected"),
    [
        (D(95), D(110), (D(100), D(105), D(96), D(101)), None),
        (D(95), None, (D(100), D(105), D(95), D(101)), ("stop_loss", D(95), False)),
        (None, D(110), (D(100), D(110), D(99), D(101)), ("take_profit", D(110), False)),
        (D(95), D(110), (D(100), D(111), D(94), D(101)), ("stop_loss", D(95), False)),
        (D(95), D(110), (D(95), D(111), D(94), D(101)), ("stop_loss", D(95), True)),
        (D(95), D(110), (D(90), D(111), D(89), D(101)), ("stop_loss", D(90), True)),
        (D(95), D(110), (D(115), D(116), D(94), D(101)), ("take_profit", D(115), True)),
        (None, None, (D(100), D(200), D(1), D(100)), None),
    ],
)
def test_check_exit(
    stop: D | None, tp: D | None, bar: tuple[D, D, D, D], expected: tuple[str, D, bool] | None
) -> None:
    o, h, low, c = bar
    signal = SimulatedBroker.check_exit(stop, tp, Bar(open=o, high=h, low=low, close=c))
    if expected is None:
        assert signal is None
    else:
        assert signal is not None
        assert (signal.reason, signal.price, signal.gapped) == expected
