"""One normal form for patients' names: how staff compare and search them.

Staff type 'maria lopez' for 'María López', with or without capitals, accents or a double
space; enrollment matches a name on a known phone this way, and the patient search finds
names this way.
"""

from __future__ import annotations

import unicodedata

# The combining marks that Latin letters with accents decompose into (NFKD): acute, grave,
# circumflex, tilde, macron, breve, dot, diaeresis, hook, ring, double acute, caron, horn, dot
# below, cedilla, ogonek. A database that folds names in SQL (PostgreSQL) decomposes them and
# drops these; SQLite calls `fold_name` itself, which drops every combining mark.
COMBINING_MARKS = "".join(
    chr(code)
    for code in (0x300, 0x301, 0x302, 0x303, 0x304, 0x306, 0x307, 0x308, 0x309, 0x30A, 0x30B,
                 0x30C, 0x31B, 0x323, 0x327, 0x328)
)  # fmt: skip


def fold_name(name: str) -> str:
    """'  María   LÓPEZ ' -> 'maria lopez': no accents, no case, single spaces."""
    if name.isascii():  # the quick way for most names: a search folds every one
        return " ".join(name.lower().split())
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def first_name(full_name: str) -> str:
    """What a message calls the patient: the first word of the name on file."""
    parts = full_name.split()
    return parts[0] if parts else full_name
