"""Never a 5xx from client input: schemathesis drives every route of every dialect, from
the app's own OpenAPI document, under each kind of credential (bench/fuzz.py's `Fuzzer`,
which a longer run uses too). Bounded: a few cases per operation, a fixed seed."""

from __future__ import annotations

import warnings
from fnmatch import fnmatch

import pytest

from bench.fuzz import CREDENTIALS, Finding, Fuzzer, Report
from memanto_redis.api.app import create_app
from tests.support import ADMIN_KEY

# Generated and as many mutated cases per operation: more where the credentials reach
# past the authentication (everything answers 401 without any).
EXAMPLES = {"admin": 8, "session": 8, "named_key": 4, "none": 1}
SEED = 20240601

# 5xx found by the fuzzer whose fix is not in request validation: reported, and awaiting
# their fix where they arise. (operation, text of the server's error); they are shown as
# warnings rather than failures. Remove an entry once its fix is in.
# 5xx causes found and not yet fixed, each matched by operation and error text; an entry
# goes as soon as its fix lands (none are known now).
KNOWN: list[tuple[str, str]] = []


def known(finding: Finding) -> bool:
    return any(fnmatch(finding.operation, operation) and text in finding.detail
               for operation, text in KNOWN)


@pytest.fixture(scope="module")
def fuzzer(settings, vectorizer):
    fuzzer = Fuzzer(create_app(settings, vectorizer), ADMIN_KEY, timeout=10.0, seed=SEED)
    yield fuzzer
    fuzzer.close()


@pytest.mark.parametrize("credentials", CREDENTIALS)
def test_no_5xx_no_hang_and_every_4xx_an_error(fuzzer, credentials):
    report = fuzzer.run(credentials, EXAMPLES[credentials], Report())
    assert report.requests > 100
    assert not report.skipped, report.skipped
    for finding in filter(known, report.findings):
        warnings.warn(f"known, awaiting its fix: {finding}", stacklevel=1)
    found = [str(f) for f in report.findings if not known(f)]
    assert not found, "\n\n".join(found[:10])
