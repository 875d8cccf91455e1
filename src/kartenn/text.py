"""Text analysis for search, done once in Python so SQLite and PostgreSQL index and match the same terms.

Words are accent-folded, lower-cased, stripped of French and English stop words, and stemmed by both the
French and the English Snowball stemmers: "Routes départementales" matches "route" and "departemental".

>>> sorted(stems("Les routes départementales"))
['departemental', 'rout']
>>> query_terms("routes de Bretagne")
[['rout'], ['bretagn']]
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset("""
a an and are as at be by for from has in is it its of on or that the this to was were will with
au aux avec ce ces dans de des du elle en et eux il je la le les leur lui ma mais me meme mes moi mon
ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre
vous c d j l m n s t y
""".split())
_FRENCH = snowballstemmer.stemmer("french")
_ENGLISH = snowballstemmer.stemmer("english")


@lru_cache(maxsize=1)
def _combining() -> dict[int, None]:
    # every combining mark, for str.translate: removing them one character at a time in Python was most of fold()
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def fold(text: str) -> str:
    """Lower case without accents: ``fold("Ñunç Élément") == "nunc element"``."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(_combining()).lower()


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


@lru_cache(maxsize=65536)
def _stems_of(word: str) -> tuple[str, ...]:
    return tuple(sorted({_FRENCH.stemWord(word), _ENGLISH.stemWord(word)}))


def stems(text: str) -> set[str]:
    """Every stem of every word of ``text`` (both languages), stop words left out."""
    return stems_of_folded(fold(text))


def stems_of_folded(folded: str) -> set[str]:
    """``stems`` of a text already folded."""
    out: set[str] = set()
    for word in set(WORD.findall(folded)) - STOP_WORDS:
        out.update(_stems_of(word))
    return out


def query_terms(q: str) -> list[list[str]]:
    """One group of alternative stems per query word; every group must match."""
    groups = []
    for word in words(q):
        if word not in STOP_WORDS:
            group = list(_stems_of(word))
            if group not in groups:
                groups.append(group)
    return groups
