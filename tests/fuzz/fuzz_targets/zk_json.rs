//! The ZooKeeper documents strom reads (`zk::json`): any bytes a znode may
//! hold parse to a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strom::zk::json;

fuzz_target!(|data: &[u8]| {
    let path = "/fuzz";
    let _ = json::parse_broker_endpoints(path, data);
    let _ = json::parse_controller(path, data);
    let _ = json::parse_cluster_id(path, data);
    let _ = json::parse_topic_assignment(path, data);
    let _ = json::parse_topic_config(path, data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = json::base64_to_uuid(s);
    }
});
