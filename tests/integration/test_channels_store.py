"""The channels job's S3 store (pipeline/scripts/channels.py) on moto: what it lists is all there is."""

from __future__ import annotations

import boto3

from pipeline.scripts import channels as ch

PREFIX = "dataset/endpoint=e/"


def test_the_s3_store_lists_every_day_and_every_file_however_many_pages_s3_uses(aws):
    # GIVEN five days of the production dataset, two files each, and S3 listing two entries a
    # page (it pages at 1,000: a window of thousands of files stands behind the small page)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    days = [f"{PREFIX}date=2026-11-0{day}/" for day in range(1, 6)]
    for day in days:
        for part in range(2):
            s3.put_object(Bucket="data", Key=f"{day}part-{part}.csv", Body=b"timestamp,score,x1\n")
    s3.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: params.setdefault("MaxKeys", 2)
    )
    store = ch.S3Store("data", s3)
    # WHEN the window's days and files are listed THEN every page is read
    assert store.list(PREFIX, delimiter=True) == days
    assert len(store.list(PREFIX)) == 10
