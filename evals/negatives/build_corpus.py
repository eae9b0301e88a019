"""Build evals/negatives/articles/ from the original seed articles.

Removes, from copies of the five articles (same file names), every sentence
that states the answer to one of the questions in evals/negatives.yaml.
Everything else is copied unchanged. Usage:
    python evals/negatives/build_corpus.py data/articles evals/negatives/articles
SRC_DIR holds the original articles (e.g. data/articles or /work/shared/articles).
"""

import os
import sys

# (file stem, exact sentence to remove, question ids it serves)
REMOVALS = [
    (
        "000_1f27be4f6778983b",
        "The Nationwide Intelligence Service (NIS) instructed members of the Nationwide Meeting’s Intelligence Committee that the troops had been directed by their regime in Pyongyang to kill themselves or conduct suicide bombing assaults, if deemed crucial, to keep away from being captured, in line with Rep. Lee Seong-kweun of the ruling Folks Energy Get together.",
        "n021",
    ),
    (
        "000_1f27be4f6778983b",
        "He mentioned he began to participate in what he thought was a army train on Jan. 3 and hid himself inside an air-raid shelter till being captured after seeing a few of his fellow troopers die.",
        "n005 n006",
    ),
    (
        "000_1f27be4f6778983b",
        "“Almost certainly, he could be executed upon arrival,” mentioned Oh Gyeong-seob, a senior researcher on the Korea Institute for Nationwide Unification, a state-funded suppose tank.",
        "n008 n009",
    ),
    (
        "000_1f27be4f6778983b",
        "For Oh, probably the most stunning a part of the video was that the Kim regime had withheld the reality from the troopers when it despatched them to Russia.",
        "n019",
    ),
    (
        "000_1f27be4f6778983b",
        "“This implies that the regime thinks that there isn’t a legitimacy in Russia’s conflict,” he mentioned.",
        "n019",
    ),
    (
        "000_1f27be4f6778983b",
        "Specialists additionally imagine the North Korean captives shall be handled as POWs underneath the Geneva Conventions.",
        "n007",
    ),
    (
        "000_1f27be4f6778983b",
        "“Despite the fact that North Korea and Russia deny their army cooperation, they had been apparently North Koreans and captured whereas combating in conflict. They are going to be acknowledged as POWs,” mentioned Park Received-gon, a professor of North Korean research at Ewha Womans College.",
        "n010",
    ),
    (
        "000_1f27be4f6778983b",
        "At a press briefing, Koo Byoung-sam, spokesman for the Ministry of Unifcation, mentioned a assessment of worldwide regulation and consultations with related international locations shall be crucial if the North Korean captives are to be dropped at South Korea.",
        "n023",
    ),
    (
        "001_794524467e95d7e1",
        'Seoul\'s National Intelligence Service (NIS) told AFP it had "confirmed that the Ukrainian military captured two North Korean soldiers on January 9 in the Kursk battlefield in Russia."',
        "n027",
    ),
    (
        "001_794524467e95d7e1",
        "He added that some of the soldiers had been granted \"amnesty\" or wanted to join North Korea's ruling Workers' Party, hoping to improve their lot by fighting.",
        "n017 n021",
    ),
    (
        "001_794524467e95d7e1",
        "A doctor at the detention center said the first man also had a broken leg.",
        "n004",
    ),
    (
        "001_794524467e95d7e1",
        'It said one POW carried a Russian military ID card "issued in the name of another person" while the other had no documents.',
        "n016",
    ),
    (
        "001_794524467e95d7e1",
        "It showed an ID issued to a 26-year-old man from Russia's Tuva region bordering Mongolia.",
        "n001",
    ),
    (
        "001_794524467e95d7e1",
        "Ukraine has said Russia is hiding North Korean fighters by giving them fake IDs from regions such as Tuva with large ethnic minority communities.",
        "n001",
    ),
    (
        "001_794524467e95d7e1",
        '"The Russians are giving these Koreans their documents, but they are not fooling anyone," Zelenskyy said.',
        "n026",
    ),
    (
        "001_794524467e95d7e1",
        'One prisoner said he had received the Tuvan ID in Russia in autumn 2024 when some North Korean combat units had "one-week interoperability training" with Russian units, the SBU said.',
        "n001",
    ),
    (
        "001_794524467e95d7e1",
        'The man said he believed he was "going for training, not to fight a war against Ukraine," adding that he was a rifleman born in 2005 and had been in the North Korean army since 2021.',
        "n003",
    ),
    (
        "001_794524467e95d7e1",
        "The other man, who wrote his answers because of an injured jaw, said he was born in 1999, had joined the army in 2016 and was a scout sniper, according to the SBU.",
        "n002",
    ),
    (
        "001_794524467e95d7e1",
        "It said the men were captured separately by special forces and paratroopers.",
        "n025",
    ),
    (
        "002_4bbc6bcd65a358a5",
        "Rep. Lee Seong-kweun says memos recovered from corpses reveal North Korea is using soldiers’ ‘hopes to join Workers’ Party (ruling North Korea) or benefit from an amnesty” to send them into combat, suggesting that some could be prisoners in their country.",
        "n017 n021",
    ),
    (
        "002_4bbc6bcd65a358a5",
        "In December, Volodymyr Zelensky said that nearly 3,000 North Korean soldiers had been “killed or injured” there, while Seoul put the figure at 1,000.",
        "n015",
    ),
    (
        "003_1fa2c497d19502d3",
        "On 23 October 2024, US Defense Secretary Lloyd Austin confirmed American evidence of North Korean forces in Russia, whose intentions were initially ‘unknown’.",
        "n022",
    ),
    (
        "003_1fa2c497d19502d3",
        "During the BRICS summit in Kazan on 24 October, Putin’s response to questions about satellite images of North Korean troops marked a significant shift from previous denials.",
        "n011",
    ),
    (
        "003_1fa2c497d19502d3",
        "“Images are a serious thing. If there are images, then they reflect something,” he stated.",
        "n011",
    ),
    (
        "003_1fa2c497d19502d3",
        "That same day, Russia’s State Duma ratified a strategic partnership agreement with North Korea, with Article 4 committing both countries to “immediately provide military and other assistance by all means” if attacked.",
        "n012",
    ),
    (
        "003_1fa2c497d19502d3",
        "Ukrainian troops are looking to do damage to Russia’s military, capture soldiers, push artillery out of range, and crimp supply lines to Ukraine’s eastern front.",
        "n020",
    ),
    (
        "003_1fa2c497d19502d3",
        "North Korean soldiers earn nearly $2,000 per month in Russia, a sum unimaginable in their homeland.",
        "n013",
    ),
    (
        "003_1fa2c497d19502d3",
        "Ukraine’s Security Service noted that one carried a Russian military ID registered to a person from the Republic of Tuva.",
        "n001",
    ),
    (
        "003_1fa2c497d19502d3",
        "“We continue to discuss the possibility of exchanges, which is not easy work.. but for us the life of every Russian soldier is important,” Peskov added.",
        "n014",
    ),
    (
        "004_44ab8f14aca57252",
        "North Korea deployed 12,000 troops to Russia last year, augmenting earlier support that included ammunition and ballistic missiles.",
        "n018",
    ),
    (
        "004_44ab8f14aca57252",
        "He emphasized that North Korea’s involvement underscores Russia’s increasing dependence on foreign military assistance, stating that Russia began the war with demands directed at NATO but now relies on support from Pyongyang.",
        "n024",
    ),
]

DROP = "\x00DROP\x00"


def build(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith(".txt"):
            continue
        stem = name[:-4]
        text = open(os.path.join(src, name), encoding="utf-8").read()
        lines = text.split("\n")
        for st, sent, _ in REMOVALS:
            if st != stem:
                continue
            hits = [i for i, line in enumerate(lines) if sent in line]
            assert len(hits) == 1 and lines[hits[0]].count(sent) == 1, (stem, sent, hits)
            i = hits[0]
            line = lines[i]
            a = line.index(sent)
            b = a + len(sent)
            # take the whitespace that separated it from the next sentence
            # (or, at the end of a line, from the previous one)
            while b < len(line) and line[b] in " \u00a0":
                b += 1
            if b == len(line):
                while a > 0 and line[a - 1] in " \u00a0":
                    a -= 1
            line = line[:a] + line[b:]
            lines[i] = DROP if line.strip() == "" else line
        # drop emptied lines; when an emptied line sat between blank lines
        # (paragraph layout), also drop one of those blank lines
        out = []
        for i, line in enumerate(lines):
            if line == DROP:
                continue
            if line == "" and i > 0 and lines[i - 1] == DROP:
                prev = next((x for x in reversed(out)), None)
                if prev == "" or prev is None:
                    continue
            out.append(line)
        # a dropped last line must not leave a trailing blank line behind
        while not text.endswith("\n") and out and out[-1] == "":
            out.pop()
        open(os.path.join(dst, name), "w", encoding="utf-8").write("\n".join(out))


if __name__ == "__main__":
    src = sys.argv[1]
    dst = (
        sys.argv[2]
        if len(sys.argv) > 2
        else os.path.join(os.path.dirname(os.path.abspath(__file__)), "articles")
    )
    build(src, dst)
