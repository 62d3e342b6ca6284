"""The desk's state: what each node is allowed to read (its LangGraph input schema)."""

from __future__ import annotations

from graph.graph import graph
from graph.state import DeskState

# Node → the state fields it reads. Only `intake` reads `messages` (the user's turn); nobody
# reads `calls` (for the cost log): it is write-only for the desk.
BASE = {"symbol", "interval", "snapshot", "as_of"}
READS = {
    "intake": BASE
    | {"messages", "execute", "last_turn", "handled_message_id", "request", "snapshot_loaded"},
    "prepare": BASE,
    "technical": BASE | {"sentiment_inputs", "tokenomics_inputs"},
    "sentiment": BASE | {"sentiment_inputs", "tokenomics_inputs"},
    "tokenomics": BASE | {"sentiment_inputs", "tokenomics_inputs"},
    "researcher": BASE | {"reports"},
    "trader": BASE | {"portfolio", "thesis"},
    "risk_manager": BASE | {"portfolio", "thesis", "proposal"},
    "risk_gate": BASE | {"portfolio", "thesis", "proposal", "review"},
    "execute": BASE | {"portfolio", "decision", "execute", "turn_id"},
    "report": BASE
    | {"portfolio", "decision", "execute", "turn_id", "reports", "thesis", "proposal"}
    | {"review", "execution", "warnings"},
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
    assert set(DeskState.model_fields) - read_somewhere == {"calls"}
    channels = graph.channels
    assert type(channels["reports"]).__name__ == "BinaryOperatorAggregate"
    assert type(channels["messages"]).__name__ == "BinaryOperatorAggregate"
