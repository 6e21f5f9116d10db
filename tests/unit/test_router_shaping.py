"""moto's S3 events are reshaped to what S3 sends, so handlers are tested on AWS's encoding."""

from sentinel.router import aws_shaped


def test_s3_keys_are_url_encoded_and_etag_spelled_as_on_aws():
    # GIVEN a moto S3 event with a raw key and moto's "eTag" spelling
    moto_event = {
        "source": "aws.s3",
        "detail": {"object": {"key": "training/my file+ü.csv", "eTag": "abc", "size": 1}},
    }
    # WHEN it is shaped
    shaped = aws_shaped(moto_event)
    # THEN the key is URL-encoded like S3 notifications and the original is untouched
    assert shaped["detail"]["object"] == {"key": "training/my+file%2B%C3%BC.csv", "etag": "abc", "size": 1}
    assert moto_event["detail"]["object"]["key"] == "training/my file+ü.csv"


def test_other_sources_pass_through_unchanged():
    event = {"source": "aws.sagemaker", "detail": {"object": {"key": "a b"}}}
    assert aws_shaped(event) is event
