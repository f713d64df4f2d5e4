use super::*;
use crate::records::check_batch_integrity;
use crate::records::testing::simple_batch;

type Msg = (Option<Vec<u8>>, Option<Vec<u8>>, i64);
type Field = Option<Vec<u8>>;
/// (offset, timestamp, key, value) of a v2 record.
type V2Record = (i64, i64, Field, Field);
/// (offset, attributes, timestamp, key, value) of a legacy message.
type Legacy = (i64, u8, i64, Field, Field);

fn sample() -> Vec<Msg> {
    vec![
        (
            Some(b"k0".to_vec()),
            Some(b"v0".to_vec()),
            1_700_000_000_000,
        ),
        (None, Some(b"value without key".to_vec()), 1_700_000_000_005),
        (Some(b"tomb".to_vec()), None, 1_699_999_999_999),
        (Some(Vec::new()), Some(Vec::new()), 1_700_000_000_010),
    ]
}

/// A plain set of `msgs` with offsets from `first`.
fn plain_set(magic: i8, first: i64, msgs: &[Msg]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (k, v, ts)) in msgs.iter().enumerate() {
        write_message(
            &mut out,
            magic,
            first + i as i64,
            0,
            *ts,
            k.as_deref(),
            v.as_deref(),
        );
    }
    out
}

/// Java's and kafka-python's magic-0 LZ4 frame: descriptor checksum over the
/// frame magic too (KAFKA-3160).
fn break_lz4_checksum(frame: &mut [u8]) {
    let flg = frame[4];
    let hc_pos = 4 + 2 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    frame[hc_pos] = (xxh32(&frame[..hc_pos], 0) >> 8) as u8;
}

/// One compressed wrapper around `inner`, as Kafka's producers write it:
/// magic 1 inner offsets relative 0..n-1 and the wrapper at `wrapper_offset`;
/// magic 0 inner offsets absolute.
fn wrapper(magic: i8, codec: Codec, wrapper_offset: i64, inner: &[u8]) -> Vec<u8> {
    let mut value = codec.compress(inner).unwrap();
    if codec == Codec::Lz4 && magic == MAGIC_V0 {
        break_lz4_checksum(&mut value);
    }
    let mut out = Vec::new();
    write_message(
        &mut out,
        magic,
        wrapper_offset,
        codec.id() as u8,
        1_700_000_000_100,
        None,
        Some(&value),
    );
    out
}

/// (offset, timestamp, key, value) of every record of v2 batches.
fn v2_records(bytes: &[u8]) -> Vec<V2Record> {
    let mut seen = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let header = BatchHeader::parse(&bytes[pos..]).unwrap();
        let batch = &bytes[pos..pos + header.total_size()];
        pos += batch.len();
        let section = records_of(batch, &header).unwrap();
        for r in records(&section, header.record_count).unwrap() {
            let r = r.unwrap();
            seen.push((
                header.base_offset + i64::from(r.offset_delta),
                header.record_timestamp(r.timestamp_delta),
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
            ));
        }
    }
    seen
}

/// (offset, attributes, timestamp, key, value) of every message of a set.
fn legacy_messages(set: &[u8], magic: i8) -> Vec<Legacy> {
    let mut seen = Vec::new();
    let mut budget = MAX_DECOMPRESSED_BATCH_BYTES;
    for_each_message(set, magic, &mut budget, |m| {
        seen.push((
            m.offset,
            m.attributes,
            m.timestamp,
            m.key.map(<[u8]>::to_vec),
            m.value.map(<[u8]>::to_vec),
        ));
        Ok(())
    })
    .unwrap();
    seen
}

fn expected_ts(magic: i8, ts: i64) -> i64 {
    if magic == MAGIC_V0 {
        -1
    } else {
        ts
    }
}

#[test]
fn xxh32_matches_the_reference() {
    assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
    // The descriptor of the LZ4 frame every lz4 tool writes: 04 22 4D 18 64 40 A7.
    assert_eq!((xxh32(&[0x64, 0x40], 0) >> 8) as u8, 0xA7);
    // Long inputs take the four-lane path; it must at least be deterministic
    // and depend on every byte.
    let long: Vec<u8> = (0..100u8).collect();
    let mut other = long.clone();
    other[50] ^= 1;
    assert_ne!(xxh32(&long, 0), xxh32(&other, 0));
}

#[test]
fn plain_sets_up_convert_and_down_convert_back() {
    for magic in [MAGIC_V0, MAGIC_V1] {
        let set = plain_set(magic, 0, &sample());
        let batch = up_convert(&set)
            .unwrap()
            .expect("a legacy set is converted");
        let header = BatchHeader::parse(&batch).unwrap();
        assert_eq!(header.magic, 2);
        assert_eq!(header.record_count, 4);
        assert_eq!(header.attributes, 0, "uncompressed, CreateTime");
        assert_eq!(header.producer_id, -1);
        check_batch_integrity(&batch).expect("a valid v2 batch (CRC-32C)");
        let records = v2_records(&batch);
        let want: Vec<_> = sample()
            .into_iter()
            .enumerate()
            .map(|(i, (k, v, ts))| (i as i64, expected_ts(magic, ts), k, v))
            .collect();
        assert_eq!(records, want, "magic {magic}");
        // Back to each legacy magic: the same keys, values and offsets.
        for to in [MAGIC_V0, MAGIC_V1] {
            let down = down_convert(&batch, to, 0, usize::MAX, true).unwrap();
            let msgs = legacy_messages(&down, to);
            let want: Vec<_> = records
                .iter()
                .map(|(o, ts, k, v)| {
                    (
                        *o,
                        0u8,
                        if to == MAGIC_V0 { -1 } else { *ts },
                        k.clone(),
                        v.clone(),
                    )
                })
                .collect();
            assert_eq!(msgs, want, "magic {magic} -> {to}");
        }
    }
}

#[test]
fn magic_0_timestamps_are_no_timestamp() {
    let set = plain_set(MAGIC_V0, 0, &sample());
    let batch = convert(&set, MAGIC_V0).unwrap();
    let h = BatchHeader::parse(&batch).unwrap();
    assert_eq!((h.base_timestamp, h.max_timestamp), (-1, -1));
}

#[test]
fn compressed_wrappers_of_every_codec_up_convert() {
    for magic in [MAGIC_V0, MAGIC_V1] {
        for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4] {
            let inner = plain_set(magic, 0, &sample());
            // Two wrappers: the second's inner offsets continue (magic 0) or
            // restart at 0 (magic 1, relative) with the wrapper at the last.
            let mut set = wrapper(magic, codec, 3, &inner);
            let second_inner = if magic == MAGIC_V0 {
                plain_set(magic, 4, &sample()[..2])
            } else {
                plain_set(magic, 0, &sample()[..2])
            };
            set.extend(wrapper(magic, codec, 5, &second_inner));
            let msgs = legacy_messages(&set, magic);
            let offsets: Vec<i64> = msgs.iter().map(|m| m.0).collect();
            assert_eq!(offsets, vec![0, 1, 2, 3, 4, 5], "{codec:?} magic {magic}");
            let batch = convert(&set, magic).unwrap();
            let h = BatchHeader::parse(&batch).unwrap();
            assert_eq!(h.attributes, codec.id(), "the wrapper's codec is kept");
            assert_eq!(h.record_count, 6);
            check_batch_integrity(&batch).unwrap();
            let got: Vec<_> = v2_records(&batch)
                .into_iter()
                .map(|(_, ts, k, v)| (k, v, ts))
                .collect();
            let mut want: Vec<Msg> = sample();
            want.extend(sample().into_iter().take(2));
            let want: Vec<_> = want
                .into_iter()
                .map(|(k, v, ts)| (k, v, expected_ts(magic, ts)))
                .collect();
            assert_eq!(got, want, "{codec:?} magic {magic}");
        }
    }
}

#[test]
fn raw_snappy_blocks_are_accepted_too() {
    let inner = plain_set(MAGIC_V1, 0, &sample());
    let raw = snap::raw::Encoder::new().compress_vec(&inner).unwrap();
    let mut set = Vec::new();
    write_message(&mut set, MAGIC_V1, 3, 2, 0, None, Some(&raw));
    assert_eq!(legacy_messages(&set, MAGIC_V1).len(), 4);
}

#[test]
fn magic_1_inner_offsets_are_relative_to_the_wrapper() {
    let inner = plain_set(MAGIC_V1, 0, &sample()[..3]);
    let set = wrapper(MAGIC_V1, Codec::Gzip, 41, &inner);
    let offsets: Vec<i64> = legacy_messages(&set, MAGIC_V1)
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(offsets, vec![39, 40, 41]);
}

#[test]
fn magic_1_lz4_with_the_broken_checksum_is_refused_but_magic_0_reads_it() {
    let inner = plain_set(MAGIC_V1, 0, &sample());
    let mut value = Codec::Lz4.compress(&inner).unwrap();
    break_lz4_checksum(&mut value);
    let mut set = Vec::new();
    write_message(&mut set, MAGIC_V1, 3, 3, 0, None, Some(&value));
    assert!(matches!(
        convert(&set, MAGIC_V1),
        Err(LegacyError::CorruptMessage(_))
    ));
    // The same frame in magic 0 (inner messages of magic 0).
    let inner = plain_set(MAGIC_V0, 0, &sample());
    let set = wrapper(MAGIC_V0, Codec::Lz4, 3, &inner);
    assert_eq!(
        convert(&set, MAGIC_V0).map(|b| BatchHeader::parse(&b).unwrap().record_count),
        Ok(4)
    );
}

#[test]
fn crc_failures_are_corrupt_message() {
    let mut set = plain_set(MAGIC_V1, 0, &sample());
    let last = set.len() - 1;
    set[last] ^= 0xff;
    let err = convert(&set, MAGIC_V1).unwrap_err();
    assert!(
        matches!(err, LegacyError::CorruptMessage(ref m) if m.contains("crc")),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 2);
    // An inner message's CRC, behind a valid wrapper CRC.
    let mut inner = plain_set(MAGIC_V0, 0, &sample());
    let last = inner.len() - 1;
    inner[last] ^= 0xff;
    let set = wrapper(MAGIC_V0, Codec::Gzip, 0, &inner);
    assert!(
        matches!(convert(&set, MAGIC_V0), Err(LegacyError::CorruptMessage(m)) if m.contains("crc"))
    );
}

/// The positions where a set's (shallow) messages end.
fn boundaries(set: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = 0;
    while pos < set.len() {
        pos += parse_message(&set[pos..]).unwrap().1;
        ends.push(pos);
    }
    ends
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    for magic in [MAGIC_V0, MAGIC_V1] {
        let plain = plain_set(magic, 0, &sample());
        let compressed = wrapper(magic, Codec::Gzip, 3, &plain);
        for set in [plain.clone(), compressed] {
            let ends = boundaries(&set);
            for cut in 1..set.len() {
                if ends.contains(&cut) {
                    // A shorter, whole set.
                    assert!(convert(&set[..cut], magic).is_ok());
                    continue;
                }
                assert!(convert(&set[..cut], magic).is_err(), "cut at {cut}");
                assert!(up_convert(&set[..cut]).is_err(), "cut at {cut}");
            }
            assert!(convert(&set, magic).is_ok());
        }
        // A truncated inner set behind a valid wrapper.
        let ends = boundaries(&plain);
        for cut in 1..plain.len() {
            if ends.contains(&cut) {
                continue;
            }
            let set = wrapper(magic, Codec::Snappy, 3, &plain[..cut]);
            assert!(
                matches!(convert(&set, magic), Err(LegacyError::CorruptMessage(_))),
                "inner cut at {cut}"
            );
        }
    }
}

/// A message with a hand-written size field and body (CRC correct).
fn raw_message(size: i32, body_after_crc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(body_after_crc);
    let crc = message_crc(&out);
    out[LOG_OVERHEAD..MAGIC_POSITION].copy_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn impossible_sizes_are_refused_at_every_depth() {
    // magic 0, attributes 0, key -1, value of a claimed 2 GiB.
    let mut body = vec![0u8, 0];
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    let hostile = [
        raw_message(i32::MAX, &body),
        raw_message(-1, &body),
        raw_message(13, &body),
        raw_message(i32::MIN, &body),
        raw_message(body.len() as i32 + 4, &body),
        {
            // key length -2
            let mut b = vec![0u8, 0];
            b.extend_from_slice(&(-2i32).to_be_bytes());
            b.extend_from_slice(&(-1i32).to_be_bytes());
            raw_message(b.len() as i32 + 4, &b)
        },
        {
            // magic 1 claimed but only magic 0's overhead present
            let mut b = vec![1u8, 0];
            b.extend_from_slice(&(-1i32).to_be_bytes());
            b.extend_from_slice(&(-1i32).to_be_bytes());
            raw_message(b.len() as i32 + 4, &b)
        },
    ];
    for (i, msg) in hostile.iter().enumerate() {
        for magic in [MAGIC_V0, MAGIC_V1] {
            assert!(
                convert(msg, magic).is_err(),
                "hostile message {i}, magic {magic}"
            );
            for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4] {
                let set = wrapper(magic, codec, 0, msg);
                assert!(
                    convert(&set, magic).is_err(),
                    "hostile message {i} inside {codec:?}"
                );
            }
        }
    }
    // Garbage that is not a compressed stream at all.
    let mut set = Vec::new();
    write_message(&mut set, MAGIC_V1, 0, 1, 0, None, Some(b"not gzip"));
    assert!(matches!(
        convert(&set, MAGIC_V1),
        Err(LegacyError::CorruptMessage(_))
    ));
}

#[test]
fn nested_wrappers_are_refused_as_kafka_refuses_them() {
    for magic in [MAGIC_V0, MAGIC_V1] {
        let innermost = plain_set(magic, 0, &sample());
        let middle = wrapper(magic, Codec::Gzip, 3, &innermost);
        let set = wrapper(magic, Codec::Snappy, 3, &middle);
        let err = convert(&set, magic).unwrap_err();
        assert!(matches!(err, LegacyError::InvalidRecord(_)), "{err}");
        assert_eq!(err.kafka_error_code(), 87);
    }
}

#[test]
fn decompression_bombs_are_refused() {
    // 10 000 bytes of messages behind a few dozen compressed bytes, against
    // a budget of 1 000; the budget is shared by every wrapper of the set.
    let big = vec![b'x'; 9_000];
    let inner = plain_set(MAGIC_V1, 0, &[(None, Some(big), 0)]);
    let set = wrapper(MAGIC_V1, Codec::Gzip, 0, &inner);
    assert!(set.len() < 200);
    let mut budget = 1_000;
    let r = for_each_message(&set, MAGIC_V1, &mut budget, |_| Ok(()));
    assert!(
        matches!(r, Err(LegacyError::CorruptMessage(ref m)) if m.contains("more than")),
        "{r:?}"
    );
    let mut twice = set.clone();
    twice.extend_from_slice(&set);
    let mut budget = 15_000;
    let r = for_each_message(&twice, MAGIC_V1, &mut budget, |_| Ok(()));
    assert!(r.is_err(), "the second wrapper exceeds what the first left");
    let mut budget = 25_000;
    assert!(for_each_message(&twice, MAGIC_V1, &mut budget, |_| Ok(())).is_ok());
}

#[test]
fn semantic_refusals_carry_kafkas_error_codes() {
    // A producer's LogAppendTime.
    let mut set = Vec::new();
    write_message(
        &mut set,
        MAGIC_V1,
        0,
        LEGACY_TIMESTAMP_TYPE_MASK,
        5,
        None,
        Some(b"v"),
    );
    assert_eq!(convert(&set, MAGIC_V1).unwrap_err().kafka_error_code(), 32);
    // ... also on a wrapper.
    let inner = plain_set(MAGIC_V1, 0, &sample());
    let mut value = Vec::new();
    let mut w = Vec::new();
    value.extend(Codec::Gzip.compress(&inner).unwrap());
    write_message(
        &mut w,
        MAGIC_V1,
        3,
        1 | LEGACY_TIMESTAMP_TYPE_MASK,
        5,
        None,
        Some(&value),
    );
    assert_eq!(convert(&w, MAGIC_V1).unwrap_err().kafka_error_code(), 32);
    // Mixed magics.
    let mut mixed = plain_set(MAGIC_V0, 0, &sample()[..1]);
    mixed.extend(plain_set(MAGIC_V1, 1, &sample()[..1]));
    assert_eq!(
        convert(&mixed, MAGIC_V0).unwrap_err().kafka_error_code(),
        87
    );
    // zstd in a legacy wrapper.
    let mut z = Vec::new();
    write_message(&mut z, MAGIC_V1, 0, 4, 0, None, Some(b"whatever"));
    assert_eq!(convert(&z, MAGIC_V1).unwrap_err().kafka_error_code(), 76);
    // A wrapper with nothing inside, or a null value.
    let empty = wrapper(MAGIC_V1, Codec::Gzip, 0, &[]);
    assert_eq!(
        convert(&empty, MAGIC_V1).unwrap_err().kafka_error_code(),
        87
    );
    let mut null = Vec::new();
    write_message(&mut null, MAGIC_V0, 0, 1, 0, None, None);
    assert_eq!(convert(&null, MAGIC_V0).unwrap_err().kafka_error_code(), 87);
}

#[test]
fn v2_batches_and_empty_records_pass_through() {
    let v2 = simple_batch(3, 1_000);
    assert_eq!(up_convert(&v2), Ok(None));
    assert_eq!(up_convert(&[]), Ok(None));
    assert!(up_convert(&[0u8; 10]).is_err());
}

#[test]
fn mutated_sets_never_panic() {
    let mut seeds = Vec::new();
    for magic in [MAGIC_V0, MAGIC_V1] {
        let plain = plain_set(magic, 0, &sample());
        seeds.push((magic, plain.clone()));
        for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4] {
            seeds.push((magic, wrapper(magic, codec, 3, &plain)));
        }
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3_000 {
        let (magic, seed) = &seeds[(next() % seeds.len() as u64) as usize];
        let mut set = seed.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % set.len() as u64) as usize;
            set[at] = next() as u8;
        }
        let _ = convert(&set, *magic);
        let _ = up_convert(&set);
    }
}

/// A stored v2 batch at `base` with `n` records of value `v{i}`, with
/// `attributes` (codec bits and flags).
fn stored(base: i64, n: usize, attributes: i16) -> Bytes {
    let codec = Codec::from_attributes(attributes).unwrap();
    let mut b = BatchBuilder::new(codec)
        .with_base_offset(base)
        .with_attributes(attributes);
    for i in 0..n {
        let v = format!("v{}", base + i as i64);
        b.append(1_000 + i as i64, Some(b"k"), Some(v.as_bytes()), &[]);
    }
    Bytes::from(b.finish().unwrap())
}

fn offsets_of(set: &[u8], magic: i8) -> Vec<i64> {
    legacy_messages(set, magic).iter().map(|m| m.0).collect()
}

#[test]
fn down_conversion_keeps_whole_messages_within_the_limit() {
    let mut all = Vec::new();
    all.extend_from_slice(&stored(0, 5, 0));
    all.extend_from_slice(&stored(5, 5, 1)); // gzip
    let all = Bytes::from(all);
    // From inside the first batch: earlier records are left out.
    let got = down_convert(&all, MAGIC_V1, 3, usize::MAX, true).unwrap();
    assert_eq!(offsets_of(&got, MAGIC_V1), (3..10).collect::<Vec<_>>());
    let one = LOG_OVERHEAD + record_overhead(MAGIC_V0) + 1 + 2;
    // Room for two and a half messages: two whole ones.
    let got = down_convert(&all, MAGIC_V0, 0, one * 5 / 2, true).unwrap();
    assert_eq!(got.len(), 2 * one);
    assert_eq!(offsets_of(&got, MAGIC_V0), vec![0, 1]);
    // Less than one: one with min_one, none without.
    let got = down_convert(&all, MAGIC_V0, 7, 1, true).unwrap();
    assert_eq!(offsets_of(&got, MAGIC_V0), vec![7]);
    assert!(down_convert(&all, MAGIC_V0, 7, 1, false)
        .unwrap()
        .is_empty());
    // Compressed stored batches come out as uncompressed messages.
    for m in legacy_messages(
        &down_convert(&all, MAGIC_V1, 5, usize::MAX, true).unwrap(),
        MAGIC_V1,
    ) {
        assert_eq!(m.1 & CODEC_MASK, 0);
        assert_eq!(m.4, Some(format!("v{}", m.0).into_bytes()));
        assert_eq!(m.2, 1_000 + m.0 - 5);
    }
}

#[test]
fn down_conversion_skips_control_batches_and_refuses_zstd() {
    let mut all = Vec::new();
    all.extend_from_slice(&stored(0, 2, 0x20)); // control
    all.extend_from_slice(&stored(2, 2, 0));
    let got = down_convert(&Bytes::from(all), MAGIC_V1, 0, usize::MAX, true).unwrap();
    assert_eq!(offsets_of(&got, MAGIC_V1), vec![2, 3]);
    let zstd = stored(0, 2, 4);
    let err = down_convert(&zstd, MAGIC_V1, 0, usize::MAX, true).unwrap_err();
    assert_eq!(err.kafka_error_code(), 76);
}

#[test]
fn log_append_time_batches_give_the_batch_time_in_magic_1() {
    let mut b = stored(0, 3, 0x08).to_vec();
    b[35..43].copy_from_slice(&77_777i64.to_be_bytes()); // max timestamp
    let got = down_convert(&Bytes::from(b), MAGIC_V1, 0, usize::MAX, true).unwrap();
    for m in legacy_messages(&got, MAGIC_V1) {
        assert_eq!((m.1, m.2), (LEGACY_TIMESTAMP_TYPE_MASK, 77_777));
    }
}
