import gzip

import pytest
from bench.quality.corpora import load_chatterbot, load_foldoc, load_fortunes, load_wordnet

from modelfusion.errors import UserError
from modelfusion.evaluate import Example

WORDNET_LINES = [
    "  1 This software and database is being provided to you, the LICENSEE, by",
    "02084071 05 n 02 dog 0 domestic_dog 0 001 @ 02083346 n 0000 | a member of the genus Canis; "
    '"the dog barked all night"',
    "07609840 13 n 01 apple_pie 0 000 | pie containing sliced apples and sugar  ",
    "00001740 03 n 01 entity 0 000 | that which is perceived  ",
]


def test_wordnet_glosses_get_their_lexicographer_file(tmp_path):
    (tmp_path / "data.noun").write_text("\n".join(WORDNET_LINES) + "\n")
    got = load_wordnet(tmp_path, classes=("animal", "food"))
    assert got == [
        Example("dog: a member of the genus Canis", "animal"),
        Example("apple pie: pie containing sliced apples and sugar", "food"),
    ]


def test_fortunes_split_on_percent_lines(tmp_path):
    (tmp_path / "law").write_text("Law one\n  continues.\n%\n%\nLaw two.\n")
    (tmp_path / "food").write_text("Eat.\n%\n")
    got = load_fortunes(tmp_path, classes=("law", "food"))
    assert got == [Example("Law one continues.", "law"), Example("Law two.", "law"), Example("Eat.", "food")]


def test_chatterbot_conversations_are_joined_turns(tmp_path):
    (tmp_path / "ai.yml").write_text(
        "categories:\n- AI\nconversations:\n- - What is AI?\n  - A field.\n- - Are you a robot?\n  - Yes.\n"
    )
    got = load_chatterbot(tmp_path, classes=("ai",))
    assert got == [Example("What is AI? / A field.", "ai"), Example("Are you a robot? / Yes.", "ai")]


def test_chatterbot_malformed_file_names_the_file(tmp_path):
    (tmp_path / "ai.yml").write_text("just text\n")
    with pytest.raises(UserError, match=r"ai\.yml"):
        load_chatterbot(tmp_path, classes=("ai",))


def test_foldoc_entries_get_their_first_subject(tmp_path):
    text = (
        "00-database-short\n     The Free On-line Dictionary of Computing\n\n"
        "Ada\n\n   <language> A {Pascal}-descended language.\n\n   More text.\n\n   (2018-05-22)\n\n"
        "TCP\n\n   <networking, protocol> Transmission Control\n   Protocol.\n\n"
        "untagged\n\n   No subject here.\n"
    )
    path = tmp_path / "foldoc.dict.dz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(text)
    got = load_foldoc(path, classes=("language", "networking"))
    assert got == [
        Example("Ada: A Pascal-descended language. More text.", "language"),
        Example("TCP: Transmission Control Protocol.", "networking"),
    ]


def test_missing_data_names_the_path_and_the_package(tmp_path):
    with pytest.raises(UserError, match=r"data\.noun.*wordnet-base"):
        load_wordnet(tmp_path)
    with pytest.raises(UserError, match="fortunes"):
        load_fortunes(tmp_path / "nowhere")
    with pytest.raises(UserError, match="dict-foldoc"):
        load_foldoc(tmp_path / "foldoc.dict.dz")
