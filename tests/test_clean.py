"""Tests for retrieval.clean: the pure cleaning step (plain text and HTML)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.clean import CleanArticle, clean_article, html_to_text, visible_text

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
HTML_DIR = Path(__file__).resolve().parent / "fixtures" / "html"


def _seed(prefix: str) -> str:
    (path,) = sorted(ARTICLES.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8")


def _html(name: str) -> str:
    return (HTML_DIR / name).read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


# --------------------------------------------------------------------------- #
# Seed articles
# --------------------------------------------------------------------------- #

CAPTION_000 = (
    "A captured North Korean soldier solutions questions in a video posted Saturday on X by Ukrainian "
    "President Volodymyr Zelenskyy. Captured from Volodymyr Zelenskyy’s X"
)
CAPTION_001 = (
    "A captured North Korean soldier is shown in Ukrainian custody in a video posted online January 11 "
    "by the Security Service of Ukraine (SBU)."
)
CAPTION_001_B = (
    "Visitors lay bouquets of flowers to pay their respects in front of statues of late North Korean "
    "leaders Kim Il Sung and Kim Jong Il. They were marking the 13th anniversary of the death of Kim "
    "Jong Il, father of current leader Kim Jong Un, at Mansu Hill, Pyongyang, North Korea, on "
    "December 17. [Kim Won Jin/AFP]"
)
TITLE_001 = "'Indisputable evidence': captured, wounded and killed N. Korean soldiers in Ukraine"
TITLE_002 = "War in Ukraine: North Korean soldiers encouraged to commit suicide to avoid capture, says Seoul"
TITLE_003 = "'I want to live in Ukraine': Zelenskyy shares video of North Korean soldier's plea"

# Whole lines that must be gone after cleaning.
BOILERPLATE = {
    "000": [],
    "001": ["Security", "Do you like this article?", "Captcha *"],
    "002": [
        "-",
        "--",
        "VideoTwo North Korean soldiers captured by Ukraine in Russia",
        (
            "PREV 4 goals in 10 minutes, a legendary comeback: PSG defeats City in the match of fear in the "
            "Champions League"
        ),
        "NEXT Hungarian Farmers’ Association: Ukraine’s EU membership would be catastrophic",
    ],
    "003": [
        "Advertisement",
        "We need your help now",
        "Support from readers like you keeps The Journal open.",
        "Close",
        "JournalTv",
        "News in 60 seconds",
    ],
    "004": [],
}
# Substrings (inside longer appeal blocks) that must be gone.
BOILERPLATE_FRAGMENTS = {
    "003": [
        "You are visiting us because",
        "If you've seen value in our reporting, please contribute",
        "Readers like you are keeping these stories free",
        "A mix of advertising and supporting contributions",
        "Over 5,000 readers like you have already stepped up",
        "readers like you",
        "paywalls",
    ],
    "001": ["Captcha", "Do you like this article"],
    "002": ["PREV ", "NEXT ", "VideoTwo"],
}

# Real article sentences (first and last real sentences included) that must survive verbatim.
KEEP = {
    "000": [
        CAPTION_000,
        (
            "At the least 300 North Korean troops dispatched to assist the Kremlin’s conflict towards Ukraine "
            "have been killed and a couple of,700 others injured, in line with South Korea’s spy company, "
            "Monday."
        ),
        (
            "The NIS attributed the excessive variety of North Korean casualties to their „lack of expertise "
            "of recent warfare,“ highlighting their reckless try"
        ),
        (
            "he replied with a query: „Are Ukrainians good folks?“ After the interpreter responded, „Right "
            "here is sweet,“ he mentioned, „I need to dwell right here.“"
        ),
        (
            "In his publish on X the identical day, Ukraine’s President Volodymyr Zelenskyy mentioned he was "
            "prepared handy over the captured North Koreans"
        ),
        (
            "“This implies that the regime thinks that there isn’t a legitimacy in Russia’s conflict,” he "
            "mentioned."
        ),
        (
            "At a press briefing, Koo Byoung-sam, spokesman for the Ministry of Unifcation, mentioned a "
            "assessment of worldwide regulation and consultations with related international locations shall "
            "be crucial if the North Korean captives are to be dropped at South Korea."
        ),
    ],
    "001": [
        TITLE_001,
        (
            "An estimated 3,000 North Koreans have been killed or injured since being deployed to Russia in "
            "November. They reportedly were ordered to kill themselves rather than being taken prisoner."
        ),
        CAPTION_001,
        "By Kontur and AFP |",
        (
            "SEOUL/KYIV -- About 300 North Korean soldiers have been killed and 2,700 wounded while fighting "
            "in Russia's war against Ukraine, a South Korean lawmaker said Monday (January 13), citing "
            "information from Seoul's spy agency."
        ),
        "Prepared to die",
        "Tricked into deployment",
        "'Indisputable evidence'",
        (
            '"We cannot comment in any way; we do not know what is true there," Kremlin spokesman Dmitry '
            "Peskov said."
        ),
        (
            "Russia and North Korea have boosted their military ties since Moscow's invasion of Ukraine, "
            "though neither has confirmed that Pyongyang's forces are fighting for Moscow."
        ),
    ],
    "002": [
        TITLE_002,
        (
            "They are fighting alongside the Russians. Some 300 North Korean soldiers were killed out of the "
            "thousands deployed by Pyongyang in Russia"
        ),
        (
            "Lee Seong-kweun told reporters after a South Korean intelligence briefing. . “Notes found on "
            "dead soldiers"
        ),
        "North Koreans questioned in Ukraine",
        "Military training in November",
        "soldiers’ ‘hopes to join Workers’ Party (ruling North Korea) or benefit from an amnesty”",
        "For those “who do not wish to return (to their country), there could be other possible options,”",
        "The two countries are notably linked by a mutual defense pact ratified in November.",
    ],
    "003": [
        TITLE_003,
        "Ukraine has since said it would exchange the POWs for Ukrainian soldiers held in Russia.",
        (
            "ON SATURDAY, UKRAINE’S President Volodymyr Zelenskyy shared an\xa0interrogation video, taken of "
            "two wounded North Korean soldiers captured by Ukrainian forces."
        ),
        "Until now,\xa0 North Korean troops’ involvement in the war remained unverified.",
        "“There may be other options available,” he said in the X post with the video.",
        (
            "North Korean soldiers earn nearly $2,000 per month in Russia, a sum unimaginable in their "
            "homeland."
        ),
        (
            "“We continue to discuss the possibility of exchanges, which is not easy work.. but for us the "
            "life of every Russian soldier is important,” Peskov added."
        ),
        "With reporting by AFP",
    ],
    "004": [
        (
            "Ukrainian President Volodymyr Zelenskyy announced the capture of two North Korean soldiers in "
            "Russia’s Kursk region"
        ),
        (
            "There should be no doubt left in the world that the Russian army is dependent on military "
            "assistance from North… pic.twitter.com/4RyCfUoHoC"
        ),
        "— Volodymyr Zelenskyy / Володимир Зеленський (@ZelenskyyUa) January 12, 2025",
        (
            "North Korea deployed 12,000 troops to Russia last year, augmenting earlier support that included "
            "ammunition and ballistic missiles."
        ),
        (
            "Zelenskyy also suggested that North Korean soldiers who choose not to return home could remain "
            "in Ukraine to help disseminate truthful accounts of the conflict."
        ),
    ],
}

TITLES = {"000": None, "001": TITLE_001, "002": TITLE_002, "003": TITLE_003, "004": None}
SEEDS = sorted(KEEP)


@pytest.fixture(scope="module")
def cleaned() -> dict[str, CleanArticle]:
    return {key: clean_article(_seed(key)) for key in SEEDS}


@pytest.mark.parametrize("key", SEEDS)
def test_seed_boilerplate_removed(cleaned, key):
    result = cleaned[key]
    lines = _lines(result.text)
    for junk in BOILERPLATE[key]:
        assert junk not in lines, junk
        assert junk in result.removed, junk
    for fragment in BOILERPLATE_FRAGMENTS.get(key, []):
        assert fragment not in result.text, fragment


@pytest.mark.parametrize("key", SEEDS)
def test_seed_sentences_kept_verbatim(cleaned, key):
    for sentence in KEEP[key]:
        assert sentence in cleaned[key].text, sentence


FIRST_LAST = {
    "000": (CAPTION_000, "At a press briefing, Koo Byoung-sam, spokesman for the Ministry of Unifcation,"),
    "001": (TITLE_001, "Russia and North Korea have boosted their military ties since Moscow's invasion"),
    "002": (TITLE_002, "In December, Volodymyr Zelensky said that nearly 3,000 North Korean soldiers"),
    "003": (TITLE_003, "With reporting by AFP"),
    "004": (
        "Ukrainian President Volodymyr Zelenskyy announced the capture",
        "The Kremlin declined to comment",
    ),
}


@pytest.mark.parametrize("key", SEEDS)
def test_seed_first_and_last_lines(cleaned, key):
    """Nothing real is trimmed at either end, no junk is left at either end."""
    lines = _lines(cleaned[key].text)
    first, last = FIRST_LAST[key]
    assert lines[0].startswith(first)
    assert lines[-1].startswith(last)


@pytest.mark.parametrize("key", SEEDS)
def test_seed_only_whole_lines_removed(cleaned, key):
    """Every output line is an input line, unchanged (offset-safe); order is preserved."""
    original = [line.strip() for line in _seed(key).split("\n")]
    out = _lines(cleaned[key].text)
    it = iter(original)
    assert all(any(line == o for o in it) for line in out)
    # and every dropped non-blank line is accounted for in `removed`
    assert len([o for o in original if o]) == len(out) + len(cleaned[key].removed)


@pytest.mark.parametrize("key", SEEDS)
def test_seed_titles(cleaned, key):
    assert cleaned[key].title == TITLES[key]


def test_repeated_headline_002_once(cleaned):
    assert cleaned["002"].text.count(TITLE_002) == 1
    assert cleaned["002"].text.startswith(TITLE_002 + "\n\n")
    assert cleaned["002"].removed.count(TITLE_002) == 2


def test_repeated_captions_001_once(cleaned):
    assert cleaned["001"].text.count(CAPTION_001) == 1
    assert cleaned["001"].text.count(CAPTION_001_B) == 1


def test_repeated_caption_000_once(cleaned):
    text = cleaned["000"].text
    assert text.count(CAPTION_000) == 1
    assert text.startswith(CAPTION_000 + "\n")  # first occurrence is the one kept


def test_kicker_before_headline_dropped(cleaned):
    assert cleaned["001"].text.startswith(TITLE_001 + "\n\n")
    assert "Security Service of Ukraine" in cleaned["001"].text  # the word itself is fine inside text


def test_paragraph_structure_preserved(cleaned):
    # 001/002/003 use blank lines between paragraphs; 000/004 use single newlines.
    for key in ("001", "002", "003"):
        assert "\n\n" in cleaned[key].text
        assert re.search(r"[^\n]\n[^\n]", cleaned[key].text) is None, key
    for key in ("004",):
        assert "\n\n" not in cleaned[key].text
    assert "\n\n\n" not in "".join(c.text for c in cleaned.values())


@pytest.mark.parametrize("key", SEEDS)
def test_seed_idempotent(cleaned, key):
    once = cleaned[key]
    twice = clean_article(once.text)
    assert twice.text == once.text
    assert twice.removed == ()


@pytest.mark.parametrize("key", SEEDS)
def test_seed_deterministic(cleaned, key):
    assert clean_article(_seed(key)) == cleaned[key]


def test_whitespace_normalisation_only_around_lines():
    raw = "\ufeff  Headline here now  \r\n\r\n\r\n\r\nFirst  para „quoted“ ’x’.\u200b  \r\n\n\n\nSecond para.\n\n"
    result = clean_article(raw)
    assert result.text == "Headline here now\n\nFirst  para „quoted“ ’x’.\n\nSecond para."
    assert result.title == "Headline here now"


def test_no_title_for_plain_sentence_start():
    assert clean_article("This is a sentence.\n\nAnother one.").title is None
    assert clean_article("").text == ""
    assert clean_article("").title is None


def test_generic_boilerplate_patterns():
    raw = "\n".join(
        [
            "Storm closes schools across the north",
            "",
            "Schools in three provinces were closed on Monday after heavy snow.",
            "ADVERTISEMENT",
            "Story continues below advertisement",
            "***",
            "“We need your help,” the mayor told reporters on Monday.",
            "Sign up for our morning newsletter",
            "Share on Facebook",
            "READ MORE: Snow expected to continue all week",
            "https://t.co/abc123",
            "WatchMayor speaks to residents",
            "Next week, officials will review the response.",
            "We use cookies to give you the best experience. Accept all cookies",
            "© 2025 Northern Courier. All rights reserved.",
            "The storm is expected to ease by Thursday.",
            "Next article: Central bank holds rates steady",
            "Share on Facebook · Share on X · Copy link",
            "Tags: snow, schools, northern provinces",
            "By Priya Nair | Published 3 March 2025 | 4 min read",
        ]
    )
    result = clean_article(raw)
    assert _lines(result.text) == [
        "Storm closes schools across the north",
        "Schools in three provinces were closed on Monday after heavy snow.",
        "“We need your help,” the mayor told reporters on Monday.",
        "Next week, officials will review the response.",
        "The storm is expected to ease by Thursday.",
    ]
    assert result.title == "Storm closes schools across the north"


NEWS_SENTENCES_WITH_BOILERPLATE_WORDS = [
    "“We need your help,” Zelenskyy told allies in Davos.",
    "Finland will become a member of NATO next year.",
    "Allies have stepped up their support for Ukraine.",
    "The government will make a monthly payment of $500 to families.",
    "The foundation announced a $5m donation to support local journalism.",
    "The newspaper introduced a paywall in 2019.",
    "By continuing to use coal, the country misses its climate targets.",
    "Next week, the ministers will meet in Brussels.",
    "NEXT WEEK, THE MINISTERS WILL MEET IN BRUSSELS.",
    "Video footage showed the men in hospital bunks.",
    "Close to 3,000 soldiers have been killed or wounded.",
    "The regulator fined the company over its cookie consent banners.",
    "The leaked document. (It cost $5 (about £4).)",
    "Prepared to die",
    "Tags on the crates showed they had been shipped from Rotterdam.",
    "It takes about 4 minutes to read the full statement, she said.",
    "Print workers will strike on Friday.",
]


@pytest.mark.parametrize("sentence", NEWS_SENTENCES_WITH_BOILERPLATE_WORDS)
def test_news_sentences_with_boilerplate_words_kept(sentence):
    raw = f"Officials spoke on Monday.\n{sentence}\nThe talks continue."
    assert sentence in _lines(clean_article(raw).text)


def test_leaked_code_lines_dropped():
    raw = (
        "Officials confirmed the figures on Monday.\n"
        "window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}\n"
        ".article p { line-height: 1.6; color: #333; }\n"
        "The report will be published next week."
    )
    assert _lines(clean_article(raw).text) == [
        "Officials confirmed the figures on Monday.",
        "The report will be published next week.",
    ]


# --------------------------------------------------------------------------- #
# HTML fixtures
# --------------------------------------------------------------------------- #

HTML_LEAKS = [
    "<script",
    "</",
    "function(",
    "function (",
    "gtag",
    "dataLayer",
    "googletag",
    "font-family",
    "line-height",
    "display:flex",
    "{",
    "}",
    "@context",
    "&amp;",
    "&#",
    "&mdash;",
    "&quot;",
    "&copy;",
    "cookie",
    "newsletter",
    "All rights reserved",
    "Privacy",
]

HTML_CASES = {
    "news_page.html": {
        "title": "Seoul says 300 North Korean soldiers killed in Russia",
        "keep": [
            (
                "About 300 North Korean soldiers have been killed and 2,700 wounded while fighting in Russia's "
                "war against Ukraine, a South Korean lawmaker said on Monday, citing the country's spy agency."
            ),
            (
                "The National Intelligence Service told members of parliament that memos found on dead soldiers "
                "showed they had been pressured to take their own lives rather than be captured."
            ),
            "Ukraine said at the weekend that it had captured two North Korean soldiers in the Kursk region",
            "One of the men said he had been told he was going to a training exercise",
            (
                "President Volodymyr Zelenskyy offered to hand the prisoners back to Pyongyang in exchange for "
                "Ukrainian soldiers held in Russia."
            ),
        ],
        "junk": [
            "We use cookies",
            "Accept all",
            "Manage preferences",
            "Subscribe for",
            "Sign up",
            "morning briefing",
            "Email address",
            "Related stories",
            "Kim Jong Un visits missile factory",
            "Russia and North Korea sign defence pact",
            "About us",
            "Terms and conditions",
            "The Daily Ledger",
            "Politics",
            "Opinion",
        ],
    },
    "donation_pager.html": {
        "title": "Captured soldier asks to stay in Ukraine",
        "keep": [
            (
                "Ukrainian President Volodymyr Zelenskyy shared an interrogation video on Saturday showing two "
                "wounded North Korean soldiers captured by Ukrainian forces in the Kursk region."
            ),
            "The soldiers said they had been told they were being deployed for military exercises",
            (
                "One of the men said he wanted to live in Ukraine, while the other said he would do what he was "
                "told but hoped to return home."
            ),
            "South Korea's National Intelligence Service confirmed the capture on Sunday",
            (
                "The Kremlin declined to comment on the videos, with spokesman Dmitry Peskov saying Moscow did "
                "not know what was true there."
            ),
        ],
        "junk": [
            "We need your help",
            "readers like you",
            "please contribute",
            "Contribute",
            "Advertisement",
            "PREV",
            "NEXT",
            "PSG defeats City",
            "Hungarian Farmers",
            "Close",
            "News in 60 seconds",
            "JournalTv",
            "ads.example.com",
        ],
    },
    "entities_figure.html": {
        "title": "‘Indisputable evidence’: N. Korean soldiers captured in Kursk",
        "keep": [
            (
                "SEOUL/KYIV — About 300 North Korean soldiers have been killed and 2,700 wounded, a South Korean "
                "lawmaker said Monday, citing Seoul’s spy agency."
            ),
            (
                'sent more than 10,000 soldiers as "cannon fodder" to help Moscow & in return receives Russian '
                "technical assistance."
            ),
            (
                "the capture provided “indisputable evidence of the DPRK’s participation in Russia’s war” against "
                "Ukraine."
            ),
            "the SBU said <citing interrogators>.",
            (
                "Both men are receiving medical care and are “held in appropriate conditions that meet the "
                "requirements of international law,” the agency added."
            ),
        ],
        "junk": ["adUnit", "renderAd", "mid-article", "Kontur. All rights", "Do you like this article", "©"],
    },
    "div_soup.html": {
        "title": "Pyongyang told troops to avoid capture, lawmaker says",
        "keep": [
            (
                "North Korean soldiers sent to fight for Russia were ordered to kill themselves rather than be "
                "taken prisoner, a South Korean lawmaker said after a closed-door intelligence briefing."
            ),
            "memos recovered from the bodies of dead soldiers",
            "membership of the ruling Workers’ Party in exchange for fighting",
            (
                "Ukraine has offered to exchange the two prisoners for Ukrainian soldiers held by Russia, "
                "President Volodymyr Zelenskyy said on Sunday."
            ),
            (
                "Two soldiers captured by Ukraine this month are being held in Kyiv and questioned with the help "
                "of Korean interpreters."
            ),
        ],
        "junk": [
            "ADVERTISEMENT",
            "This website uses cookies",
            "Most read",
            "Snowstorm closes schools",
            "Central bank holds rates",
            "Log in",
            "Copyright",
            "Economy",
        ],
    },
}


@pytest.fixture(scope="module")
def cleaned_html() -> dict[str, CleanArticle]:
    return {name: clean_article(_html(name), is_html=True) for name in HTML_CASES}


def test_at_least_three_html_fixtures():
    assert len(list(HTML_DIR.glob("*.html"))) >= 3


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_article_kept(cleaned_html, name):
    text = cleaned_html[name].text
    for sentence in HTML_CASES[name]["keep"]:
        assert sentence in text, sentence


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_junk_dropped(cleaned_html, name):
    text = cleaned_html[name].text
    for junk in HTML_CASES[name]["junk"] + HTML_LEAKS:
        assert junk not in text, junk


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_title(cleaned_html, name):
    assert cleaned_html[name].title == HTML_CASES[name]["title"]


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_paragraphs_blank_line_separated(cleaned_html, name):
    raw_text, _ = html_to_text(_html(name))
    assert re.search(r"[^\n]\n[^\n]", raw_text) is None
    assert "\n\n\n" not in raw_text
    text = cleaned_html[name].text
    assert re.search(r"[^\n]\n[^\n]", text) is None
    assert len(text.split("\n\n")) >= 5


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_idempotent_and_deterministic(cleaned_html, name):
    result = cleaned_html[name]
    assert clean_article(result.text).text == result.text
    assert clean_article(_html(name), is_html=True) == result


def test_html_repeated_figcaption_at_most_once(cleaned_html):
    caption = "A captured North Korean soldier is shown in a video posted by the SBU on January 11."
    assert cleaned_html["entities_figure.html"].text.count(caption) <= 1


def test_html_edge_cases_do_not_raise():
    assert clean_article("", is_html=True).text == ""
    assert clean_article("   ", is_html=True).text == ""
    tiny = clean_article(
        "<html><body><p>Officials confirmed the figures on Monday.</p></body></html>", is_html=True
    )
    assert tiny.text == "Officials confirmed the figures on Monday."
    broken = clean_article("<div><p>Unclosed <b>tag &amp; entity<script>var x = 1;</script>", is_html=True)
    assert broken.text == "Unclosed tag & entity"
    declared = clean_article(
        '<?xml version="1.0" encoding="utf-8"?><html><head><title>Figures</title></head>'
        "<body><p>Officials confirmed the figures on Monday.</p></body></html>",
        is_html=True,
    )
    assert declared.text == "Officials confirmed the figures on Monday."
    assert declared.title == "Figures"


def test_html_short_page_nav_footer_never_leak():
    """Even when the extractor falls back to its baseline, page furniture stays out."""
    page = (
        "<html><head><title>T &amp; U</title><style>p{color:red}</style></head><body>"
        '<header><a href="/">Logo Site</a></header><nav>Home World</nav>'
        '<div class="cookie-notice">We use cookies. OK</div>'
        "<p>Only one short para.</p><footer>Footer links</footer>"
        "<script>function f(){return 1;}</script></body></html>"
    )
    result = clean_article(page, is_html=True)
    assert result.text == "Only one short para."
    assert result.title == "T & U"


def test_a_line_break_inside_a_sentence_is_a_space_and_one_between_sentences_a_break():
    """<br> before a lowercase word continues its sentence (a tester's page was cited in fragments,
    "and will take three years."); before a capital it may start a new line of an address or a list."""
    page = (
        "<html><body><article><h1>Hebden Bridge works</h1><p>The council approved flood works on "
        "Tuesday after years of delay.<br>Work begins in September<br/>and will take three years.</p>"
        "<p>Residents welcomed the news.</p></article></body></html>"
    )
    assert clean_article(page, is_html=True).text.split("\n\n")[1:] == [
        "The council approved flood works on Tuesday after years of delay.",
        "Work begins in September and will take three years.",
        "Residents welcomed the news.",
    ]


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #

_SAMPLE_LINES = [
    "Advertisement",
    "We need your help now",
    "Support from readers like you keeps The Journal open.",
    "Security",
    "Close",
    "-",
    "--",
    "PREV Some other headline",
    "NEXT Another headline here",
    "VideoTwo soldiers captured",
    "Captcha *",
    "Do you like this article?",
    "Short headline line",
    "War in Ukraine: soldiers encouraged to avoid capture, says Seoul",
    "The soldiers were captured on Saturday in the Kursk region.",
    "„Quoted“ text with ’curly’ marks  and double  spaces.",
    "A captured North Korean soldier is shown in Ukrainian custody in a video.",
    "",
    "   ",
    "\u200b",
    "\ufeff",
]

_line = st.one_of(st.sampled_from(_SAMPLE_LINES), st.text(max_size=60))
_doc = st.lists(st.tuples(_line, st.sampled_from(["\n", "\n\n", "\r\n", "\r", "\n\n\n\n"])), max_size=25).map(
    lambda parts: "".join(line + sep for line, sep in parts)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_doc)
def test_property_never_raises_and_idempotent(raw):
    once = clean_article(raw)
    assert isinstance(once.text, str)
    twice = clean_article(once.text)
    assert twice.text == once.text
    assert twice.removed == ()
    assert "\n\n\n" not in once.text
    assert once.text == once.text.strip()
    assert clean_article(raw) == once  # deterministic


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_property_random_text_output_lines_come_from_input(raw):
    once = clean_article(raw)
    normalised = visible_text(raw).replace("\r\n", "\n").replace("\r", "\n")
    for zw in "\ufeff\u200b\u2060":
        normalised = normalised.replace(zw, "")
    source = [line.strip() for line in normalised.split("\n")]
    for line in once.text.split("\n"):
        assert line == "" or line in source or _joins_lines(line, [x for x in source if x], set(once.removed))
    assert clean_article(once.text).text == once.text


def _joins_lines(line: str, source: list[str], removed: set[str]) -> bool:
    """line is two or more source lines in their order joined by single spaces (a hard-wrapped
    paragraph unwrapped), with none between them but lines the cleaner removed."""
    for k in range(len(source)):
        rest, j, joined = line, k, 0
        while j < len(source):
            s = source[j]
            if rest.startswith(s) and rest[len(s) : len(s) + 1] in ("", " "):
                rest, joined = rest[len(s) + 1 :], joined + 1
                if len(rest) == 0 and line.endswith(s):
                    return joined > 1
            elif not (joined and s in removed):
                break
            j += 1
    return False


def test_a_hard_wrapped_paragraph_is_one_line_again() -> None:
    """Lines cut at a fixed width (a PDF's, a wrapped .txt) are joined within their paragraph, so no
    sentence ends at a wrap; the headline above them and the blank line between paragraphs stay.
    Text written a paragraph a line, however short its lines, is left as it is."""
    wrapped = (
        "Hundreds evacuated as the river Tay floods Perth\n\n"
        "The river Tay flooded the town of Perth on Monday night, and 200\n"
        "homes were evacuated by the fire brigade, the council said on\n"
        "Tuesday.\n\n"
        "Forecasters expect the water to fall by the weekend, although more rain\n"
        "is due in the hills on Thursday, the agency added."
    )
    assert clean_article(wrapped).text == (
        "Hundreds evacuated as the river Tay floods Perth\n\n"
        "The river Tay flooded the town of Perth on Monday night, and 200 homes were evacuated by the "
        "fire brigade, the council said on Tuesday.\n\n"
        "Forecasters expect the water to fall by the weekend, although more rain is due in the hills "
        "on Thursday, the agency added."
    )
    tiny = "The river Tay flooded the town of Perth on\nMonday night, and 200 homes were evacuated\nby the fire brigade, the council said."
    assert clean_article(tiny).text == tiny.replace("\n", " ")
    by_paragraph = "Flood in Perth\nThe river rose overnight.\nTwo hundred homes were evacuated.\nThe council said so.\nRain is due again."
    assert clean_article(by_paragraph).text == by_paragraph
    listed = "Closed roads\nA9 at Dalwhinnie\nA82 at Glencoe\nM90 at Perth"
    assert clean_article(listed).text == listed  # lines too short to be a wrap width


def test_a_short_wrapped_paragraph_is_joined_where_a_line_goes_on_in_lower_case() -> None:
    """A paragraph too short to show a wrap width is still one line again where a line stops
    mid-sentence and the next goes on in lower case; its first line is then no headline, so the
    headline above it stays (it was once taken for a section kicker and dropped)."""
    cases = {
        "Mayor resigns\n\nMayor Olga Petrov resigned on Friday after nine years in office,\nciting health reasons.\n": (
            "Mayor resigns",
            "Mayor Olga Petrov resigned on Friday after nine years in office, citing health reasons.",
        ),
        "Bridge to close for repairs\n\nThe Dunmore bridge will close on Tuesday for repairs expected to last\neleven weeks, the county said.\n": (
            "Bridge to close for repairs",
            "The Dunmore bridge will close on Tuesday for repairs expected to last eleven weeks, the county said.",
        ),
        "Quarry expansion approved\n\nThe quarry will expand\nafter a vote.\n": (
            "Quarry expansion approved",
            "The quarry will expand after a vote.",
        ),
    }
    for raw, (title, body) in cases.items():
        cleaned = clean_article(raw)
        assert (cleaned.title, cleaned.text) == (title, f"{title}\n\n{body}"), raw
    # a line that ends its sentence, or a next line in upper case, stays a line of its own
    kept = "Bridge\n\nThe bridge will close.\nIt reopens in May.\nroadworks follow"
    assert clean_article(kept).text == kept
    # a kicker above a headline that stands alone is still dropped
    kicked = clean_article(
        "Security\nNorth Korean troops captured in Kursk region\n\nThe two were taken on Thursday."
    )
    assert kicked.text.startswith("North Korean troops captured") and "Security" in kicked.removed


def test_every_kind_of_line_end_is_a_line_end() -> None:
    """NEL (U+0085), the line and paragraph separators and the information separators U+001C-U+001E
    end lines, as str.splitlines reads them: never dropped as control characters between two words."""
    raw = (
        "School roof in Quarrington\x85\x85The roof was repaired in August for 48,000 pounds.\x85The head "
        "teacher said pupils returned.\x1cThe school has 310 pupils.\u2028It opened in 1911.\u2029Parents\x1fcheered."
    )
    assert clean_article(raw).text == (
        "School roof in Quarrington\n\nThe roof was repaired in August for 48,000 pounds.\nThe head teacher "
        "said pupils returned.\nThe school has 310 pupils.\nIt opened in 1911.\n\nParents cheered."
    )


def test_a_report_pasted_as_one_line_is_not_taken_for_an_appeal() -> None:
    """A whole report without its line breaks mentions donations, subscribers and newsletters often
    enough to score as a donation box; it was dropped, leaving only its headline."""
    stories = [
        "The museum thanked donors for contributions that paid for the new roof.",
        "Subscribers to the council newsletter were told of the road closures on Monday.",
        "The trust said journalism students would run the local paper over the summer.",
        "Residents kept the library open by volunteering on Saturdays, the mayor said.",
    ]
    report = " ".join(stories * 12)
    assert len(report) > 2000
    cleaned = clean_article(f"Town round-up\n\n{report}")
    assert cleaned.text == f"Town round-up\n\n{report}"
    box = "Support our journalism: subscribe to our newsletter, or make a monthly payment. Donations keep us independent."
    assert clean_article(f"Town round-up\n\n{stories[0]}\n\n{box}").text == f"Town round-up\n\n{stories[0]}"


def test_joiners_that_spell_words_are_kept() -> None:
    """The zero-width non-joiner and joiner are part of Persian and Indic spelling and of emoji
    sequences; only invisible noise (BOM, zero-width space, word joiner) is dropped."""
    persian, family, hindi = (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "\U0001f469\u200d\U0001f467",
        "\u0915\u094d\u200d\u0937",
    )
    raw = f"Words: {persian} and {family} and {hindi} in one line.\u200b\u2060"
    assert clean_article(raw).text == f"Words: {persian} and {family} and {hindi} in one line."


@settings(max_examples=20, deadline=None)
@given(st.text(max_size=200))
def test_property_html_never_raises(raw):
    result = clean_article(raw, is_html=True)
    assert clean_article(result.text).text == result.text


# --------------------------------------------------------------------------- #
# Titles: a picture credit or caption is never the headline
# --------------------------------------------------------------------------- #

HEADLINE = "Harbour reopens after three-day storm"
BODY = "The harbour reopened on Sunday after the storm. Fourteen boats were damaged."


@pytest.mark.parametrize(
    "above",
    [
        "Photo: Reuters",
        "PHOTO: AFP",
        "(AP Photo/John Smith)",
        "Image credit NASA/JPL",
        "Image credit: Jane Doe for The Gazette",
        "Photograph: Kim Hong-Ji/Reuters",
        "REUTERS/Kim Hong-Ji",
        "Pictures courtesy of the coastguard",
        "© Jane Doe",
        "[Getty Images]",
        "Rescuers search the harbour wall on Sunday.\nPhoto: Reuters",  # a caption, then its credit
    ],
)
def test_credit_or_caption_above_the_headline_is_not_the_title(above: str) -> None:
    assert clean_article(f"{above}\n\n{HEADLINE}\n\n{BODY}").title == HEADLINE


@pytest.mark.parametrize(
    "credit",
    [
        "(AP Photo/John Smith)",
        "Picture: Getty Images",
        "REUTERS/Kim Hong-Ji",
        "(Reporting by Jane Doe; Editing by Sam Roe)",
    ],
)
def test_a_credit_line_in_the_body_is_page_furniture(credit: str) -> None:
    cleaned = clean_article(
        f"{HEADLINE}\n\nThe harbour reopened on Sunday.\n{credit}\nFourteen boats were damaged."
    )
    assert credit not in cleaned.text and credit in cleaned.removed
    assert (
        "The harbour reopened on Sunday." in cleaned.text and "Fourteen boats were damaged." in cleaned.text
    )


@pytest.mark.parametrize("line", ["Photo sharing app banned in two states", "Source code leak hits bank"])
def test_lines_that_start_with_picture_words_stay_in_the_body(line: str) -> None:
    assert line in clean_article(f"{HEADLINE}\n\n{BODY}\n{line}\n{BODY}").text


def test_headline_followed_by_its_pictures_credit_stays_the_title() -> None:
    assert clean_article(f"{HEADLINE}\n\nPhoto: Reuters\n\n{BODY}").title == HEADLINE


@pytest.mark.parametrize(
    "headline",
    [
        "Photo sharing app banned in two states",
        "Image of the week wins award",
        "Pictures show rescue on the island",
        "Credit Suisse shares fall again",
        "Source code leak hits bank",
        "Video games sales rise in March",
    ],
)
def test_headlines_that_start_with_picture_words_are_still_titles(headline: str) -> None:
    assert clean_article(f"{headline}\n\n{BODY}").title == headline


def test_credit_alone_never_becomes_the_title() -> None:
    assert clean_article(f"Photo: Reuters\n\n{BODY}").title is None


def test_html_title_that_is_a_credit_falls_back_to_the_headline() -> None:
    page = (
        "<html><head><title>Photo: Reuters</title></head><body><article>"
        f"<h1>{HEADLINE}</h1><p>{BODY}</p></article></body></html>"
    )
    assert clean_article(page, is_html=True).title == HEADLINE


@pytest.mark.parametrize("depth", [300, 3000, 50_000])
def test_a_page_nested_past_the_parsers_limit_keeps_its_text(depth: int) -> None:
    """libxml2 drops what is nested deeper than 256 elements: a page of 300 unclosed <div>s (or a
    tester's 50,000) was "nothing left after cleaning"."""
    body = (
        "<p>The harbour reopened on Monday after the storm damaged fourteen boats.</p>"
        "<p>Officials said repairs would take a month.</p>"
    )
    for opening in ("<div class='wrap'>", "<font size=2>"):
        page = f"<html><head><title>Harbour</title></head><body>{opening * depth}{body}</body></html>"
        text, title = html_to_text(page)
        assert "fourteen boats." in text and "take a month." in text and title == "Harbour", text[:200]
        assert "\n\n" in text  # still two paragraphs


def test_a_tag_with_thousands_of_attributes_is_read_with_its_first_few() -> None:
    """One <p> with 200,000 attributes held a core for minutes (libxml2, readability and justext
    spend the square of a tag's attribute count): past MAX_ATTRIBUTES they are left out before
    parsing, with or without values, and the text is read as ever."""
    from retrieval.clean import MAX_ATTRIBUTES, _fewer_attributes

    sentence = "The Dunmore ferry carried 12 cars on Monday."
    for attrs in (" ".join(f"a{i}=b" for i in range(200_000)), " ".join(f"a{i}" for i in range(200_000))):
        page = f"<html><body><article><p {attrs}>{sentence}</p></article></body></html>"
        fewer = _fewer_attributes(page)
        assert fewer.count(" a") == MAX_ATTRIBUTES and len(fewer) < 2_000, fewer[:100]
        text, _ = html_to_text(page)
        assert text == sentence
    # ordinary tags are left exactly as they are, long ones (a data: URI) and quoted ">" included
    ordinary = (
        '<p class="lead" id=top>One</p><img alt="a > b" src="data:image/png;base64,' + "A" * 5000 + '">'
    )
    assert _fewer_attributes(ordinary) == ordinary
