# Extractor: trafilatura (favor_recall) over selectolax, measured on tests/fixtures/html (4 pages, 22 sentences)
# trafilatura 2.8 ms/page, 22/22 kept, 5 junk leaks raw, 0 after _clean_text; selectolax (lexbor) 0.1-0.2 ms,
# naive 8 leaks; hand-tuned selectors 0 leaks but 21/22 (lost a div-only paragraph). HTML clean ~3.7 ms/page.
"""Pure cleaning step: raw article (plain text or HTML) -> canonical cleaned text.

Every character offset elsewhere in factdesk refers to ``CleanArticle.text``.
Cleaning only removes whole lines (boilerplate, exact duplicates) and normalises
whitespace around them; characters inside kept lines are never rewritten
(except that leading/trailing whitespace of each line is stripped and
the BOM, zero-width spaces and word joiners are removed everywhere). The lines of a
hard-wrapped paragraph (a PDF's, a wrapped .txt) are joined with single spaces.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = [
    "CleanArticle",
    "clean_article",
    "html_to_text",
    "is_credit_line",
    "published_date",
    "visible_text",
    "skip_captions",
]


@dataclass(frozen=True)
class CleanArticle:
    text: str  # canonical cleaned text: every offset in the system refers to it
    title: str | None  # headline if one can be recognised, else None
    removed: tuple[str, ...]  # the lines/blocks removed, for debugging and tests
    published: str | None = None  # the date an HTML page's metadata gives, as written there


# Bump when cleaning gives different text for the same input: re-ingest skips cleaning input it
# has seen under the same version (retrieval/ingest.py, raw_fingerprint).
# 2: quoted markup kept; 3: hard-wrapped lines joined; 4: credit lines out; 5: share rows, tags, read times;
# 6: control characters, terminal codes and bidi overrides out; 7: short wrapped paragraphs joined,
# U+0085, U+2028, U+2029 and the separators U+001C-U+001E read as line ends; a line of over 2,000
# characters is never an appeal; 8: an HTML <br> before a lowercase word is a space
CLEANER_VERSION = 8


# --------------------------------------------------------------------------- #
# Normalisation
# --------------------------------------------------------------------------- #

# BOM, zero-width space, word joiner: invisible and meaningless in stored text. The zero-width
# non-joiner and joiner stay: Persian and Indic words and emoji sequences are spelled with them.
_ZERO_WIDTH_RE = re.compile("[\ufeff\u200b\u2060]")


# Terminal colour codes (ESC [ ... m and the like), then the control characters that are left (a tab
# and line ends stay; a vertical tab or form feed ends a line), then the bidi embeddings, overrides
# and isolates: "\u202e" shows a cited quote reversed, and none of them reads as text. The marks
# U+200E/U+200F stay, as mixed-direction text needs them.
_ANSI_RE = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]")
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# what Python's str.splitlines takes for line ends besides \n and \r: each a line end here too, not
# a control character dropped between two words ("Quarrington\x85The" ran together)
_LINE_ENDS = str.maketrans(
    {
        "\x0b": "\n",
        "\x0c": "\n",
        "\x1c": "\n",
        "\x1d": "\n",
        "\x1e": "\n",
        "\x85": "\n",
        "\u2028": "\n",
        "\u2029": "\n\n",
    }
)


def visible_text(text: str) -> str:
    """`text` without terminal codes, control characters or bidi overrides; every kind of line end
    is a line end (\\n), a unit separator a space."""
    text = _ANSI_RE.sub("", text).translate(_LINE_ENDS).replace("\x1f", " ")
    return _CONTROL_RE.sub("", text)


def _normalise(raw: str) -> list[str]:
    text = _ZERO_WIDTH_RE.sub("", visible_text(raw))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n")]


# --------------------------------------------------------------------------- #
# Boilerplate line classification (context free: decided from the line alone)
# --------------------------------------------------------------------------- #

_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’»)\]]*$")

# Whole-line UI crumbs / widget labels / ad markers, compared after lower-casing,
# trimming surrounding punctuation and collapsing whitespace (see _crumb_key).
_CRUMB_PHRASES = (
    "advertisement",
    "advertisements",
    "advertising",
    "advert",
    "adverts",
    "ad",
    "ads",
    "sponsored",
    "sponsored content",
    "paid content",
    "paid post",
    "promoted",
    "promoted content",
    "partner content",
    "story continues below",
    "story continues below advertisement",
    "article continues below",
    "article continues below advertisement",
    "continue reading below",
    "content continues below",
    "scroll to continue",
    "scroll to continue with content",
    "advertisement scroll to continue",
    "close",
    "open",
    "menu",
    "search",
    "share",
    "share this",
    "share this article",
    "share this story",
    "share on facebook",
    "share on twitter",
    "share on x",
    "share via email",
    "copy link",
    "link copied",
    "tweet",
    "email",
    "e-mail",
    "print",
    "comments",
    "comment",
    "reply",
    "view comments",
    "leave a comment",
    "show comments",
    "read more",
    "read next",
    "read full article",
    "continue reading",
    "load more",
    "show more",
    "see more",
    "skip to content",
    "skip to main content",
    "back to top",
    "subscribe",
    "subscribe now",
    "sign in",
    "log in",
    "login",
    "logout",
    "register",
    "sign up",
    "sign up now",
    "follow us",
    "contribute",
    "donate",
    "donate now",
    "support us",
    "support our journalism",
    "become a member",
    "become a supporter",
    "listen",
    "listen to this article",
    "watch",
    "play",
    "video",
    "videos",
    "photo",
    "photos",
    "gallery",
    "loading",
    "cancel",
    "submit",
    "accept",
    "accept all",
    "accept cookies",
    "reject all",
    "manage cookies",
    "cookie settings",
    "got it",
    "dismiss",
    "related",
    "related articles",
    "related stories",
    "related content",
    "related news",
    "related posts",
    "more stories",
    "more news",
    "more on this story",
    "most read",
    "most popular",
    "most viewed",
    "trending",
    "trending now",
    "recommended",
    "recommended for you",
    "you may also like",
    "you might also like",
    "also read",
    "read also",
    "see also",
    "editor's picks",
    "editors' picks",
    "top stories",
    "latest",
    "latest news",
    "captcha",
    "your name",
    "your email",
    "website",
    "message",
    "do you like this article",
    "did you like this article",
    "did you enjoy this article",
    "was this article helpful",
    "was this helpful",
    "rate this article",
    "how useful was this post",
)
_CRUMBS = frozenset(_CRUMB_PHRASES)

# a run of punctuation taken whole from where it starts (possessive): "[\W_]+$" was tried at every
# dot of a long run that a word follows, each try giving the run back one dot at a time (quadratic)
_EDGE_PUNCT_RE = re.compile(r"^[\W_]++|(?<![\W_])[\W_]++$")
_SPACES_RE = re.compile(r"\s+")


def _crumb_key(line: str) -> str:
    return _SPACES_RE.sub(" ", _EDGE_PUNCT_RE.sub("", line)).lower().replace("’", "'")


_BOILERPLATE_LINE_RES = tuple(
    re.compile(p)
    for p in (
        # Pager link lines: "PREV <headline>", "NEXT <headline>", "Previous article: ...".
        r"^(?:PREV|PREVIOUS|NEXT)\b(?!.*[.!?…][\"'”’]?$).{0,250}$",
        (
            r"(?i)^(?:[«‹<←]\s*)?(?:prev|previous|next|older|newer)\s+"
            r"(?:article|story|post|page|item|entry)\b(?!.*[.!?…][\"'”’]?$).{0,250}$"
        ),
        r"(?i)^(?:prev|previous|next)\s*[:»›>→]",
        # Teaser labels glued to a headline: "VideoTwo Ruritanian soldiers ...".
        (
            r"^(?:Video|Videos|VIDEO|Watch|WATCH|Photos?|PHOTOS?|Gallery|Audio|Podcast|Listen|Live)"
            r"(?=[A-Z0-9„“\"‘'])(?!.*[.!?…][\"'”’]?$).{1,200}$"
        ),
        # Teaser prefixes with a separator: "READ MORE: ...", "WATCH | ...".
        (
            r"(?i)^(?:video|watch|photos?|gallery|listen|audio|podcast|live|read more|read also|also read|"
            r"more|related|see also|recommended|trending|most read|opinion)\s*[:|»›>]\s*\S.{0,200}$"
        ),
        # Reader feedback / form widgets.
        r"(?i)^(?:do|did) you (?:like|enjoy) (?:this|the) (?:article|story|post)\b.{0,40}$",
        r"(?i)^(?:was|is) this (?:article|story|post) (?:helpful|useful)\b.{0,40}$",
        r"(?i)^(?:captcha|e-?mail|name|comment|website)\s*\*.{0,20}$",
        # Social share buttons, follow prompts.
        r"(?i)^share (?:on|via|to|with) [\w .+-]{1,30}$",
        # a row of share buttons on one line: "Share on Facebook · Share on X · Copy link"
        (
            r"(?i)^(?:(?:share (?:on|via|to|with) [\w .+-]{1,30}?|copy link|e-?mail|print|save)\s*[·•|/,]\s*)+"
            r"(?:share (?:on|via|to|with) [\w .+-]{1,30}|copy link|e-?mail|print|save)$"
        ),
        # a story's labels: "Tags: flooding, Calder, weather" (a list, not a sentence)
        r"(?i)^(?:tags?|topics?|filed under|categories|category|keywords)\s*[:|]\s*[^.!?]{1,200}$",
        # a byline's meta row: "By Priya Nair | Published 3 March 2025 | 4 min read"
        r"(?i)^(?=.{0,160}$)(?!.*[.!?…][\"'”’]?$).*\b\d{1,3}[- ]?min(?:ute)?s?\.? read\b.*$",
        r"(?i)^follow (?:us|@\w+)(?: on [\w .+-]{1,30})?$",
        # Widget names: "JournalTv", "NewsLive", "The week in pictures", "News in 60 seconds".
        r"^[A-Z][A-Za-z]*(?:TV|Tv|Live|Video|Videos|Radio|Podcasts?|Plus)$",
        r"(?i)^[\w' ]{0,40}\bin (?:\d+ (?:seconds|minutes|words)|pictures|photos|numbers|charts|maps)$",
        # "Advertisement - scroll to continue", "Image source, Getty Images".
        (
            r"(?i)^[-–—\s]*advert(?:isement)?s?\b[\W_]*"
            r"(?:scroll|continue|story|article|content|below)\b.{0,40}$"
        ),
        r"^Image source,.{0,80}$",
        # Bare links / social embed trailers that are alone on their line.
        r"(?i)^(?:https?://|www\.|pic\.twitter\.com/)\S*$",
        # Markdown image leftovers from extractors: "![alt](src)".
        r"^!\[[^\]]*\]\([^)]*\)\s*$",
    )
)

# Leaked script / style (never article text).
_CODE_RE = re.compile(
    r"function\s*\(|=>|\b(?:var|let|const)\s+[\w$]+\s*=|\bdocument\.[a-zA-Z]|\bwindow\.[a-zA-Z]|"
    r"@media\b|\{[^{}]*:[^{}]*;[^{}]*\}|"
    r"\b(?:googletag|dataLayer|gtag)\b"
)
# Leaked markup: in text taken out of an HTML page it is the page's own code, never article text; in a
# plain-text article it is what the writer typed, e.g. a report that quotes an attack's payload.
_MARKUP_RE = re.compile(r"</?(?:script|style|iframe|noscript)\b")
_CODE_CHARS = frozenset("{}();=<>[]$")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")
PROSE_MIN_WORDS = 6  # a plain-text line with this many words that ends a sentence is prose, not code

# Donation / newsletter / cookie / subscription vocabulary, scored per line.
# Strong phrases are publisher-to-reader appeals that news prose practically never uses;
# weak ones are vocabulary that only counts when several co-occur.
_STRONG_APPEAL = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:we|i) need your (?:help|support)\b",
        r"\breaders like you\b",
        r"\byou(?:'re|’re| are) (?:visiting us|reading this because)\b",
        (
            r"\b(?:please )?(?:support|fund) "
            r"(?:us|our (?:work|journalism|mission|reporting|newsroom|journalists))\b"
        ),
        r"\bplease (?:contribute|donate|support|consider (?:supporting|subscribing|donating|contributing))\b",
        r"\b(?:donate|contribute|subscribe) (?:now|today|here)\b",
        r"\b(?:one-off|once-off|monthly|recurring|annual|yearly|regular) (?:contribution|donation|gift)s?\b",
        r"^(?:please )?become an? (?:member|supporter|subscriber|patron|friend)\b",
        r"\bkeeps? (?:\S+ ){0,3}paywalls? (?:away|down|off)\b",
        r"\bif you(?:'ve|’ve| have) (?:seen|found|got|get) value\b",
        r"^subscribe\b",
        r"\bsubscribe to (?:our|the) (?:\w+ )?(?:newsletter|briefing|digest|podcast|channel)\b",
        r"\bsign up (?:for|to) (?:our|the) (?:\w+ ){0,3}(?:newsletter|briefing|digest|email|alerts?)\b",
        r"\b(?:delivered|straight) to your inbox\b",
        r"\benter your e-?mail\b",
        r"\bwe use cookies\b",
        r"\b(?:this|our) (?:web)?site uses cookies\b",
        r"^accept (?:all )?cookies\b",
        r"\bby continuing to (?:browse|use) (?:this|our|the) (?:web)?site\b",
        r"\ball rights reserved\b",
        r"\bcopyright (?:©\s*)?\d{4}\b",
        r"\b(?:already have an account|create (?:an|a free) account)\b",
    )
)
_WEAK_APPEAL = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bour (?:reporting|journalism|mission|newsroom|readers|journalists|work)\b",
        r"\bindependent,? (?:unbiased |trusted |quality )?(?:news|journalism|media)\b",
        r"\badvertising revenue\b",
        r"\bsupport(?:s|ing)? from readers\b",
        r"\bkeep(?:s|ing)? (?:\S+ ){0,4}(?:open|free|independent|going)\b",
        r"\b(?:donations?|contributions?|contributing|donating)\b",
        r"\bjournalism\b",
        r"\bnewsletters?\b",
        r"\bsubscri(?:be|ption|bers?)\b",
        r"\bpaywalls?\b",
        r"\bcookies?\b",
        r"\bcookie (?:policy|settings|preferences|consent)\b",
        r"\bprivacy (?:policy|notice)\b",
        r"\bterms (?:of (?:use|service)|and conditions)\b",
        r"©",
        r"\bsupport(?:ing)? us\b",
        r"\bmonthly payment\b",
    )
)
# Reported speech ("'We need your help,' Doe said") is article text, not an appeal.
_QUOTE_CHARS_RE = re.compile('["“”„«»]')
_ATTRIBUTION_RE = re.compile(
    r"\b(?:said|says|told|tells|added|wrote|writes|stated|asked|urged|pleaded|according to)\b"
)


APPEAL_MAX_CHARS = 2000  # a donation or newsletter box is a paragraph, not a whole report on one line


def _is_appeal(line: str) -> bool:
    if len(line) > APPEAL_MAX_CHARS:
        # a report pasted without its line breaks holds "support", "subscribe" and the like often
        # enough to be taken for one, and was dropped whole
        return False
    strong = sum(1 for r in _STRONG_APPEAL if r.search(line))
    weak = sum(1 for r in _WEAK_APPEAL if r.search(line))
    score = 2 * strong + weak
    if _QUOTE_CHARS_RE.search(line) and _ATTRIBUTION_RE.search(line):
        return score >= 5
    if len(line) > 300:
        return (strong >= 1 and score >= 3) or weak >= 4
    return strong >= 1 or weak >= 3


def _is_code(line: str, *, from_html: bool = True) -> bool:
    if from_html:
        code = bool(_CODE_RE.search(line) or _MARKUP_RE.search(line))
    else:
        # plain text is what its writer typed: a sentence that quotes code is kept; only lines
        # that are code alone (a scraper's leftovers pasted into a .txt) go
        prose = bool(_SENTENCE_END_RE.search(line)) and len(_WORD_RE.findall(line)) >= PROSE_MIN_WORDS
        code = bool(_CODE_RE.search(line)) and not prose
    return code and sum(c in _CODE_CHARS for c in line) >= 3


def _is_boilerplate(line: str, *, from_html: bool = True) -> bool:
    """Decide from the line alone whether it is page furniture, not article."""
    if not any(c.isalnum() for c in line):  # lone separators: "-", "--", "***", "|"
        return True
    if _crumb_key(line) in _CRUMBS:
        return True
    if any(r.search(line) for r in _BOILERPLATE_LINE_RES):
        return True
    if _is_code(line, from_html=from_html):
        return True
    if len(line) <= 80 and is_credit_line(line):  # "(AP Photo/John Smith)", "Picture: Getty Images"
        return True
    return _is_appeal(line)


# --------------------------------------------------------------------------- #
# Headline / kicker heuristics
# --------------------------------------------------------------------------- #

_KICKER_RE = re.compile(r"^[^\W\d_][\w&'’/ -]{0,29}$")
_CAPTION_CREDIT_RE = re.compile(
    r"(?i)\b(?:photo|image|picture|video|screenshot|screengrab|captured|still) (?:by|from|courtesy)\b"
    r"|\[[^\]]*\b(?:AFP|AP|Reuters|Getty|EPA|Yonhap)\b[^\]]*\]"
    r"|\((?:AP|AFP|Reuters|EPA|Getty|Yonhap)\b[^)]*\)"
    r"|\b(?:Getty Images|AP Photo|AFP Photo|Reuters/)"
)
# Whole lines that credit a picture: "Photo: Reuters", "Image credit: NASA", "(AP Photo/John Smith)",
# "REUTERS/Mara Holt", "© Jane Doe". Never a headline, wherever they stand.
_CREDIT_LINE_RES = tuple(
    re.compile(p)
    for p in (
        # a picture word, then a separator or a credit word: "Photo: ...", "Photograph by ...",
        # "Image credit ...", "Pictures courtesy of ...", "Credit: ...", "Caption: ..."
        (
            r"(?i)^(?:(?:file |main |top |lead |header |featured )?(?:photo(?:graph)?|image|picture|pic|"
            r"illustration|graphic|video|footage|screenshot|screengrab|still)s?|credits?|captions?|"
            r"source)(?:\s*[:|/©–—-]|\s+(?:credit|courtesy|source|by|via|from)\b)"
        ),
        r"^[(\[][^()\[\]]{0,150}[)\]]$",  # a line that is all one parenthesis: "(AP Photo/...)", "[Reuters]"
        r"©|^\(c\)\s",
        # agency slash photographer: "REUTERS/Mara Holt", "Getty Images/AFP", "EPA-EFE/Jane Doe"
        (
            r"(?i)\b(?:reuters|afp|ap|epa(?:-efe)?|getty(?: images)?|bloomberg|xinhua|anadolu|dpa|"
            r"shutterstock|alamy|pa(?: wire| images)?|tass|yonhap|kyodo)\s*/\s*[\w-]"
        ),
    )
)
# A full stop after a lowercase word followed by a capital: two sentences, not a headline.
_INNER_SENTENCE_RE = re.compile(r"[a-z]{2}[.!?] +[A-Z„“\"]")


def _headline_like(line: str, *, min_words: int = 1) -> bool:
    return (
        len(line) <= 200
        and len(line.split()) >= min_words
        and not line.endswith((".", "…", ",", ";", ":"))
        and any(c.isalpha() for c in line)
        and not _CAPTION_CREDIT_RE.search(line)
        and not _INNER_SENTENCE_RE.search(line)
    )


def is_credit_line(line: str) -> bool:
    """A picture credit ("Photo: Reuters", "(AP Photo/John Smith)"): page furniture, not a title."""
    return len(line) <= 200 and (
        bool(_CAPTION_CREDIT_RE.search(line)) or any(r.search(line) for r in _CREDIT_LINE_RES)
    )


def skip_captions(lines: list[str], followers: list[str | None] | None = None, limit: int = 4) -> int:
    """Index of the first of `lines` that is neither a picture credit nor a caption (a line that is
    not headline-like followed by a credit: "Rescuers search the rubble on Tuesday." / "Photo: AP");
    a headline followed by its lead picture's credit stays. followers[i] is the line that came after
    lines[i] in the source (cleaning may have removed the credit already); default lines[i + 1].
    Looks at most `limit` lines in."""
    i = 0
    while i < min(limit, len(lines)):
        line = lines[i]
        nxt = followers[i] if followers is not None else (lines[i + 1] if i + 1 < len(lines) else None)
        credit_next = nxt is not None and is_credit_line(nxt)
        if is_credit_line(line) or (credit_next and not _headline_like(line, min_words=2)):
            i += 1
            continue
        break
    return i


def _is_kicker(line: str, next_line: str | None) -> bool:
    """A lone section label ("Security", "World news") right above the headline."""
    return (
        next_line is not None
        and len(line.split()) <= 3
        and bool(_KICKER_RE.match(line))
        and _headline_like(next_line, min_words=4)
    )


# --------------------------------------------------------------------------- #
# Core text cleaner
# --------------------------------------------------------------------------- #


def _blank_between(lines: list[str], kept: list[int], n: int) -> bool:
    """Whether a blank line separates the n-th kept line from the next one."""
    return n + 1 < len(kept) and any(not lines[j] for j in range(kept[n] + 1, kept[n + 1]))


_ENDS_SENTENCE = tuple(".!?…:;\"'”’)]")
WRAP_MIN, WRAP_MAX = 40, 110  # the line widths text is hard-wrapped at (a PDF's page, a mail's 72)


def wrap_width(lines: list[str]) -> int | None:
    """The length from which a line counts as full, when `lines` are hard-wrapped text (None when
    not). Wrapped text: most lines are about as long as the longest (the width, WRAP_MIN..WRAP_MAX
    characters), and most full lines stop mid-sentence. Text written a paragraph a line (news as
    it comes) has far longer lines, or lines that end their sentences."""
    if len(lines) < 3:
        return None
    lengths = sorted(len(line) for line in lines)
    width = lengths[(len(lengths) - 1) * 9 // 10]
    if not WRAP_MIN <= width <= WRAP_MAX:
        return None
    full = [line for line in lines if len(line) >= 0.6 * width]
    open_ended = sum(not line.endswith(_ENDS_SENTENCE) for line in full)
    return int(0.6 * width) if open_ended >= 2 and 2 * open_ended >= len(full) else None


def _unwrap(lines: list[str], kept: list[int]) -> tuple[list[str], list[int], set[int]]:
    """(lines, kept, the lines joined to the one before): the lines of each hard-wrapped paragraph
    (a PDF's, a wrapped .txt) joined into its first with single spaces, so that no sentence ends at
    a wrap. A line continues the one
    before it (no blank line between) when that one is full (wrap_width), or when it stops
    mid-sentence and the next begins in lower case ("... in office," / "citing health reasons."):
    the second holds where a paragraph is too short to show a width. Either goes on past a line that
    cleaning removed (a page's footer, an advertisement) between the two."""
    full = wrap_width([lines[i] for i in kept])
    out, joined, continued = list(lines), list[int](), set[int]()
    for n, i in enumerate(kept):
        prev = kept[n - 1] if n else None
        if prev is not None and all(lines[j] for j in range(prev + 1, i)):
            raw = lines[prev]
            if (full is not None and len(raw) >= full) or (
                not raw.endswith(_ENDS_SENTENCE) and lines[i][:1].islower()
            ):
                out[joined[-1]] += " " + lines[i]
                continued.add(i)
                continue
        joined.append(i)
    return out, joined, continued


def _without_repeats(lines: list[str], kept: list[int]) -> tuple[list[int], list[tuple[int, str]]]:
    """(kept without exact duplicates, the duplicates): a line equal to the previous kept line (any
    length), or a longer line (captions, headlines) seen anywhere before."""
    out: list[int] = []
    dropped: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i in kept:
        line = lines[i]
        if (out and lines[out[-1]] == line) or (len(line) >= 30 and line in seen):
            dropped.append((i, line))
            continue
        out.append(i)
        seen.add(line)
    return out, dropped


def _clean_text(raw: str, *, from_html: bool) -> CleanArticle:
    lines = _normalise(raw)
    removed: list[tuple[int, str]] = []

    # 1. context-free boilerplate removal
    survivors: list[int] = []
    for i, line in enumerate(lines):
        if not line:
            continue
        if _is_boilerplate(line, from_html=from_html):
            removed.append((i, line))
        else:
            survivors.append(i)

    # 2-3. the lines of a hard-wrapped paragraph become one (a page's blocks are its paragraphs
    #    already), then exact duplicates go; each can make lines neighbours that the other then joins
    #    or drops, so both run until neither changes anything (cleaning its own output changes nothing)
    kept = survivors
    continued: set[int] = set()
    repeated: set[str] = set()
    while True:
        joined: set[int] = set()
        if not from_html:
            lines, kept, joined = _unwrap(lines, kept)
            continued |= joined
        kept, dropped = _without_repeats(lines, kept)
        removed += dropped
        repeated |= {line for _, line in dropped}
        if not joined and not dropped:
            break

    # 4. a lone section kicker above the headline (a wrapped paragraph's first line is no headline)
    if kept and _is_kicker(lines[kept[0]], lines[kept[1]] if len(kept) > 1 else None):
        removed.append((kept[0], lines[kept[0]]))
        kept = kept[1:]

    # 5. assemble, keeping the input's paragraph structure
    parts: list[str] = []
    blank_after_first = False
    for n, i in enumerate(kept):
        if n:
            prev = kept[n - 1]
            sep = "\n\n" if any(not lines[j] for j in range(prev + 1, i)) else "\n"
            if n == 1:
                blank_after_first = sep == "\n\n"
            parts.append(sep)
        parts.append(lines[i])
    text = "".join(parts)

    # 6. title: a short first line followed by a blank line or repeated; picture credits and
    #    captions above the headline are passed over, never taken for it
    title = None
    followers = [
        next((lines[j] for j in range(i + 1, len(lines)) if lines[j] and j not in continued), None)
        for i in kept[:4]
    ]
    n = skip_captions([lines[i] for i in kept], followers)
    if n < len(kept):
        first = lines[kept[n]]
        blank_after = blank_after_first if n == 0 else _blank_between(lines, kept, n)
        if (
            _headline_like(first, min_words=2)
            and ((blank_after and len(kept) > n + 1) or first in repeated)
            and not _is_boilerplate(first, from_html=from_html)
        ):
            title = first

    removed.sort(key=lambda t: t[0])
    return CleanArticle(text=text, title=title, removed=tuple(line for _, line in removed))


# --------------------------------------------------------------------------- #
# HTML
# --------------------------------------------------------------------------- #

# Elements that are never article text; removed before the extractor sees the page, so
# that no extractor path (including its fallbacks) can leak them.
_NEVER_TEXT_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "svg",
    "canvas",
    "object",
    "embed",
    "nav",
    "aside",
    "footer",
    "button",
    "select",
    "input",
    "textarea",
    "dialog",
    "menu",
)
_BANNER_ATTR_RE = re.compile(r"cookie|consent|gdpr", re.IGNORECASE)
_KEEP_CONTAINERS = frozenset(("html", "head", "body", "main", "article"))
_BLOCK_TAGS = (
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "figcaption",
    "td",
    "th",
    "dt",
    "dd",
    "div",
    "section",
    "article",
    "main",
)
# Characters lxml refuses (XML-incompatible controls, lone surrogates).
_XML_BAD_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# lxml rejects str input that carries an XML encoding declaration.
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def _text_len(el) -> int:  # type: ignore[no-untyped-def]
    return len(" ".join(el.itertext()).strip())


def _never_text(el) -> bool:  # type: ignore[no-untyped-def]
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "script":  # JSON-LD is metadata only (headline, author), never rendered
        return (el.get("type") or "").lower() != "application/ld+json"
    if tag in _NEVER_TEXT_TAGS:
        return True
    if tag == "form":  # whole-page ASP.NET forms are kept
        return _text_len(el) < 1000
    if tag == "header":  # page header with logo/nav; an article header carries the <h1>
        in_article = any(a.tag in ("article", "main") for a in el.iterancestors())
        return el.find(".//h1") is None and not in_article
    attrs = f"{el.get('id') or ''} {el.get('class') or ''}"
    return tag not in _KEEP_CONTAINERS and bool(_BANNER_ATTR_RE.search(attrs)) and _text_len(el) < 2000


# libxml2 drops the elements nested deeper than 256 (2048 with huge_tree), with their text, and the
# extraction's time grows with the square of the depth: a page nested deeper than its default is read
# without the tags that nest (real pages stay far below it)
_MAX_DEPTH = 256
# elements that nest without ending a paragraph: what is left out of a page nested past the limit
_CONTAINER_TAG_RE = re.compile(
    r"</?(?:div|span|font|section|center|b|i|u|em|strong|small)\b[^>]*>", re.IGNORECASE
)


def _depth(root) -> int:  # type: ignore[no-untyped-def]
    from lxml import etree

    depth = deepest = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _parse_and_strip(html: str):  # type: ignore[no-untyped-def]
    """lxml tree of the page with scripts, styles, nav, footers, forms, banners removed."""
    import lxml.html
    from lxml import etree

    html = _XML_DECL_RE.sub("", _XML_BAD_RE.sub("", html))
    try:
        root = lxml.html.document_fromstring(html, parser=lxml.html.HTMLParser(huge_tree=True))
        if _depth(root) > _MAX_DEPTH:  # unclosed <div>s or <font>s, thousands deep: without them
            flat = _CONTAINER_TAG_RE.sub(" ", html)
            root = lxml.html.document_fromstring(flat, parser=lxml.html.HTMLParser(huge_tree=True))
    except (etree.ParserError, ValueError):  # empty or unparsable document
        return None
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    doomed = [el for el in root.iter(etree.Element) if _never_text(el)]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()  # keeps the element's tail text
    for br in list(root.iter("br")):
        # a line break inside a sentence ("Work begins in September<br>and will take three years")
        # is a space: kept, it became a paragraph break, and the sentence two fragments
        if (br.tail or "").lstrip()[:1].islower() and br.getparent() is not None:
            br.tail = " " + br.tail.lstrip()
            br.drop_tag()
    return root


def _fallback_text(root) -> str:  # type: ignore[no-untyped-def]
    """Used only when trafilatura finds nothing: text of the page's block elements."""
    body = root.find("body")
    if body is None:
        body = root
    paras: list[str] = []
    for el in body.iter(*_BLOCK_TAGS):
        if any(child.tag in _BLOCK_TAGS for child in el.iterdescendants()):
            own = el.text or ""
        else:
            own = el.text_content()
        own = _SPACES_RE.sub(" ", own).strip()
        if own:
            paras.append(own)
    if not paras:
        paras = [_SPACES_RE.sub(" ", body.text_content()).strip()]
    return "\n".join(paras)


# A tag with thousands of attributes costs libxml2, readability and justext time with the square of
# their number (one tag of 200,000 held a core for minutes); no page needs more than a few dozen
MAX_ATTRIBUTES = 64
_LONG_TAG_RE = re.compile(r"<[A-Za-z][^<>]{256,}>")  # [^<>]: each scan stops at the next tag, linear
_TAG_NAME_RE = re.compile(r"<[A-Za-z][^\s/>]*")
# an attribute with its value or without one ("disabled")
_ANY_ATTR_RE = re.compile(r"""[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+))?""")


def _fewer_attributes(html: str) -> str:
    """html with each tag's attributes past the first MAX_ATTRIBUTES left out."""

    def trim(m: re.Match[str]) -> str:
        tag = m.group(0)
        name = _TAG_NAME_RE.match(tag).group(0)  # type: ignore[union-attr]
        attrs = list(
            itertools.islice(_ANY_ATTR_RE.finditer(tag, len(name), len(tag) - 1), MAX_ATTRIBUTES + 1)
        )
        if len(attrs) <= MAX_ATTRIBUTES:
            return tag
        return name + "".join(" " + a.group(0) for a in attrs[:MAX_ATTRIBUTES]) + ">"

    return _LONG_TAG_RE.sub(trim, html)


def html_to_text(html: str) -> tuple[str, str | None]:
    """Main text of an HTML page (paragraphs separated by a blank line) and its title."""
    if not html or not html.strip():
        return "", None
    root = _parse_and_strip(_fewer_attributes(html))
    if root is None:
        return "", None
    import copy

    import trafilatura  # imported lazily: plain-text cleaning needs no HTML stack

    doc = trafilatura.bare_extraction(
        copy.deepcopy(root),  # trafilatura prunes the tree it is given
        with_metadata=True,
        favor_recall=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,
    )
    title = None
    text = ""
    if doc is not None and not isinstance(doc, dict):  # a Document unless asked for a dict
        title = (doc.title or "").strip() or None
        text = doc.text or ""
    if not text.strip():
        text = _fallback_text(root)
    if title is None:
        el = root.find(".//title")
        title = (_SPACES_RE.sub(" ", el.text_content()).strip() or None) if el is not None else None
    paras = [p.strip() for p in text.replace("\r\n", "\n").split("\n")]
    return "\n\n".join(p for p in paras if p), title


_META_TAG_RE = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
# where publishers put an article's date, most specific first (Open Graph and schema.org, then the
# older Dublin Core and plain names)
_DATE_NAMES = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "dc.date",
    "date",
)
_JSONLD_DATE_RE = re.compile(r'"datePublished"\s*:\s*"([^"]{4,40})"')


def published_date(html: str) -> str | None:
    """The publication date an HTML page's metadata states (a <meta> tag, else JSON-LD), as written;
    None when it states none. Never guessed from the text."""
    found: dict[str, str] = {}
    for tag in _META_TAG_RE.findall(html[:200_000]):
        attrs = {
            m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
            for m in _ATTR_RE.finditer(tag)
        }
        name = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        if name in _DATE_NAMES and attrs.get("content", "").strip():
            found.setdefault(name, attrs["content"].strip())
    for name in _DATE_NAMES[:3]:
        if name in found:
            return found[name]
    ld = _JSONLD_DATE_RE.search(html[:200_000])
    if ld:
        return ld.group(1).strip()
    return next((found[n] for n in _DATE_NAMES if n in found), None)


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #


def clean_article(raw: str, *, is_html: bool = False) -> CleanArticle:
    """Clean one article. Pure and deterministic; never rewrites kept sentences."""
    if is_html:
        text, html_title = html_to_text(raw)
        result = _clean_text(text, from_html=True)
        usable = html_title and not _is_boilerplate(html_title) and not is_credit_line(html_title)
        title = html_title if usable else result.title
        return CleanArticle(
            text=result.text, title=title, removed=result.removed, published=published_date(raw)
        )
    # plain text is never parsed as HTML: "<script>" in it is text the writer typed
    return _clean_text(raw, from_html=False)
