//! `__consumer_offsets` as the coordinator replays it: any batch bytes, and
//! any key/value pair inside, decode or fail, never panic or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strom::coordinator::records;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = records::batch_records(data) {
        for (_offset, key, value) in raw.iter().take(64) {
            let _ = records::decode_record(key, value.as_deref());
        }
    }
    // The same bytes as a bare key and value.
    let split = data.first().map_or(0, |b| *b as usize).min(data.len());
    let (key, value) = data.split_at(split);
    let _ = records::decode_record(key, Some(value));
    let _ = records::decode_record(key, None);
});
