"""The Simplified Chinese catalogue is complete: every collected string has a translation and none
is a fuzzy guess (gettext's guesses are often wrong and are not shown anyway)."""

import re
from pathlib import Path

PO = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries():
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        msgid = re.search(r'^msgid "(.*)"', block, re.M)
        if msgid is None or (msgid.group(1) == "" and 'msgid ""\nmsgstr ""\n"Project-Id' in block):
            continue  # the header
        yield block


def test_every_string_is_translated_and_none_is_fuzzy():
    untranslated, fuzzy = [], []
    for block in _entries():
        label = re.search(r'^msgid "(.*)"', block, re.M).group(1)
        if "#, fuzzy" in block or ", fuzzy" in block:
            fuzzy.append(label)
        strings = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', block, re.M)
        if not strings or any(first == "" and not rest for first, rest in strings):
            untranslated.append(label)
    assert not untranslated, f"untranslated (run locale/refresh.sh and translate): {untranslated[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"


def test_the_compiled_catalogue_is_committed():
    mo = PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_size > 10_000
