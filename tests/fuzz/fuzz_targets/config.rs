//! The broker configuration parser: a TOML file and `--override` lines of any
//! content resolve to a config or a `ConfigError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strom::config::BrokerConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is an override; the rest the TOML file.
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let file = std::path::Path::new("server.toml");
    let overrides = [first.to_string()];
    let _ = BrokerConfig::load_text(Some((file, rest)), std::iter::empty(), &overrides);
    let _ = BrokerConfig::load_text(None, std::iter::empty(), &overrides);
});
