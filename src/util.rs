//! Small helpers shared across modules.

/// Kafka's textual form of a UUID (topic ids, cluster ids): the 16 bytes as
/// URL-safe base64 without padding, 22 characters.
pub fn uuid_to_base64(id: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_22_chars_url_safe() {
        let id = uuid::Uuid::from_bytes([0xff; 16]);
        assert_eq!(super::uuid_to_base64(id), "_____________________w");
        let zero = uuid::Uuid::nil();
        assert_eq!(super::uuid_to_base64(zero), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
