"""SNS subjects always fit: ASCII, one line, fewer than 100 characters.

SNS Publish rejects a subject of 100 characters or more, or with line breaks or control characters
(https://docs.aws.amazon.com/sns/latest/api/API_Publish.html, "Subject"); subscribers' mail gets
non-ASCII subjects rewritten. A rejected publish fails the invocation after the scores were written,
so the file would be scored again on retry: the subject is made to fit before publishing.
"""

from __future__ import annotations

import pytest

from anomaly_sentinel.alerts import SUBJECT_MAX, Alert, fit_subject


def alert(subject: str) -> Alert:
    return Alert(kind="anomaly", severity="warning", endpoint="e", subject=subject, body="b")


def test_the_limit_is_the_longest_subject_sns_accepts():
    assert SUBJECT_MAX == 99


@pytest.mark.parametrize("length", [1, 98, 99])
def test_a_subject_up_to_99_ascii_characters_is_kept_as_is(length):
    subject = "a" * length
    assert alert(subject).subject == subject


@pytest.mark.parametrize("length", [100, 101, 124, 500])
def test_a_longer_subject_is_cut_to_99_characters_ending_in_three_dots(length):
    fitted = alert("x" * length).subject
    assert len(fitted) == 99
    assert fitted.endswith("...")
    assert fitted.isascii()


def test_the_capture_subject_with_the_longest_endpoint_name_fits():
    # GIVEN a capture file's alert subject for a 63-character endpoint name (SageMaker's maximum)
    endpoint = "e" * 63
    subject = f"12345 anomalies on {endpoint} in capture-2026-11-30-01-47-09-123-abcdef0123"
    assert len(subject) > 100
    # WHEN it becomes an alert THEN SNS will accept it
    fitted = alert(subject).subject
    assert len(fitted) <= 99
    assert fitted.startswith(f"12345 anomalies on {endpoint}")


def test_non_ascii_line_breaks_and_control_characters_are_replaced():
    fitted = fit_subject("Drift on caf\u00e9\nendpoint\t\x00 \u2013 done\u2026")
    assert fitted == "Drift on cafe endpoint done..."  # NFKD turns the ellipsis into three dots
    assert fitted.isascii()
    assert fitted.isprintable()


def test_a_subject_with_nothing_printable_left_still_has_one():
    assert fit_subject("\n\t€") == "Anomaly Sentinel alert"
