"""The write-ahead log: framing, segments, torn tails, corruption and release."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.connectors.wal import WalConfig, WalError, WriteAheadLog


def _payloads(wal: WriteAheadLog, start: int = 0) -> list[bytes]:
    return [payload for _, payload, _ in wal.records(start)]


def test_records_come_back_in_order_across_segments_with_continuing_positions(
        tmp_path: Path) -> None:
    wal = WriteAheadLog(WalConfig(tmp_path, segment_bytes=100))
    ends = []
    for i in range(50):
        ends.append(wal.append(1 + i % 2, b"x" * i))
        if i % 7 == 0:
            wal.sync()
    wal.sync()
    assert wal.segments > 5
    got = list(wal.records(0))
    assert [len(p) for _, p, _ in got] == list(range(50))
    assert [k for k, _, _ in got] == [1 + i % 2 for i in range(50)]
    assert [pos for _, _, pos in got] == ends
    assert _payloads(wal, ends[29]) == [b"x" * i for i in range(30, 50)]
    wal.close()
    again = WriteAheadLog(WalConfig(tmp_path, segment_bytes=100))
    assert again.position == ends[-1]
    assert again.append(1, b"next") == ends[-1] + 9 + 4
    again.sync()
    assert _payloads(again, ends[-1]) == [b"next"]
    again.close()


def test_unsynced_records_are_not_read_back(tmp_path: Path) -> None:
    wal = WriteAheadLog(WalConfig(tmp_path))
    wal.append(1, b"durable")
    wal.sync()
    wal.append(1, b"not yet")
    assert _payloads(wal) == [b"durable"]
    wal.close()


@pytest.mark.parametrize("tail", [b"\x05", b"\x05\x00\x00\x00\x01\x02\x03\x04\x01ab",
                                  b"\x02\x00\x00\x00\x00\x00\x00\x00\x01ab"])
def test_a_torn_or_corrupt_tail_of_the_last_segment_is_cut_off(tmp_path: Path,
                                                               tail: bytes) -> None:
    wal = WriteAheadLog(WalConfig(tmp_path))
    end = wal.append(1, b"kept")
    wal.close()
    segment = next(tmp_path.glob("*.wal"))
    with open(segment, "ab") as handle:
        handle.write(tail)
    again = WriteAheadLog(WalConfig(tmp_path))
    assert again.position == end
    assert segment.stat().st_size == end
    again.append(1, b"after")
    again.sync()
    assert _payloads(again) == [b"kept", b"after"]
    again.close()


def test_corruption_in_a_closed_segment_is_an_error_not_a_skip(tmp_path: Path) -> None:
    wal = WriteAheadLog(WalConfig(tmp_path, segment_bytes=20))
    for i in range(4):
        wal.append(1, b"payload-%d" % i)
        wal.sync()
    first = sorted(tmp_path.glob("*.wal"))[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(WalError, match="corrupt record at position 18"):
        _payloads(wal)
    wal.close()


def test_release_deletes_only_closed_segments_a_position_covers(tmp_path: Path) -> None:
    wal = WriteAheadLog(WalConfig(tmp_path, segment_bytes=18))
    ends = []
    for i in range(6):
        ends.append(wal.append(1, b"payload-%d" % i))
        wal.sync()
    files = len(list(tmp_path.glob("*.wal")))
    assert files == wal.segments == 7  # each record fills a segment; the 7th is open
    assert wal.release(ends[2]) == 3
    assert len(list(tmp_path.glob("*.wal"))) == 4
    assert _payloads(wal, ends[2]) == [b"payload-3", b"payload-4", b"payload-5"]
    with pytest.raises(WalError, match="was released"):
        _payloads(wal, ends[0])
    assert wal.release(wal.position) == 3
    assert wal.disk_bytes == 0
    wal.close()


def test_an_unwritable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WalError, match="cannot open the write-ahead log"):
        WriteAheadLog(WalConfig(blocker / "wal"))
