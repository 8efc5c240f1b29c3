"""Text a client sends (words and tag values), made safe for RediSearch's query parser.

No client text reaches the parser as it was typed. RediSearch 2.10 crashes (SIGSEGV in
QueryNode_AddChildren) on an OR-list that starts with two stopwords followed by a word
(`@content:(will | there | interview)`), and reads `what | is | caroline | ...` as just
`what`; syntax characters change what a query means. So a query keeps only words of letters
and digits, lowercased, without RediSearch's default English stopwords (which its index
drops anyway), each once.
"""

from __future__ import annotations

import re

from redisvl.query.filter import Tag as _Tag
from redisvl.utils.token_escaper import TokenEscaper

# RediSearch's default stopword list (the index never holds these words).
STOPWORDS = frozenset((
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
    "into", "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
))
# More words than this add little to a ranking and only lengthen the query.
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """The words of `text` a full-text query may carry, in order, each once."""
    found: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in STOPWORDS:
            found.setdefault(word)
            if len(found) == MAX_TERMS:
                break
    return list(found)


class Tag(_Tag):  # type: ignore[misc]  # redisvl ships no type information
    """RedisVL's tag filter, escaping every character but letters and digits: RedisVL's
    own list leaves `_` and `` ` `` alone, and RediSearch 2.10 reads a lone `_` or `` ` ``
    in braces as a syntax error (`@agent_id:{_}`), so an agent named `_` could not recall."""

    escaper = TokenEscaper(escape_chars_re=re.compile(r"[^\w]|_"))


def any_word(text: str) -> str | None:
    """An OR-list of the text's words for a TEXT field, or None when no word is left."""
    words = terms(text)
    return " | ".join(words) if words else None
