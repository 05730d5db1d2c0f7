"""One normal form for patients' names: how staff compare and search them.

Staff type 'maria lopez' for 'María López', with or without capitals, accents or a double
space; enrollment matches a name on a known phone this way, and the patient search finds
names this way.
"""

from __future__ import annotations

import unicodedata

# Accented Latin letters and their plain ones, for a database that folds names in SQL with
# translate() (PostgreSQL): SQLite calls `fold_name` itself, which covers every script.
ACCENTED = "áàâäãåāéèêëēíìîïīóòôöõōúùûüūñçýÿÁÀÂÄÃÅĀÉÈÊËĒÍÌÎÏĪÓÒÔÖÕŌÚÙÛÜŪÑÇÝŸ"
PLAIN = "aaaaaaaeeeeeiiiiioooooouuuuuncyyAAAAAAAEEEEEIIIIIOOOOOOUUUUUNCYY"


def fold_name(name: str) -> str:
    """'  María   LÓPEZ ' -> 'maria lopez': no accents, no case, single spaces."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())
