//! Kafka's zigzag varints (`ByteUtils.readVarint`/`readVarlong` and their
//! writers): a 32-bit varint takes at most 5 bytes, a 64-bit varlong at most
//! 10. A longer encoding, one whose last byte carries bits beyond the type,
//! or one cut short is an error, never a panic.

use super::RecordsError;

/// Longest encoding of a 32-bit varint.
pub const MAX_VARINT_LEN: usize = 5;
/// Longest encoding of a 64-bit varlong.
pub const MAX_VARLONG_LEN: usize = 10;

fn read_unsigned(buf: &[u8], pos: &mut usize, max_len: usize) -> Result<u64, RecordsError> {
    let mut value: u64 = 0;
    for i in 0..max_len {
        let b = *buf
            .get(*pos + i)
            .ok_or_else(|| RecordsError::corrupt("record varint truncated"))?;
        let shift = 7 * i as u32;
        let bits = u64::from(b & 0x7f);
        // The last allowed byte may only hold the type's remaining bits.
        let width = if max_len == MAX_VARINT_LEN { 32 } else { 64 };
        if shift + 7 > width && bits >> (width - shift) != 0 {
            return Err(RecordsError::corrupt("record varint overflows its type"));
        }
        value |= bits << shift;
        if b & 0x80 == 0 {
            *pos += i + 1;
            return Ok(value);
        }
    }
    Err(RecordsError::corrupt(format!(
        "record varint longer than {max_len} bytes"
    )))
}

/// Reads a zigzag varint (Kafka's `readVarint`, 32 bits) at `*pos`, advancing it.
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<i32, RecordsError> {
    let z = read_unsigned(buf, pos, MAX_VARINT_LEN)? as u32;
    Ok(((z >> 1) as i32) ^ -((z & 1) as i32))
}

/// Reads a zigzag varlong (Kafka's `readVarlong`, 64 bits) at `*pos`, advancing it.
pub fn read_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, RecordsError> {
    let z = read_unsigned(buf, pos, MAX_VARLONG_LEN)?;
    Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
}

/// Appends `v` as a zigzag varint (32 bits).
pub fn write_varint(out: &mut Vec<u8>, v: i32) {
    write_unsigned(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Appends `v` as a zigzag varlong (64 bits).
pub fn write_varlong(out: &mut Vec<u8>, v: i64) {
    write_unsigned(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn write_unsigned(out: &mut Vec<u8>, mut z: u64) {
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Bytes `v` takes as a zigzag varint.
pub fn varint_len(v: i32) -> usize {
    unsigned_len(((v << 1) ^ (v >> 31)) as u32 as u64)
}

/// Bytes `v` takes as a zigzag varlong.
pub fn varlong_len(v: i64) -> usize {
    unsigned_len(((v << 1) ^ (v >> 63)) as u64)
}

fn unsigned_len(z: u64) -> usize {
    (64 - (z | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_lengths() {
        for v in [0, 1, -1, 63, -64, 64, -65, 8191, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert!(out.len() <= MAX_VARINT_LEN);
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos).unwrap(), v);
            assert_eq!(pos, out.len());
        }
        for v in [0, 1, -1, i64::from(i32::MAX) + 1, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            assert_eq!(out.len(), varlong_len(v), "{v}");
            assert!(out.len() <= MAX_VARLONG_LEN);
            let mut pos = 0;
            assert_eq!(read_varlong(&out, &mut pos).unwrap(), v);
            assert_eq!(pos, out.len());
        }
        // Kafka's bytes: 300 -> zigzag 600 -> d8 04; -1 -> 01.
        let mut out = Vec::new();
        write_varint(&mut out, 300);
        write_varint(&mut out, -1);
        assert_eq!(out, [0xd8, 0x04, 0x01]);
    }

    #[test]
    fn overlong_overflowing_and_truncated_are_errors() {
        // Six bytes for a varint, eleven for a varlong.
        let six = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert!(read_varint(&six, &mut 0).is_err());
        let eleven = [0x80; 10].iter().copied().chain([0]).collect::<Vec<u8>>();
        assert!(read_varlong(&eleven, &mut 0).is_err());
        // Five bytes whose last carries bits beyond 32.
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut 0).is_err());
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f], &mut 0).unwrap(),
            i32::MIN
        );
        // Ten bytes whose last carries bits beyond 64.
        let mut ten = [0xff; 10];
        ten[9] = 0x02;
        assert!(read_varlong(&ten, &mut 0).is_err());
        ten[9] = 0x01;
        assert_eq!(read_varlong(&ten, &mut 0).unwrap(), i64::MIN);
        // Cut short, and empty.
        assert!(read_varint(&[0x80], &mut 0).is_err());
        assert!(read_varlong(&[], &mut 0).is_err());
        // A failed read does not move the position.
        let mut pos = 0;
        assert!(read_varint(&[0x80, 0x80], &mut pos).is_err());
        assert_eq!(pos, 0);
    }
}
