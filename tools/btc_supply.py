"""BTC supply at a moment, from the issuance schedule (deterministic since 2009).

The subsidy is 50 BTC per block, halved every 210,000 blocks (integer satoshis, as consensus
computes it). Only the block height at a wall-clock time is not a formula: it is interpolated
between known blocks (genesis, the halvings and a few round heights) and extrapolated at the
target 144 blocks a day after the last one, so the supply is an estimate within a few
thousand blocks' subsidy — labelled as such by the caller.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime

HALVING_INTERVAL = 210_000
INITIAL_SUBSIDY_SAT = 50 * 100_000_000
BLOCKS_PER_DAY = 144
SATOSHI = 100_000_000

# (UTC time, height) of blocks whose timestamps are public record.
ANCHORS: tuple[tuple[datetime, int], ...] = (
    (datetime(2009, 1, 3, 18, 15, 5, tzinfo=UTC), 0),
    (datetime(2012, 11, 28, 15, 24, 38, tzinfo=UTC), 210_000),
    (datetime(2016, 7, 9, 16, 46, 13, tzinfo=UTC), 420_000),
    (datetime(2017, 12, 18, 17, 0, 0, tzinfo=UTC), 500_000),
    (datetime(2019, 10, 19, 0, 0, 0, tzinfo=UTC), 600_000),
    (datetime(2020, 5, 11, 19, 23, 43, tzinfo=UTC), 630_000),
    (datetime(2021, 9, 11, 4, 0, 0, tzinfo=UTC), 700_000),
    (datetime(2023, 7, 24, 3, 0, 0, tzinfo=UTC), 800_000),
    (datetime(2024, 4, 20, 0, 9, 27, tzinfo=UTC), 840_000),
)
_TIMES = [t.timestamp() for t, _ in ANCHORS]


def subsidy_sat(height: int) -> int:
    era = height // HALVING_INTERVAL
    return INITIAL_SUBSIDY_SAT >> era if era < 64 else 0


def supply_sat(height: int) -> int:
    """Satoshis issued by blocks 0..height inclusive (the genesis subsidy counted, as every
    published circulating-supply figure does)."""
    total, era = 0, 0
    blocks_left = height + 1
    while blocks_left > 0 and era < 64:
        in_era = min(blocks_left, HALVING_INTERVAL)
        total += in_era * (INITIAL_SUBSIDY_SAT >> era)
        blocks_left -= in_era
        era += 1
    return total


def estimated_height(at: datetime) -> int:
    ts = at.timestamp()
    if ts < _TIMES[0]:
        raise ValueError(f"{at:%Y-%m-%d} is before the bitcoin genesis block")
    pos = bisect_right(_TIMES, ts) - 1
    t0, h0 = _TIMES[pos], ANCHORS[pos][1]
    if pos + 1 < len(ANCHORS):
        t1, h1 = _TIMES[pos + 1], ANCHORS[pos + 1][1]
        return h0 + int((ts - t0) / (t1 - t0) * (h1 - h0))
    return h0 + int((ts - t0) / 86_400 * BLOCKS_PER_DAY)


@dataclass(frozen=True)
class BtcSupply:
    height: int
    supply_btc: float
    subsidy_btc: float
    annual_emission_pct: float
    next_halving_height: int


def btc_supply_at(at: datetime) -> BtcSupply:
    height = estimated_height(at)
    supply = supply_sat(height)
    subsidy = subsidy_sat(height)
    return BtcSupply(
        height=height,
        supply_btc=supply / SATOSHI,
        subsidy_btc=subsidy / SATOSHI,
        annual_emission_pct=100 * subsidy * BLOCKS_PER_DAY * 365 / supply,
        next_halving_height=(height // HALVING_INTERVAL + 1) * HALVING_INTERVAL,
    )
