//! A produced record batch as the log validates it: header, length and
//! CRC-32C checks, bounded decompression, record parsing, key checks for
//! compacted topics and conversion to the topic's codec. Any bytes are
//! refused with a `LogError` or accepted, never a panic or an allocation
//! past the decompression bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strom::log::config::{CompressionType, LogConfig};
use strom::log::validator::validate_batch;
use strom::records::{self, BatchHeader, Codec, MAX_DECOMPRESSED_BATCH_BYTES};

fn exercise(batch: &[u8], selector: u8) {
    if records::check_batch_integrity(batch).is_err() {
        return;
    }
    let mut config = LogConfig {
        cleanup_compact: selector & 1 == 1,
        ..LogConfig::default()
    };
    config.compression_type = match (selector >> 1) % 4 {
        0 => CompressionType::Producer,
        1 => CompressionType::Uncompressed,
        2 => CompressionType::Gzip,
        _ => CompressionType::Zstd,
    };
    let _ = validate_batch(batch, &config, 1_700_000_000_000);
    // The records as a reader walks them.
    if let Ok(header) = BatchHeader::parse(batch) {
        if let (Ok(body), Ok(codec)) = (
            records::records_section(batch, &header),
            Codec::from_attributes(header.attributes),
        ) {
            if let Ok(section) = codec.decompress(body, MAX_DECOMPRESSED_BATCH_BYTES) {
                if let Ok(iter) = records::records(&section, header.record_count) {
                    for r in iter.take(10_000) {
                        if r.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    exercise(rest, selector);
    // The same bytes with a consistent batchLength and CRC, so the fuzzer
    // gets past the integrity checks into decompression and record parsing.
    if rest.len() >= records::BATCH_HEADER_SIZE {
        let mut fixed = rest.to_vec();
        let len = i32::try_from(fixed.len() - records::LOG_OVERHEAD).unwrap_or(i32::MAX);
        fixed[8..12].copy_from_slice(&len.to_be_bytes());
        fixed[16] = records::MAGIC_V2 as u8;
        if records::update_crc(&mut fixed).is_ok() {
            exercise(&fixed, selector);
        }
    }
});
