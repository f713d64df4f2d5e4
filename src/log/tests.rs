//! Tests of `Log`: append/read, rolling, recovery, indexes, timestamps.

use std::path::Path;

use bytes::{Bytes, BytesMut};

use super::batch::testing::{build_batch, simple_batch};
use super::batch::{validate_batch, BatchHeader};
use super::segment::{file_name, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX};
use super::*;

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        segment_index_bytes: 4096,
        ..LogConfig::default()
    }
}

fn append(log: &mut Log, batch: &[u8], now: i64) -> AppendInfo {
    let mut b = BytesMut::from(batch);
    log.append(&mut b, now).unwrap()
}

/// Splits a read result into batch headers.
fn headers(bytes: &[u8]) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let h =
            validate_batch(&bytes[p..p + BatchHeader::parse(&bytes[p..]).unwrap().total_size()])
                .unwrap();
        p += h.total_size();
        out.push(h);
    }
    out
}

fn all_offsets(log: &Log) -> Vec<i64> {
    let mut offsets = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let bytes = log.read(next, 1 << 20, true).unwrap();
        assert!(!bytes.is_empty());
        for h in headers(&bytes) {
            offsets.extend(h.base_offset..=h.last_offset());
            next = h.last_offset() + 1;
        }
    }
    offsets
}

fn seg_path(dir: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    dir.join(file_name(base, suffix))
}

#[test]
fn log_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Log>();
    check::<manager::LogManager>();
}

#[test]
fn append_assigns_offsets_and_keeps_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.read(0, 1000, true).unwrap().len(), 0);
    let b1 = simple_batch(3, 1000);
    let b2 = simple_batch(2, 2000);
    let info = append(&mut log, &b1, 10);
    assert_eq!(
        (info.first_offset, info.last_offset, info.record_count),
        (0, 2, 3)
    );
    assert_eq!(info.log_append_time, -1);
    // Two batches in one request.
    let mut both = b2.clone();
    both.extend_from_slice(&b1);
    let info = append(&mut log, &both, 11);
    assert_eq!(
        (info.first_offset, info.last_offset, info.record_count),
        (3, 7, 5)
    );
    assert_eq!(log.log_end_offset(), 8);

    let on_disk = std::fs::read(seg_path(dir.path(), 0, LOG_FILE_SUFFIX)).unwrap();
    let mut expected = b1.clone();
    expected.extend_from_slice(&both);
    assert_eq!(on_disk.len(), expected.len());
    let hs = headers(&on_disk);
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        vec![0, 3, 5]
    );
    let mut p = 0;
    for h in &hs {
        let size = h.total_size();
        assert_eq!(on_disk[p + 16..p + size], expected[p + 16..p + size]);
        assert_eq!(h.partition_leader_epoch, 0);
        p += size;
    }
    // Reads return whole batches, including from the middle of one.
    let all = log.read(0, 1 << 20, false).unwrap();
    assert_eq!(&all[..], &on_disk[..]);
    let mid = log.read(4, 1 << 20, false).unwrap();
    assert_eq!(headers(&mid)[0].base_offset, 3);
    assert_eq!(mid.len(), both.len());
    // max_bytes limits to whole batches; min_one_batch returns one oversized batch.
    let one = log.read(0, b1.len() + 10, false).unwrap();
    assert_eq!(one.len(), b1.len());
    assert_eq!(log.read(0, 5, false).unwrap().len(), 0);
    assert_eq!(log.read(0, 5, true).unwrap().len(), b1.len());
    assert_eq!(log.read(8, 100, true).unwrap().len(), 0);
    assert!(matches!(
        log.read(9, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(-1, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.size_bytes(), on_disk.len() as u64);
}

#[test]
fn bad_append_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    append(&mut log, &simple_batch(2, 1), 0);
    let good = simple_batch(2, 1);
    let mut corrupt = good.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    let mut req = good.clone();
    req.extend_from_slice(&corrupt);
    let mut b = BytesMut::from(&req[..]);
    let err = log.append(&mut b, 0).unwrap_err();
    assert!(matches!(err, LogError::CorruptMessage(_)), "{err}");
    assert_eq!(err.kafka_error_code(), 2);
    // Truncated request.
    let mut b = BytesMut::from(&good[..good.len() - 3]);
    assert!(matches!(
        log.append(&mut b, 0),
        Err(LogError::CorruptMessage(_))
    ));
    // Too large.
    log.update_config(LogConfig {
        max_message_bytes: 20,
        ..LogConfig::default()
    });
    let mut b = BytesMut::from(&good[..]);
    let err = log.append(&mut b, 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), 10);
    log.update_config(LogConfig::default());
    // Old magic.
    let mut v1 = good.clone();
    v1[16] = 1;
    let mut b = BytesMut::from(&v1[..]);
    assert_eq!(log.append(&mut b, 0).unwrap_err().kafka_error_code(), 43);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(
        std::fs::metadata(seg_path(dir.path(), 0, LOG_FILE_SUFFIX))
            .unwrap()
            .len(),
        good.len() as u64
    );
    // Empty append is a no-op.
    let mut b = BytesMut::new();
    assert_eq!(log.append(&mut b, 0).unwrap().record_count, 0);
    append(&mut log, &good, 0);
    assert_eq!(all_offsets(&log), vec![0, 1, 2, 3]);
}

#[test]
fn rolls_on_segment_bytes_and_reads_span_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    let batch = simple_batch(5, 1000); // ~150 bytes
    for i in 0..40 {
        let info = append(&mut log, &batch, i);
        assert_eq!(info.first_offset, i * 5);
    }
    assert!(log.segment_count() > 4, "{}", log.segment_count());
    assert_eq!(log.log_end_offset(), 200);
    assert_eq!(all_offsets(&log), (0..200).collect::<Vec<_>>());
    // One read spans segments when max_bytes allows.
    let everything = log.read(0, usize::MAX, false).unwrap();
    assert_eq!(headers(&everything).len(), 40);
    for o in [0, 7, 33, 99, 150, 199] {
        let r = log.read(o, 1, true).unwrap();
        let h = headers(&r);
        assert_eq!(h.len(), 1);
        assert!(h[0].base_offset <= o && o <= h[0].last_offset());
    }
    // Every segment file is below segment.bytes and named by its base offset.
    let mut bases = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".log") {
            assert!(e.metadata().unwrap().len() <= 1024);
            bases.push(stem.parse::<i64>().unwrap());
        }
    }
    bases.sort();
    assert_eq!(bases[0], 0);
    assert_eq!(bases.len(), log.segment_count());
    log.close().unwrap();
    assert_eq!(log.recovery_point(), 200);
    // Sealed indexes are trimmed.
    let idx_len = std::fs::metadata(seg_path(dir.path(), 0, INDEX_FILE_SUFFIX))
        .unwrap()
        .len();
    assert!(idx_len < 4096 && idx_len.is_multiple_of(8));
    drop(log);

    let mut log = Log::open(dir.path(), small_config(), 0, 200, true, 0).unwrap();
    assert_eq!(log.log_end_offset(), 200);
    assert_eq!(all_offsets(&log), (0..200).collect::<Vec<_>>());
    assert_eq!(append(&mut log, &batch, 0).first_offset, 200);
}

#[test]
fn rolls_on_segment_ms() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, 0, 0, true, 0).unwrap();
    append(&mut log, &simple_batch(1, 5), 10_000);
    append(&mut log, &simple_batch(1, 5), 10_500);
    assert_eq!(log.segment_count(), 1);
    append(&mut log, &simple_batch(1, 5), 11_001);
    assert_eq!(log.segment_count(), 2);
    assert!(seg_path(dir.path(), 2, LOG_FILE_SUFFIX).exists());
}

#[test]
fn recovers_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    let b = simple_batch(4, 100);
    for _ in 0..3 {
        append(&mut log, &b, 0);
    }
    drop(log); // crash: nothing flushed, no clean close
    let path = seg_path(dir.path(), 0, LOG_FILE_SUFFIX);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len((b.len() * 2 + 30) as u64).unwrap(); // cut the third batch
    drop(f);

    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, false, 0).unwrap();
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        (b.len() * 2) as u64
    );
    assert_eq!(all_offsets(&log), (0..8).collect::<Vec<_>>());
    assert_eq!(append(&mut log, &b, 0).first_offset, 8);
    assert_eq!(all_offsets(&log), (0..12).collect::<Vec<_>>());
    drop(log);

    // Garbage after the last batch.
    let mut bytes = std::fs::read(&path).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(&[0xab; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open(dir.path(), LogConfig::default(), 0, 0, false, 0).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len as u64);
    drop(log);

    // A flipped bit (bad CRC) in the last batch.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, false, 0).unwrap();
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(append(&mut log, &b, 0).first_offset, 8);
}

#[test]
fn recovery_drops_segments_after_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    let b = simple_batch(5, 1000);
    for i in 0..30 {
        append(&mut log, &b, i);
    }
    let segments = log.segment_count();
    assert!(segments >= 3);
    drop(log);
    let mut logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    // Corrupt the second segment's second batch.
    let second = &logs[1];
    let mut bytes = std::fs::read(second).unwrap();
    bytes[b.len() + 70] ^= 0xff;
    std::fs::write(second, &bytes).unwrap();
    let base: i64 = second
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    let mut log = Log::open(dir.path(), small_config(), 0, 0, false, 0).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log.log_end_offset(), base + 5);
    assert!(!logs[2].exists());
    assert_eq!(all_offsets(&log), (0..base + 5).collect::<Vec<_>>());
    assert_eq!(append(&mut log, &b, 0).first_offset, base + 5);
    assert_eq!(all_offsets(&log), (0..base + 10).collect::<Vec<_>>());
}

#[test]
fn unclean_open_trusts_segments_below_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    let b = simple_batch(5, 1000);
    for i in 0..30 {
        append(&mut log, &b, i);
    }
    log.flush().unwrap();
    let rp = log.recovery_point();
    assert_eq!(rp, 150);
    drop(log);
    let log = Log::open(dir.path(), small_config(), 0, rp, false, 0).unwrap();
    assert_eq!(log.log_end_offset(), 150);
    assert_eq!(all_offsets(&log), (0..150).collect::<Vec<_>>());
}

#[test]
fn rebuilds_missing_or_bad_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    let b = simple_batch(2, 1000);
    for i in 0..40 {
        append(&mut log, &b, 1000 + i);
    }
    log.close().unwrap();
    drop(log);
    let idx0 = seg_path(dir.path(), 0, INDEX_FILE_SUFFIX);
    let tidx0 = seg_path(dir.path(), 0, TIME_INDEX_FILE_SUFFIX);
    let original = std::fs::read(&idx0).unwrap();
    assert!(!original.is_empty());
    std::fs::remove_file(&idx0).unwrap();
    std::fs::remove_file(&tidx0).unwrap();
    // The active segment's index gets garbage.
    let last_base = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .into_string()
                .ok()?
                .strip_suffix(".log")?
                .parse::<i64>()
                .ok()
        })
        .max()
        .unwrap();
    assert!(last_base > 0);
    std::fs::write(
        seg_path(dir.path(), last_base, INDEX_FILE_SUFFIX),
        [0xffu8; 16],
    )
    .unwrap();

    let log = Log::open(dir.path(), small_config(), 0, 80, true, 0).unwrap();
    assert_eq!(std::fs::read(&idx0).unwrap(), original);
    assert!(tidx0.exists());
    assert_eq!(log.log_end_offset(), 80);
    assert_eq!(all_offsets(&log), (0..80).collect::<Vec<_>>());
}

#[test]
fn offset_for_timestamp_is_record_precise() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    // Batch i holds records with timestamps 1000+10i, 1000+10i+3, 1000+10i+6.
    for i in 0..40i64 {
        let t = 1000 + 10 * i;
        let batch = build_batch(
            0,
            &[
                (t, None, Some(b"a")),
                (t + 3, None, Some(b"b")),
                (t + 6, None, Some(b"c")),
            ],
        );
        append(&mut log, &batch, 0);
    }
    assert!(log.segment_count() > 1);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1000).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1, 1003)));
    assert_eq!(log.offset_for_timestamp(1004).unwrap(), Some((2, 1006)));
    assert_eq!(log.offset_for_timestamp(1007).unwrap(), Some((3, 1010)));
    for i in 0..40i64 {
        let t = 1000 + 10 * i;
        assert_eq!(
            log.offset_for_timestamp(t + 5).unwrap(),
            Some((3 * i + 2, t + 6)),
            "i={i}"
        );
    }
    assert_eq!(log.offset_for_timestamp(1000 + 390 + 7).unwrap(), None);
    assert_eq!(log.max_timestamp_and_offset(), Some((1396, 119)));
    log.close().unwrap();
    drop(log);
    let log = Log::open(dir.path(), small_config(), 0, 120, true, 0).unwrap();
    assert_eq!(log.offset_for_timestamp(1205).unwrap(), Some((62, 1206)));
    assert_eq!(log.max_timestamp_and_offset(), Some((1396, 119)));

    let empty_dir = tempfile::tempdir().unwrap();
    let empty = Log::open(empty_dir.path(), small_config(), 0, 0, true, 0).unwrap();
    assert_eq!(empty.offset_for_timestamp(0).unwrap(), None);
    assert_eq!(empty.max_timestamp_and_offset(), None);
}

#[test]
fn max_timestamp_finds_record_inside_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    append(
        &mut log,
        &build_batch(0, &[(10, None, None), (50, None, None), (20, None, None)]),
        0,
    );
    append(&mut log, &build_batch(0, &[(30, None, None)]), 0);
    assert_eq!(log.max_timestamp_and_offset(), Some((50, 1)));
    assert_eq!(log.offset_for_timestamp(15).unwrap(), Some((1, 50)));
    assert_eq!(log.offset_for_timestamp(25).unwrap(), Some((1, 50)));
}

#[test]
fn append_writes_a_shared_frame_with_only_the_prefix_patched() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    log.assign_leader_epoch(7, 0).unwrap();
    append(&mut log, &simple_batch(2, 100), 1);
    // Three batches inside a larger "request frame", as Produce hands them over.
    let batches = [
        simple_batch(3, 200),
        simple_batch(1, 300),
        simple_batch(4, 400),
    ];
    let mut frame = b"header bytes".to_vec();
    for b in &batches {
        frame.extend_from_slice(b);
    }
    frame.extend_from_slice(b"trailer");
    let frame = Bytes::from(frame);
    let records = frame.slice(12..frame.len() - 7);
    let (info, sync) = log.append_with_deferred_sync(records.clone(), 2).unwrap();
    assert!(sync.is_none());
    assert_eq!((info.first_offset, info.last_offset), (2, 9));
    // The caller's bytes are not patched.
    assert_eq!(&records[..], &batches.concat()[..]);
    let on_disk = std::fs::read(seg_path(dir.path(), 0, LOG_FILE_SUFFIX)).unwrap();
    let first = simple_batch(2, 100).len();
    let written = &on_disk[first..];
    assert_eq!(written.len(), records.len());
    let mut p = 0;
    for (b, base) in batches.iter().zip([2i64, 5, 6]) {
        let mut want = b.clone();
        want[0..8].copy_from_slice(&base.to_be_bytes());
        want[12..16].copy_from_slice(&7i32.to_be_bytes());
        assert_eq!(&written[p..p + b.len()], &want[..]);
        let h = validate_batch(&written[p..p + b.len()]).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (base, 7));
        p += b.len();
    }
    assert_eq!(all_offsets(&log), (0..10).collect::<Vec<_>>());
}

#[test]
fn a_request_with_one_bad_batch_writes_none_of_the_shared_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).unwrap();
    let mut marked = simple_batch(2, 500);
    let len = marked.len();
    batch::set_max_timestamp(&mut marked, 0, len, true, 900).unwrap();
    let mut corrupt = simple_batch(2, 500);
    corrupt[70] ^= 0xff;
    for bad in [marked, corrupt] {
        let mut both = simple_batch(1, 400);
        both.extend_from_slice(&bad);
        assert!(log.append_with_deferred_sync(Bytes::from(both), 3).is_err());
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.size_bytes(), 0);
    }
}

#[test]
fn log_append_time_stamps_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, 0, 0, true, 0).unwrap();
    let info = append(&mut log, &simple_batch(3, 5), 777);
    assert_eq!(info.log_append_time, 777);
    let bytes = log.read(0, 1 << 20, true).unwrap();
    let h = validate_batch(&bytes).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 777);
    assert_eq!(log.offset_for_timestamp(700).unwrap(), Some((0, 777)));
    assert_eq!(log.max_timestamp_and_offset(), Some((777, 0)));
}

#[test]
fn flush_messages_one_fsyncs_before_return() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: 1,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, 0, 0, true, 0).unwrap();
    for i in 0..20 {
        append(&mut log, &simple_batch(2, 1), i);
        assert_eq!(log.recovery_point(), log.log_end_offset());
    }
    let mut log2 = Log::open(
        tempfile::tempdir().unwrap().path(),
        small_config(),
        0,
        0,
        true,
        0,
    )
    .unwrap();
    append(&mut log2, &simple_batch(2, 1), 0);
    assert_eq!(log2.recovery_point(), 0);
    log2.flush().unwrap();
    assert_eq!(log2.recovery_point(), 2);
}

#[test]
fn log_start_offset_bounds_reads_and_empty_log_starts_there() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), 42, 0, true, 0).unwrap();
    assert_eq!(log.log_start_offset(), 42);
    assert_eq!(log.log_end_offset(), 42);
    assert!(seg_path(dir.path(), 42, LOG_FILE_SUFFIX).exists());
    assert_eq!(append(&mut log, &simple_batch(2, 1), 0).first_offset, 42);
    assert!(matches!(
        log.read(41, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(all_offsets(&log), vec![42, 43]);
}

#[test]
fn deferred_sync_advances_the_recovery_point_only_when_marked() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: 1,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, 0, 0, true, 0).unwrap();
    // A first append to a fresh log directory needs the directory fsynced
    // too, so it may flush in place; later ones defer the segment's fsync.
    append(&mut log, &simple_batch(2, 1), 0);
    let b = Bytes::from(simple_batch(3, 1));
    let (info, sync) = log.append_with_deferred_sync(b, 1).unwrap();
    assert_eq!(info.first_offset, 2);
    let sync = sync.expect("flush.messages=1 owes an fsync");
    assert_eq!(log.recovery_point(), 2, "not durable before the fsync ran");
    let end = sync.sync().unwrap();
    assert_eq!(end, 5);
    log.mark_flushed(end);
    assert_eq!(log.recovery_point(), 5);
    // Without flush settings nothing is owed.
    let mut plain = Log::open(
        tempfile::tempdir().unwrap().path(),
        small_config(),
        0,
        0,
        true,
        0,
    )
    .unwrap();
    let b = Bytes::from(simple_batch(1, 1));
    assert!(plain.append_with_deferred_sync(b, 1).unwrap().1.is_none());
}

/// ListOffsets v0's lookup, as Kafka's `legacyFetchOffsetsBefore`: segment
/// base offsets and the log end, newest first, at most `max_offsets`.
#[test]
fn legacy_offsets_before_lists_segment_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), 0, 0, true, 0).unwrap();
    let batch = simple_batch(5, 1000);
    for i in 0..40 {
        append(&mut log, &batch, i);
    }
    let segments = log.segment_count();
    let now = crate::util::now_ms() + 60_000;
    let latest = log.legacy_offsets_before(-1, 1000, now);
    assert_eq!(latest.len(), segments + 1, "{latest:?}");
    assert_eq!(latest.first(), Some(&200));
    assert_eq!(latest.last(), Some(&0));
    assert!(latest.windows(2).all(|w| w[0] > w[1]), "{latest:?}");
    assert_eq!(log.legacy_offsets_before(-1, 1, now), vec![200]);
    assert_eq!(log.legacy_offsets_before(-2, 10, now), vec![0]);
    assert_eq!(log.legacy_offsets_before(-4, 10, now), vec![0]);
    // Every segment file was written before `now`; none before the epoch.
    assert_eq!(log.legacy_offsets_before(now, 1000, now), latest);
    assert_eq!(log.legacy_offsets_before(1, 1000, now), Vec::<i64>::new());
    assert_eq!(log.legacy_offsets_before(-1, 0, now), Vec::<i64>::new());
}

#[test]
fn file_records_are_the_batches_read_returns() {
    // Batches of varied sizes over many segments (some sealed, indexes on
    // file; the active one in memory), read at every offset with limits
    // that cut inside batches, at their ends and across segments.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 200,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, 0, 0, true, 0).unwrap();
    for i in 0..120usize {
        let batch = simple_batch(1 + (i * 7) % 13, 1000 + i as i64);
        append(&mut log, &batch, i as i64);
    }
    assert!(log.segment_count() > 4, "{}", log.segment_count());
    let end = log.log_end_offset();
    for offset in (0..=end).step_by(3) {
        for max in [0, 1, 61, 150, 400, 1000, 4096, 9000, 1 << 20] {
            for min_one in [false, true] {
                let bytes = log.read(offset, max, min_one).unwrap();
                let files = log.read_file_records(offset, max, min_one).unwrap();
                assert_eq!(
                    files.len(),
                    bytes.len(),
                    "offset {offset} max {max} {min_one}"
                );
                assert_eq!(
                    files.read_all().unwrap(),
                    bytes,
                    "offset {offset} max {max} {min_one}"
                );
            }
        }
    }
    assert!(log.read_file_records(end + 1, 100, true).is_err());
}
