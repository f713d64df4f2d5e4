//! Request bodies of every (API, version) the broker advertises, picked from
//! the API registry by the input's first two bytes: the bounded walker
//! (`protocol::bounded`) decides, and only what it accepts reaches
//! kafka-protocol's decoder, which must then consume exactly the bytes the
//! walker measured. The whole input is also checked as a request frame
//! (header and body). No input may panic or allocate past the walker's bound.
#![no_main]

use kafka_protocol::messages::ApiKey;
use libfuzzer_sys::fuzz_target;
use strom::protocol::bounded;
use strom::protocol::APIS;

fuzz_target!(|data: &[u8]| {
    let [api, version, body @ ..] = data else {
        return;
    };
    let support = &APIS[usize::from(*api) % APIS.len()];
    let span = (support.max - support.min + 1).max(1);
    let version = support.min + i16::from(*version) % span;
    let outcome = bounded::differential(support.key, version, body);
    assert!(
        outcome.is_consistent(),
        "{:?} v{version}: walker and decoder disagree: {outcome:?}",
        support.key
    );
    // The raw input as a frame: its own first four bytes name the API.
    if data.len() >= 4 {
        let key = i16::from_be_bytes([data[0], data[1]]);
        let v = i16::from_be_bytes([data[2], data[3]]);
        if let Ok(key) = ApiKey::try_from(key) {
            if bounded::has_schema(key, v) {
                let _ = bounded::check_request(key, v, data);
            }
        }
    }
});
