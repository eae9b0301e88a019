"""Whether a question reads as English (pure, but for wordfreq's tables, loaded on first use).

The embedder and the reader read English only, so a question in another language is declined. A
declined answer says why when the question is not English: in a script other than Latin, or with
more of its words common in another language than in English ("¿Quién fue capturado en Kursk?":
"quién", "fue", "capturado" are common Spanish words and no English ones). Names are rare in every
language, so a question of names alone is not taken for another language.
"""

from __future__ import annotations

import threading
import unicodedata

# a word at or above this Zipf frequency in a language is one of its common words (once per million)
COMMON_ZIPF = 3.0
# another language's share of common words must exceed English's by this much (the margin keeps
# English questions with a few foreign-looking words, such as "NIS" or a Malay-looking name, English)
MARGIN = 0.3
# English questions with a share this high are not compared with other languages (their cost: a
# first comparison loads some forty wordlists)
SURELY_ENGLISH = 0.6
MIN_WORDS = 3

NOT_ENGLISH = "factdesk reads questions in English; this one does not read as English: ask it in English"

# wordfreq needs a segmenter (not installed) to look words up in these; their scripts are told apart
# before any list is read
_SEGMENTED = {"ja", "ko", "zh"}
_lock = threading.Lock()


def latin_share(text: str) -> float:
    """The share of the text's letters that are Latin letters (1.0 for text without letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum("LATIN" in unicodedata.name(c, "") for c in letters) / len(letters)


def common_share(words: list[str], lang: str) -> float:
    """The share of the words that are common words of the language."""
    from wordfreq import zipf_frequency  # imported on first use: most questions never get here

    with _lock:  # wordfreq loads a language's table on its first lookup
        return sum(zipf_frequency(w, lang) >= COMMON_ZIPF for w in words) / len(words)


def reads_as_english(question: str) -> bool:
    """False when the question is in another script, or its words are clearly another language's."""
    if latin_share(question) < 0.5:
        return False
    from wordfreq import available_languages, tokenize

    words = tokenize(question, "en")
    if len(words) < MIN_WORDS:
        return True
    english = common_share(words, "en")
    if english >= SURELY_ENGLISH:
        return True
    others = sorted(set(available_languages("small")) - _SEGMENTED - {"en"})
    return max(common_share(words, lang) for lang in others) < english + MARGIN
