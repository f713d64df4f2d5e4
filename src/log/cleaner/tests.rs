use super::*;
use crate::records::testing::build_batch;
use bytes::Bytes;
use bytes::BytesMut;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        index_interval_bytes: 64,
        cleanup_compact: true,
        cleanup_delete: false,
        delete_retention_ms: 1_000,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

fn ctx() -> CleanContext {
    CleanContext::new(1 << 20, f64::MAX, Arc::new(FileDeleter::new()))
}

/// Appends one batch of (key, value) records at timestamp `ts`.
fn append(log: &mut Log, records: &[(&str, Option<&str>)], ts: i64) {
    let recs: Vec<crate::records::testing::TestRecord<'_>> = records
        .iter()
        .map(|(k, v)| (ts, Some(k.as_bytes()), v.map(str::as_bytes)))
        .collect();
    let mut b = BytesMut::from(&build_batch(0, &recs)[..]);
    log.append(&mut b, ts).unwrap();
}

/// Every record from the log start: (offset, key, value).
fn read_all(log: &Log) -> Vec<(i64, String, Option<String>)> {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX >> 1, true)
        .unwrap();
    let mut out = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let h = BatchHeader::parse(&bytes[p..]).unwrap();
        let b = &bytes[p..p + h.total_size()];
        crate::log::batch::check_batch_integrity(b).unwrap();
        let data = decompressed_section(b, &h).unwrap();
        for r in records(&data, h.record_count).unwrap() {
            let r = r.unwrap();
            out.push((
                h.base_offset + i64::from(r.offset_delta),
                String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                r.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
            ));
        }
        p += h.total_size();
    }
    out
}

/// 20 keys × 5 versions, keys 0..3 deleted at the end, then one active batch.
fn fill(log: &mut Log, ts: i64) {
    for v in 0..5 {
        for k in 0..20 {
            let (key, value) = (format!("k{k}"), format!("v{v}-{k}"));
            append(log, &[(&key, Some(&value))], ts);
        }
    }
    for k in 0..3 {
        append(log, &[(&format!("k{k}"), None)], ts);
    }
    // Roll so that everything above is sealed.
    let mut b = BytesMut::from(&build_batch(0, &[(ts, Some(b"z"), Some(b"x"))])[..]);
    log.roll().unwrap();
    log.append(&mut b, ts).unwrap();
}

#[test]
fn cleaning_keeps_latest_value_per_key_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let lock = RwLock::new(Log::open(dir.path(), config(), 0, 0, true, 0).unwrap());
    fill(&mut lock.write(), 1_000);
    let end = lock.read().log_end_offset();
    let before = lock.read().segment_count();
    let stats = clean_log(&lock, 0, 1_500, &ctx()).unwrap();
    assert!(stats.records_removed >= 80, "{stats:?}");
    let log = lock.read();
    assert_eq!(log.log_end_offset(), end);
    let records = read_all(&log);
    let offsets: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    // Tombstones are young (delete.retention.ms 1 s): kept.
    let mut live = 0;
    for (offset, key, value) in &records {
        if key == "z" {
            continue;
        }
        let k: usize = key[1..].parse().unwrap();
        if k < 3 {
            assert_eq!(value, &None, "{key} at {offset}");
            assert_eq!(*offset, 100 + k as i64);
        } else {
            assert_eq!(value.as_deref(), Some(format!("v4-{k}").as_str()));
            assert_eq!(*offset, 80 + k as i64);
            live += 1;
        }
    }
    assert_eq!(live, 17);
    assert_eq!(stats.tombstones_due_ms, 2_000);
    drop(log);

    // After delete.retention.ms the tombstones go; nothing else changes.
    let stats = clean_log(&lock, stats.end_offset, 2_500, &ctx()).unwrap();
    assert_eq!(stats.records_removed, 3);
    let records = read_all(&lock.read());
    assert!(records.iter().all(|r| r.2.is_some()));
    assert_eq!(records.len(), 18);
    assert!(
        lock.read().segment_count() < before,
        "small cleaned segments merge"
    );

    // Reopening reads the same (indexes of the cleaned segments are valid).
    lock.write().close().unwrap();
    let log = Log::open(dir.path(), config(), 0, 0, true, 0).unwrap();
    assert_eq!(read_all(&log), records);
    let log2 = Log::open(dir.path(), config(), 0, 0, false, 0).unwrap();
    assert_eq!(read_all(&log2), records);
}

#[test]
fn min_compaction_lag_and_dirtiness() {
    let dir = tempfile::tempdir().unwrap();
    let lock = RwLock::new(Log::open(dir.path(), config(), 0, 0, true, 0).unwrap());
    fill(&mut lock.write(), 1_000);
    let d = lock.read().dirtiness(0, 1_500);
    assert_eq!(d.ratio, 1.0);
    assert!(d.dirty_bytes > 0);
    lock.write().update_config(LogConfig {
        min_compaction_lag_ms: 10_000,
        ..config()
    });
    // Every segment is younger than the lag: nothing cleanable.
    assert_eq!(lock.read().dirtiness(0, 1_500).dirty_bytes, 0);
    let stats = clean_log(&lock, 0, 1_500, &ctx()).unwrap();
    assert_eq!(stats.records_removed, 0);
    // Cleaned up to the end: nothing dirty afterwards.
    lock.write().update_config(config());
    let stats = clean_log(&lock, 0, 1_500, &ctx()).unwrap();
    assert_eq!(
        lock.read().dirtiness(stats.end_offset, 1_500).dirty_bytes,
        0
    );
}

#[test]
fn compressed_batches_are_recompressed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), 0, 0, true, 0).unwrap();
    // A gzip batch of three records, two with the same key.
    let recs = [
        kafka_protocol::records::Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kafka_protocol::records::TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1_000,
            key: Some(Bytes::from_static(b"a")),
            value: Some(Bytes::from_static(b"1")),
            headers: Default::default(),
            delete_horizon: false,
        },
        kafka_protocol::records::Record {
            offset: 1,
            sequence: 0,
            key: Some(Bytes::from_static(b"b")),
            value: Some(Bytes::from_static(b"2")),
            ..kafka_protocol_record()
        },
        kafka_protocol::records::Record {
            offset: 2,
            sequence: 1,
            key: Some(Bytes::from_static(b"a")),
            value: Some(Bytes::from_static(b"3")),
            ..kafka_protocol_record()
        },
    ];
    let mut buf = BytesMut::new();
    kafka_protocol::records::RecordBatchEncoder::encode(
        &mut buf,
        recs.iter(),
        &kafka_protocol::records::RecordEncodeOptions {
            version: 2,
            compression: kafka_protocol::records::Compression::Gzip,
        },
    )
    .unwrap();
    log.append(&mut buf, 1_000).unwrap();
    log.roll().unwrap();
    append(&mut log, &[("c", Some("4"))], 1_000);
    let lock = RwLock::new(log);
    let stats = clean_log(&lock, 0, 1_000, &ctx()).unwrap();
    assert_eq!(stats.records_removed, 1);
    let log = lock.read();
    let bytes = log.read(0, 1 << 20, true).unwrap();
    let h = BatchHeader::parse(&bytes).unwrap();
    assert_eq!(h.compression(), 1);
    assert_eq!((h.base_offset, h.last_offset(), h.record_count), (0, 2, 2));
    let set =
        kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes.slice(..h.total_size()))
            .unwrap();
    let got: Vec<(i64, Bytes)> = set
        .records
        .iter()
        .map(|r| (r.offset, r.value.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![(1, Bytes::from_static(b"2")), (2, Bytes::from_static(b"3"))]
    );
}

fn kafka_protocol_record() -> kafka_protocol::records::Record {
    kafka_protocol::records::Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: kafka_protocol::records::TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_000,
        key: None,
        value: None,
        headers: Default::default(),
        delete_horizon: false,
    }
}

#[test]
fn keyless_records_are_refused_on_compacted_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), 0, 0, true, 0).unwrap();
    let mut b =
        BytesMut::from(&build_batch(0, &[(1, Some(b"k"), Some(b"v")), (1, None, Some(b"v"))])[..]);
    match log.append(&mut b, 1) {
        Err(LogError::InvalidRecords { indexes, .. }) => assert_eq!(indexes, vec![1]),
        other => panic!("expected InvalidRecords, got {other:?}"),
    }
    assert_eq!(log.log_end_offset(), 0);
    append(&mut log, &[("k", Some("v")), ("k", None)], 1);
    assert_eq!(log.log_end_offset(), 2);
}

/// Runs a clean up to the commit point (`.log.swap` in place), as if the
/// broker died there.
fn crash_after_commit(dir: &Path, lock: &RwLock<Log>) -> i64 {
    let log = lock.read();
    let snapshot: Vec<SegmentSnapshot> = log
        .cleanable_segments(1_500)
        .iter()
        .map(|s| SegmentSnapshot {
            base_offset: s.base_offset(),
            next_offset: s.next_offset(),
            size: s.size(),
            largest_timestamp: s.max_timestamp(),
            file: s.log_file().unwrap(),
            path: s.log_path().to_path_buf(),
        })
        .collect();
    let mut map = HashMap::new();
    for (o, k, _) in read_all(&log) {
        map.insert(k.into_bytes(), o);
    }
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let mut stats = CleanStats::default();
    let group = &snapshot[..2];
    assert!(write_cleaned_group(
        group,
        dir,
        &scratch,
        &config(),
        &map,
        1_500,
        &ctx(),
        &mut stats
    )
    .unwrap());
    let base = group[0].base_offset;
    for s in ["index", "timeindex", "log"] {
        let name = segment::file_name(base, s);
        std::fs::rename(
            dir.join(format!("{name}.cleaned")),
            dir.join(format!("{name}.swap")),
        )
        .unwrap();
    }
    base
}

#[test]
fn interrupted_swap_is_completed_on_open_and_cleaned_files_dropped() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("t-0");
    let lock = RwLock::new(Log::open(&dir, config(), 0, 0, true, 0).unwrap());
    fill(&mut lock.write(), 1_000);
    let expected_end = lock.read().log_end_offset();
    let all_before = read_all(&lock.read());
    crash_after_commit(&dir, &lock);
    // A stray `.cleaned` from a later, uncommitted clean.
    std::fs::write(
        dir.join(format!("{}.cleaned", segment::file_name(999, "log"))),
        b"junk",
    )
    .unwrap();
    drop(lock); // kill -9: no close

    let log = Log::open(&dir, config(), 0, 0, false, 0).unwrap();
    assert_eq!(log.log_end_offset(), expected_end);
    let after = read_all(&log);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".swap") && !n.ends_with(".cleaned")),
        "{names:?}"
    );
    // Nothing lost: the latest value of every key is still there, offsets increase.
    let latest = |rs: &[(i64, String, Option<String>)]| {
        let mut m = std::collections::BTreeMap::new();
        for (o, k, v) in rs {
            m.insert(k.clone(), (*o, v.clone()));
        }
        m
    };
    assert_eq!(latest(&after), latest(&all_before));
    assert!(after.len() < all_before.len());
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
    // The clean is redone and converges.
    let lock = RwLock::new(log);
    clean_log(&lock, 0, 1_500, &ctx()).unwrap();
    assert_eq!(latest(&read_all(&lock.read())), latest(&all_before));
}

#[test]
fn throttler_limits_rate() {
    let mut t = Throttler::new(1000.0);
    assert!(t.account(500) > Duration::from_millis(400));
    let mut unlimited = Throttler::new(f64::MAX);
    assert_eq!(unlimited.account(1 << 30), Duration::ZERO);
}
