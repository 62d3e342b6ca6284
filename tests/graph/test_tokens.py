"""Token counts work offline (bundled encodings) and the budget's bound is a bound."""

from __future__ import annotations

from graph.tokens import count_tokens, is_openai_model, prompt_token_bound

TEXT = 'Indicator snapshot {"close":26958.926662777594,"rsi_14":62.3} — prix élevé'


def test_openai_models_are_counted_with_their_tokenizer_offline() -> None:
    n = count_tokens("gpt-4o-mini", TEXT)
    assert 10 < n < len(TEXT) / 2  # a real BPE count, not a character count
    assert count_tokens("gpt-4o", TEXT) == n  # same encoding (o200k)
    assert count_tokens("gpt-4o", "") == 0


def test_the_bound_is_never_below_the_count() -> None:
    for model in ("gpt-4o-mini", "smollm2", "llama3.2"):
        bound = prompt_token_bound(model, [TEXT, TEXT])
        assert bound >= 2 * count_tokens(model, TEXT)
    # Non-OpenAI models: UTF-8 bytes (a byte-level BPE never yields more tokens than bytes).
    assert not is_openai_model("smollm2")
    assert prompt_token_bound("smollm2", [TEXT]) >= len(TEXT.encode())
