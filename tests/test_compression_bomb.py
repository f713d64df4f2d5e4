"""Compression bombs on a compacted topic (issue 12's finding, issue 14 part 3).

A gzip and a zstd bomb (256 MiB of zeros in a few hundred KB) to a
`cleanup.policy=compact` topic are refused with CORRUPT_MESSAGE (2) in the raw
Produce response; the broker's peak RSS (VmHWM) grows by less than
BOMB_RSS_BOUND, and it keeps serving (keyed batches in, keyless refused).
"""

import struct
import time
import zlib

from conftest import create_topic, need_module
from test_idempotence_compression import Conn, build_batch, fix_crc, log_batches

need_module("kafka")
zstandard = need_module("zstandard")

CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

# ---------------------------------------------------------------------------
# Compression bombs on a compacted topic
# ---------------------------------------------------------------------------

MiB = 1 << 20
# The broker's cap on one batch's decompressed records (MAX_DECOMPRESSED_BATCH_BYTES).
DECOMPRESSED_CAP = 64 * MiB
# What a bomb may add to the broker's peak RSS: the cap plus 64 MiB of slack.
BOMB_RSS_BOUND = DECOMPRESSED_CAP + 64 * MiB
BOMB_SIZE = 256 * MiB  # decompressed; four times the cap


def gzip_bomb():
    """Gzip members concatenate (a gzip stream is any number of them)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = c.compress(bytes(8 * MiB)) + c.flush()
    return member * (BOMB_SIZE // (8 * MiB))


def zstd_bomb():
    c = zstandard.ZstdCompressor(level=3).compressobj()
    zeros = bytes(MiB)
    out = b"".join(c.compress(zeros) for _ in range(BOMB_SIZE // MiB))
    return out + c.flush()


def bomb_batch(codec, payload):
    """A v2 batch claiming one record whose records section is `payload`."""
    batch = build_batch([b"x"])
    batch = batch[:61] + payload
    batch[8:12] = struct.pack(">i", len(batch) - 12)
    (attrs,) = struct.unpack_from(">h", batch, 21)
    batch[21:23] = struct.pack(">h", (attrs & ~7) | codec)
    return fix_crc(batch)


def keyed_batch(codec):
    from kafka.record.default_records import DefaultRecordBatchBuilder

    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    now = int(time.time() * 1000)
    for i in range(10):
        b.append(i, timestamp=now, key=f"k-{i}".encode(), value=b"v" * 100, headers=[])
    return bytearray(b.build())


def proc_status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_compression_bombs_on_a_compacted_topic_are_refused(make_broker):
    broker = make_broker()
    topic = "compacted-bombs"
    create_topic(broker.bootstrap, topic, partitions=1, config={"cleanup.policy": "compact"})
    pid = broker.proc.pid
    bombs = {"gzip": gzip_bomb(), "zstd": zstd_bomb()}
    for name, payload in bombs.items():
        assert len(payload) < 1 * MiB, f"{name} bomb of {len(payload)} bytes exceeds max.message.bytes"
    conn = Conn(broker)
    try:
        # Warm up: a keyed batch of each codec is accepted.
        for name in bombs:
            assert conn.produce(topic, 0, keyed_batch(CODEC_IDS[name]))[0] == 0
        rss_before = proc_status(pid, "VmRSS")
        for name, payload in bombs.items():
            for _ in range(3):
                error, _ = conn.produce(topic, 0, bomb_batch(CODEC_IDS[name], payload))
                assert error == 2, f"{name} bomb: expected CORRUPT_MESSAGE (2), got {error}"
        broker.check_alive()
        peak = proc_status(pid, "VmHWM")
        print(f"RSS before {rss_before / MiB:.0f} MiB, peak after six bombs {peak / MiB:.0f} MiB")
        assert peak - rss_before < BOMB_RSS_BOUND, (
            f"peak RSS grew by {(peak - rss_before) / MiB:.0f} MiB (bound {BOMB_RSS_BOUND / MiB:.0f} MiB)")
        # Still serving: keyed batches in, keyless refused as Kafka does.
        assert conn.produce(topic, 0, keyed_batch(CODEC_IDS["zstd"])) == (0, 20)
        assert conn.produce(topic, 0, build_batch([b"no key"], codec=CODEC_IDS["gzip"]))[0] == 87
    finally:
        conn.close()
    assert [c for _, _, c in log_batches(broker, topic, 0)] == [10, 10, 10]
