"""Whether a question reads as English (pure, but for wordfreq's English table, loaded on first use).

The embedder and the reader read English only, so a question in another language is declined. A
declined answer says why when the question is not English: in a script other than Latin, or with
too few common English words among its words that are not names ("¿Quién fue detenido ayer?": of
"quién", "fue", "detenido", "ayer", none is). Capitalised words after the first are taken
for names, which are rare in every language, so a question of names alone is not judged.
"""

from __future__ import annotations

import threading
import unicodedata

# a word at or above this Zipf frequency in English is a common English word (about once in three
# million words: "interrogated" and "repatriation" are common, "capturado" and "soldaten" are not)
COMMON_ZIPF = 2.5
# under this share of common English words, a question is taken for another language's (English
# questions of the eval sets and of SQuAD almost all have 0.7 or more: docs/evals.md)
ENGLISH_SHARE = 0.65
MIN_WORDS = 3
# under this share of Latin letters, a question is in another script
SCRIPT_SHARE = 0.5

NOT_ENGLISH = "factdesk reads questions in English; this one does not read as English: ask it in English"

_lock = threading.Lock()  # wordfreq loads its table on the first lookup


def latin_share(text: str) -> float:
    """The share of the text's letters that are Latin letters (1.0 for text without letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum("LATIN" in unicodedata.name(c, "") for c in letters) / len(letters)


def other_script(text: str) -> bool:
    """Whether most of the text's letters are not Latin (Cyrillic, Hangul, ...)."""
    return latin_share(text) < SCRIPT_SHARE


def reads_as_english(question: str) -> bool:
    """False when the question is in another script, or its words are clearly not English."""
    if other_script(question):
        return False
    from wordfreq import tokenize, zipf_frequency  # imported on first use: most questions never get here

    # the first word is a question word more often than a name; later capitalised words are names
    tokens = question.split()
    kept = [t for i, t in enumerate(tokens) if i == 0 or not t.lstrip("¿¡«\"'(“‘")[:1].isupper()]
    words = [w for w in tokenize(" ".join(kept), "en") if any(c.isalpha() for c in w)]
    if len(words) < MIN_WORDS:
        return True
    with _lock:
        common = sum(zipf_frequency(w, "en") >= COMMON_ZIPF for w in words)
    return common / len(words) >= ENGLISH_SHARE
