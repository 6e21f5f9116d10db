"""Log formats: header split, session keys, time, masks, and lines that cannot be read."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

import pytest

from anomaly_sentinel.logs import LogFormatError, ParsedLine, Rejected, decode_lines, resolve_format
from anomaly_sentinel.logs import formats as f

HDFS_LINE = (
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
    "blk_38865049064139660 terminating"
)
BGL_LINE = (
    "KERNDTLB 1117869872 2005.06.04 R23-M0-NE-C:J05-U01 2005-06-04-00.24.32.432192 "
    "R23-M0-NE-C:J05-U01 RAS KERNEL FATAL data TLB error interrupt"
)


def test_an_hdfs_line_gives_its_content_block_and_time():
    parsed = resolve_format("hdfs").split(HDFS_LINE)
    assert isinstance(parsed, ParsedLine)
    assert parsed.content == "PacketResponder 1 for block blk_38865049064139660 terminating"
    assert parsed.session_keys == ("blk_38865049064139660",)
    assert parsed.time == datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC)


def test_a_line_naming_several_blocks_belongs_to_each_block_once():
    line = (
        "081109 205035 28 INFO dfs.FSNamesystem: BLOCK* ask 10.250.14.224:50010 to delete  "
        "blk_-1 blk_22 blk_-1"
    )
    parsed = resolve_format("hdfs").split(line)
    assert isinstance(parsed, ParsedLine)
    assert parsed.session_keys == ("blk_-1", "blk_22")


def test_a_bgl_line_gives_its_label_and_epoch_time_and_no_session():
    fmt = resolve_format("bgl")
    parsed = fmt.split(BGL_LINE)
    assert isinstance(parsed, ParsedLine)
    assert (parsed.content, parsed.label, parsed.session_keys) == ("data TLB error interrupt", "KERNDTLB", ())
    assert parsed.time == datetime.fromtimestamp(1117869872, tz=UTC)
    assert not fmt.has_sessions
    assert fmt.grouping["kind"] == "time"


def test_a_users_regex_names_content_session_and_iso_time():
    fmt = resolve_format(r"(?P<time>\S+) \[(?P<session>[^\]]+)\] (?P<content>.*)")
    parsed = fmt.split("2024-05-01T10:00:00+02:00 [req-7] GET /health 200")
    assert isinstance(parsed, ParsedLine)
    assert (parsed.content, parsed.session_keys) == ("GET /health 200", ("req-7",))
    assert parsed.time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert fmt.grouping == {"kind": "session"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("apache", "unknown format"),
        (r"(?P<msg>.*)", "content"),
        (r"(?P<content>[unclosed", "does not compile"),
        ("(?P<content>" + "a" * 5000 + ")", "longer than"),
    ],
)
def test_a_format_that_cannot_be_used_is_refused_with_a_reason(spec, message):
    with pytest.raises(LogFormatError, match=message):
        resolve_format(spec)


def test_a_line_the_header_does_not_match_is_rejected_not_guessed():
    assert resolve_format("hdfs").split("just some text") == Rejected(
        f.NO_HEADER_MATCH, "does not match the hdfs header"
    )
    assert resolve_format("hdfs").split("   ") == Rejected(f.EMPTY_LINE)


def test_masks_replace_block_runs_ips_with_ports_hex_and_standalone_numbers_only():
    masked = f.Masker(f.DEFAULT_MASKS).mask(
        "ask 10.250.14.224:50010 to delete  blk_-16089 blk_123 size 67108864 at 0x1fA2 from /10.1.2.3 "
        "part-00590 subdir51 R02-M1 -7"
    )
    assert (
        masked == "ask <IP> to delete  <BLK> size <NUM> at <HEX> from /<IP> part-00590 subdir51 R02-M1 <NUM>"
    )


def test_every_unreadable_line_is_numbered_and_rejected_with_its_reason():
    data = b"".join(
        [
            b"good line\n",
            b"\xff\xfe not utf-8\n",
            b"binary \x00\x01 line\n",
            b"x" * 1_000_000 + b"\n",
            b"last line without a newline",
        ]
    )
    out = list(decode_lines(io.BytesIO(data), max_line_bytes=64 * 1024))
    assert [n for n, _ in out] == [1, 2, 3, 4, 5]
    assert out[0][1] == "good line"
    assert out[4][1] == "last line without a newline"
    reasons = [item.reason for _, item in out[1:4] if isinstance(item, Rejected)]
    assert reasons == [f.NOT_UTF8, f.BINARY_LINE, f.LINE_TOO_LONG]


def test_gzip_logs_are_read_as_they_stream_and_an_empty_stream_has_no_lines():
    packed = gzip.compress(HDFS_LINE.encode() + b"\n" + HDFS_LINE.encode() + b"\n")
    assert [n for n, _ in decode_lines(io.BytesIO(packed))] == [1, 2]
    assert list(decode_lines(io.BytesIO(b""))) == []
