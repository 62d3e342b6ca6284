"""The desk's state: what each node is allowed to read (its LangGraph input schema)."""

from __future__ import annotations

from graph.graph import graph
from graph.state import DeskState

# Node → the state fields it reads. Nothing reads `messages` (for people and Studio) or
# `calls` (for the cost log): they are write-only for the desk.
READS = {
    "prepare": {"symbol", "interval", "snapshot"},
    "technical": {"symbol", "interval", "snapshot", "sentiment_inputs", "tokenomics_inputs"},
    "sentiment": {"symbol", "interval", "snapshot", "sentiment_inputs", "tokenomics_inputs"},
    "tokenomics": {"symbol", "interval", "snapshot", "sentiment_inputs", "tokenomics_inputs"},
    "researcher": {"symbol", "interval", "snapshot", "reports"},
    "trader": {"symbol", "interval", "snapshot", "portfolio", "thesis"},
    "risk_manager": {"symbol", "interval", "snapshot", "portfolio", "thesis", "proposal"},
    "risk_gate": {"symbol", "interval", "snapshot", "portfolio", "thesis", "proposal", "review"},
    "execute": {"symbol", "interval", "snapshot", "portfolio", "decision"},
}


def test_each_node_reads_only_its_slice_of_the_state() -> None:
    reads = {name: set(graph.nodes[name].channels) for name in READS}
    assert reads == READS
    # The analysts are independent: none of them sees another's report or anything downstream.
    for analyst in ("technical", "sentiment", "tokenomics"):
        assert reads[analyst].isdisjoint({"reports", "thesis", "proposal", "review", "decision"})
    # The executor acts on the clamped decision only, never on a model's proposal or review.
    assert reads["execute"].isdisjoint({"proposal", "review", "thesis"})


def test_the_slices_cover_the_state_and_reducers_stay_on_the_state() -> None:
    read_somewhere = set().union(*READS.values())
    assert set(DeskState.model_fields) - read_somewhere == {"messages", "calls", "execution"}
    channels = graph.channels
    assert type(channels["reports"]).__name__ == "BinaryOperatorAggregate"
    assert type(channels["messages"]).__name__ == "BinaryOperatorAggregate"
