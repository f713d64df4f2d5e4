//! Legacy message sets (magic 0 and 1) as Produce v0–2 and Fetch v0–3 see
//! them: any bytes up-convert to one record batch v2 or fail with a
//! `LegacyError`, never panic or decompress past the bound; what converts
//! down-converts back to as many messages; any bytes as stored batches
//! down-convert or fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strom::records::legacy::{
    convert, down_convert, for_each_message, up_convert, MAGIC_V0, MAGIC_V1,
};
use strom::records::MAX_DECOMPRESSED_BATCH_BYTES;

/// Messages of a legacy set (deep), or `None` when it does not parse.
fn count(set: &[u8], magic: i8) -> Option<usize> {
    let mut budget = MAX_DECOMPRESSED_BATCH_BYTES;
    let mut n = 0usize;
    for_each_message(set, magic, &mut budget, |_| {
        n += 1;
        Ok(())
    })
    .ok()?;
    Some(n)
}

fuzz_target!(|data: &[u8]| {
    for magic in [MAGIC_V0, MAGIC_V1] {
        if let Ok(batch) = convert(data, magic) {
            // A set that converts is well formed: its messages come back,
            // one per message, from the batch it became.
            let messages = count(data, magic).expect("a converted set parses");
            let back = down_convert(&batch, magic, 0, usize::MAX, true)
                .expect("an up-converted batch down-converts");
            assert_eq!(count(&back, magic), Some(messages));
        }
    }
    let _ = up_convert(data);
    // The same bytes as stored v2 batches read by an old consumer: the
    // first byte picks the magic, the offset, the limit and min_one.
    let knob = data.first().copied().unwrap_or(0);
    let magic = if knob & 1 == 0 { MAGIC_V0 } else { MAGIC_V1 };
    let max_bytes = usize::from(knob >> 2) * 64;
    let _ = down_convert(data, magic, i64::from(knob >> 4), max_bytes, knob & 2 != 0);
});
