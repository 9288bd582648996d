# Copyright (c) mmamlris contributors. All rights reserved.
"""The one primitive every converter renames keys with: an ordered table of regex rules."""
import re
from typing import Optional, Tuple

__all__ = ['first_rename']


def first_rename(key: str, renames: Tuple[Tuple[str, str], ...]) -> Optional[str]:
    """``key`` rewritten by the first rule of ``renames`` whose pattern matches its start.

    Args:
        key (str): One official state-dict key (or the part of it a table covers).
        renames (tuple[tuple[str, str], ...]): ``(pattern, replacement)`` pairs in
            :func:`re.sub` syntax, tried in order; only the first match is applied, once.

    Returns:
        str | None: The renamed key, or None when no pattern matches.
    """
    for pattern, repl in renames:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return None
