"""Full-text query words (shared/infra/fulltext.py): only words, without RediSearch's
stopwords and syntax, so that no question can crash the query parser."""

from __future__ import annotations

from memanto_redis.shared.infra.fulltext import STOPWORDS, any_word, terms


def test_query_words_drop_stopwords_and_syntax():
    assert terms("Will there be an interview?") == ["interview"]
    assert terms("what is Caroline's plan for @home -(x|y)* ~z") == [
        "what", "caroline", "plan", "home"]
    assert terms("the a an of") == []
    assert any_word("the a an of") is None
    assert any_word("Ticket #12345, Stripe!") == "ticket | 12345 | stripe"
    assert not STOPWORDS & set(terms(" ".join(STOPWORDS) + " words"))
    assert len(terms(" ".join(f"w{i}" for i in range(100)))) == 32
