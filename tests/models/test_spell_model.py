"""The offline `spell` model on real typos and on prose it must leave alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llm_flows.config import load_config
from llm_flows.models import Prompt, Registry
from llm_flows.models.spell import SpellModel

TYPOS = (
    "I recieve teh letter definately. We seperate them, wich occured untill tommorow.\n"
    "I beleive we can accomodate that. Realy, thier goverment is greatful, basicly.\n"
    "Teh end came: an arguement about neccessary knowlege in the libary."
)
FIXED = (
    "I receive the letter definitely. We separate them, which occurred until tomorrow.\n"
    "I believe we can accommodate that. Really, their government is grateful, basically.\n"
    "The end came: an argument about necessary knowledge in the library."
)
TECHNICAL = """\
Run `pytest -q --recieve` and open https://example.com/recieve?q=teh or mail bob@exmaple.com.
The config_file and maxTokens settings live in ~/.config/llm-flows/config.toml (see README.md).
Ask Alice Smith, Guido or Linus about kwargs, regex, stdout, dict, repo, localhost and JSON;
use llama.cpp v0.3.2 with GGUF weights, call foo() then bar.baz(x), set TEH_FLAG=1 and x2.
The colour and behaviour of the centre were organised; unmerged, templated, versioned chunks
travelled through the pluggy hooks. Then Teh-Wei Lin, our Recieve team lead, said const.
"""


@pytest.fixture(scope="module")
def speller() -> SpellModel:
    return SpellModel("spell")


def test_fixes_common_typos_keeping_case_and_punctuation(speller: SpellModel) -> None:
    assert speller.correct(TYPOS) == FIXED


def test_technical_prose_comes_back_byte_identical(speller: SpellModel) -> None:
    assert speller.correct(TECHNICAL) == TECHNICAL


def test_clean_text_is_unchanged_and_whitespace_is_kept(speller: SpellModel) -> None:
    text = "  Nothing   is wrong here.\r\n\tReally,\u00a0nothing!  \n\n"
    assert speller.correct(text) == text


def test_personal_word_list_is_never_corrected() -> None:
    assert SpellModel("spell", words=["Recieve", "teh"]).correct("we recieve teh mail") == (
        "we recieve teh mail"
    )


def test_config_words_reach_the_default_model(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('words = ["wich"]\n', encoding="utf-8")
    model = Registry(load_config(path)).get_model(None)
    text = asyncio.run(model.respond(Prompt("tmpl", input="wich recieve")).text())
    assert text == "wich receive"


def test_works_on_the_input_not_the_template(speller: SpellModel) -> None:
    async def run() -> tuple[str, str | None]:
        response = speller.respond(Prompt("Correct this: teh", input="teh cat sat"))
        return await response.text(), response.finish_reason

    assert asyncio.run(run()) == ("the cat sat", "stop")


def test_many_concurrent_calls_share_one_dictionary(speller: SpellModel) -> None:
    async def run() -> list[str]:
        prompts = [Prompt(f"teh {i}", input=f"teh number {i}") for i in range(20)]
        return await asyncio.gather(*(speller.respond(p).text() for p in prompts))

    assert asyncio.run(run()) == [f"the number {i}" for i in range(20)]


README_PROSE = """\
Builds on sparc and arm; the output is parsable by tools. Thanks to Falk and
Alexandre for the port.
Falk wrote the libgo-testsuite: target, and libgo now builds. Alexandre fixed it.
Use set-iam-policy to grant access; the iam role is read by gcc-target-include-asm
and asm stays; _heapq and heapq too. Pack it with shar or util-linux. The shell imple\u2010
ments a language with app and lookup commands.
"""


def test_names_identifiers_and_broken_words_in_a_readme_are_left_alone(
    speller: SpellModel,
) -> None:
    assert speller.correct(README_PROSE) == README_PROSE


def test_a_capitalized_typo_at_a_sentence_start_still_becomes_a_common_word(
    speller: SpellModel,
) -> None:
    text = "Teh tool works. Recieve it here. Falk wrote it."
    assert speller.correct(text) == "The tool works. Receive it here. Falk wrote it."


def test_a_word_spelt_the_same_way_three_times_is_meant(speller: SpellModel) -> None:
    text = (
        "polkit is a toolkit for authorizations. Find polkit docs online;\n"
        "configure polkit with meson. We recieve mail and recieve calls.\n"
    )
    assert speller.correct(text) == text.replace("recieve", "receive")


def test_one_word_in_quotes_is_a_name(speller: SpellModel) -> None:
    text = 'It aims to be a "ccache" for patches, like \u201cccache\u201d. We recieve "teh news".\n'
    assert speller.correct(text) == text.replace("recieve", "receive").replace("teh", "the")


MISSPELT = (
    "There were fourty of them. The report was publically available untill it occured to\n"
    "us that we dont need seperate copies, wich I beleive is fine. Alot of people said\n"
    "they didnt notice; it was noticable, though, and the writting was wierd.\n"
)
MISSPELT_FIXED = (
    "There were forty of them. The report was publicly available until it occurred to\n"
    "us that we don't need separate copies, which I believe is fine. A lot of people said\n"
    "they didn't notice; it was noticeable, though, and the writing was weird.\n"
)


def test_well_known_misspellings_that_are_not_keyboard_slips(speller: SpellModel) -> None:
    assert speller.correct(MISSPELT) == MISSPELT_FIXED


def test_well_known_misspellings_keep_the_precision_rules(speller: SpellModel) -> None:
    text = (
        "Pass --dont-ask or set dont_ask=1 (see `fourty`); Dr Fourty and Wich Ltd agree.\n"
        "The FOURTY flag and https://example.com/publically stay as they are.\n"
    )
    assert speller.correct(text) == text
    assert SpellModel("spell", words=["dont"]).correct("we dont") == "we dont"


def test_every_entry_of_the_misspelling_table_is_used(speller: SpellModel) -> None:
    """An entry the dictionary knows as a word is never used: it would be dead weight."""
    table = speller.misspellings()
    assert len(table) > 150
    unused = {wrong: right for wrong, right in table.items() if speller.correct(wrong) != right}
    assert unused == {}


def test_a_well_known_misspelling_is_fixed_however_often_it_repeats(speller: SpellModel) -> None:
    text = "teh cat, teh dog and teh bird recieves what it recieves; it recieves more."
    assert speller.correct(text) == (
        "the cat, the dog and the bird receives what it receives; it receives more."
    )
