"""pipeline/scripts/record_preprocessor.py (Model Monitor contract) on the same capture fixtures.

The script is loaded from its file, as the Model Monitor container does (it imports nothing of
ours). Records are handed over as objects with ``endpoint_input.data/encoding/
observed_content_type``; the base64 forms are encoded here from the real samples.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.capture import as_base64, real_csv_records, real_json_records, record

SCRIPT = Path(__file__).resolve().parents[2] / "pipeline" / "scripts" / "record_preprocessor.py"


@pytest.fixture(scope="module")
def preprocessor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_preprocessor_under_test", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inference_record(capture: dict[str, Any]) -> SimpleNamespace:
    """The shape the container passes: attributes named after the capture keys."""
    part = capture["captureData"]["endpointInput"]
    endpoint_input = SimpleNamespace(
        data=part["data"],
        encoding=part["encoding"],
        observed_content_type=part["observedContentType"],
        mode="INPUT",
    )
    return SimpleNamespace(endpoint_input=endpoint_input, event_metadata=SimpleNamespace(event_id="e"))


def test_real_csv_records_become_flat_dicts_in_column_order(preprocessor):
    first = real_csv_records()[0]  # data "9,45,45,42,7,5,0"
    flat = preprocessor.preprocess_handler(inference_record(first), logging.getLogger("t"))
    assert flat == {f"_c{i}": v for i, v in enumerate([9.0, 45.0, 45.0, 42.0, 7.0, 5.0, 0.0])}


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_base64_records_give_the_same_dicts_as_plain_ones(preprocessor, content_type):
    for capture in real_csv_records():
        plain = preprocessor.preprocess_handler(inference_record(capture), None)
        encoded = preprocessor.preprocess_handler(inference_record(as_base64(capture, content_type)), None)
        assert encoded == plain


def test_real_json_record_with_several_instances_gives_one_dict_per_row(preprocessor):
    capture = as_base64(real_json_records()[0], "application/json")
    assert preprocessor.preprocess_handler(inference_record(capture), None) == [
        {"_c0": 1.0},
        {"_c0": 2.0},
        {"_c0": 5.0},
    ]


def test_bad_records_are_skipped_without_logging_each_one_or_its_payload(preprocessor, caplog):
    logger = logging.getLogger("monitor")
    bad = [record("1,abc"), record("1,nan"), record("x", encoding="BASE64", content_type="image/png")]
    with caplog.at_level(logging.INFO, logger="monitor"):
        results = [preprocessor.preprocess_handler(inference_record(b), logger) for b in bad * 10]
        good = preprocessor.preprocess_handler(inference_record(record("1,2")), logger)
    assert results == [[]] * 30
    assert good == {"_c0": 1.0, "_c1": 2.0}
    assert len(caplog.records) <= 1  # the first skip is reported; then one line per 1,000
    assert "abc" not in caplog.text


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=60),
    st.sampled_from(["CSV", "JSON", "BASE64", "weird"]),
    st.sampled_from(["text/csv", "application/json", ""]),
)
def test_never_raises(preprocessor, data, encoding, content_type):
    capture = record("1", content_type=content_type)
    capture["captureData"]["endpointInput"].update(data=data, encoding=encoding)
    result = preprocessor.preprocess_handler(inference_record(capture), None)
    assert isinstance(result, dict | list)
