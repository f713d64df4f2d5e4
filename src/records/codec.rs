//! The record batch compression codecs (Kafka's `CompressionType`), in one
//! place: none, gzip, snappy (raw blocks as librdkafka sends, and xerial
//! framing as the Java client and broker write), lz4 (frame format) and zstd.
//!
//! Invariant: every decompression is capped. Output beyond the caller's limit
//! (normally [`MAX_DECOMPRESSED_BATCH_BYTES`]) is
//! [`RecordsError::Corrupt`]: a small "compression bomb" cannot make the
//! broker allocate more than the limit.

use std::io::{Read, Write};

use super::batch::{get_u32, COMPRESSION_CODEC_MASK};
use super::RecordsError;

/// Largest decompressed size of one batch's records. Kafka streams records
/// out of the decompressor; strom decompresses a batch whole, so this bound
/// keeps a "compression bomb" from exhausting memory. 64 MiB is 64 times the
/// default `max.message.bytes`; every decompression in the broker (produce
/// validation, the log cleaner, the offsets loader, the client) uses it.
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 << 20;

/// xerial snappy-java's stream header: magic, version 1, compatible version 1.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
/// snappy-java's default block size, which Kafka's producer and broker use.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Kafka's default zstd level (ZSTD_CLEVEL_DEFAULT).
const ZSTD_LEVEL: i32 = 3;

/// A record batch compression codec (attribute bits 0–2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    /// Every codec, by id.
    pub const ALL: [Codec; 5] = [
        Codec::None,
        Codec::Gzip,
        Codec::Snappy,
        Codec::Lz4,
        Codec::Zstd,
    ];

    /// The codec of a codec id (attribute bits 0–2, or Kafka's
    /// `offsets.topic.compression.codec`); ids 5–7 are CORRUPT_MESSAGE.
    pub fn from_id(id: i16) -> Result<Codec, RecordsError> {
        match id {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Gzip),
            2 => Ok(Codec::Snappy),
            3 => Ok(Codec::Lz4),
            4 => Ok(Codec::Zstd),
            other => Err(RecordsError::corrupt(format!(
                "unknown compression codec id {other}"
            ))),
        }
    }

    /// The codec of a batch's attributes.
    pub fn from_attributes(attributes: i16) -> Result<Codec, RecordsError> {
        Codec::from_id(attributes & COMPRESSION_CODEC_MASK)
    }

    /// The codec named by a `compression.type` value (`none`/`uncompressed`,
    /// `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn from_name(name: &str) -> Option<Codec> {
        match name {
            "none" | "uncompressed" => Some(Codec::None),
            "gzip" => Some(Codec::Gzip),
            "snappy" => Some(Codec::Snappy),
            "lz4" => Some(Codec::Lz4),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }

    /// The attribute bits of this codec.
    pub fn id(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    /// Kafka's name of the codec.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// Decompresses a batch's records section into at most `limit` bytes.
    /// Snappy accepts both raw blocks (librdkafka) and xerial framing (Java).
    pub fn decompress(self, data: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
        match self {
            Codec::None => {
                if data.len() > limit {
                    return Err(too_large(self, limit));
                }
                Ok(data.to_vec())
            }
            Codec::Gzip => read_limited(self, flate2::read::MultiGzDecoder::new(data), limit),
            Codec::Snappy => {
                let mut out = Vec::new();
                if data.len() >= XERIAL_HEADER.len() && data.starts_with(XERIAL_MAGIC) {
                    let mut pos = XERIAL_HEADER.len();
                    while pos < data.len() {
                        let len = get_u32(data, pos)
                            .map_err(|_| corrupt(self, "truncated xerial block length"))?
                            as usize;
                        pos += 4;
                        let block = data
                            .get(pos..pos.saturating_add(len))
                            .ok_or_else(|| corrupt(self, "truncated xerial block"))?;
                        snappy_block(block, &mut out, limit)?;
                        pos += len;
                    }
                } else {
                    snappy_block(data, &mut out, limit)?;
                }
                Ok(out)
            }
            Codec::Lz4 => {
                let decoder = lz4::Decoder::new(data).map_err(|e| corrupt(self, e))?;
                read_limited(self, decoder, limit)
            }
            Codec::Zstd => {
                let decoder =
                    zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(self, e))?;
                read_limited(self, decoder, limit)
            }
        }
    }

    /// Compresses records the way Kafka's broker does: gzip at the default
    /// level, xerial-framed snappy in 32 KiB blocks, an LZ4 frame of
    /// independent 64 KiB blocks without content checksum, zstd level 3.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>, RecordsError> {
        let err = |e: std::io::Error| RecordsError::Compress {
            codec: self.name(),
            reason: e.to_string(),
        };
        match self {
            Codec::None => Ok(data.to_vec()),
            Codec::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2 + 64),
                    flate2::Compression::default(),
                );
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            Codec::Snappy => {
                let mut out = Vec::with_capacity(data.len() / 2 + 64);
                out.extend_from_slice(XERIAL_HEADER);
                let mut enc = snap::raw::Encoder::new();
                for chunk in data.chunks(XERIAL_BLOCK_SIZE) {
                    let block = enc
                        .compress_vec(chunk)
                        .map_err(|e| err(std::io::Error::other(e)))?;
                    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                    out.extend_from_slice(&block);
                }
                Ok(out)
            }
            Codec::Lz4 => {
                let mut enc = lz4::EncoderBuilder::new()
                    .block_size(lz4::BlockSize::Max64KB)
                    .block_mode(lz4::BlockMode::Independent)
                    .checksum(lz4::ContentChecksum::NoChecksum)
                    .build(Vec::with_capacity(data.len() / 2 + 64))
                    .map_err(err)?;
                enc.write_all(data).map_err(err)?;
                let (out, res) = enc.finish();
                res.map_err(err)?;
                Ok(out)
            }
            Codec::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL).map_err(err),
        }
    }
}

fn corrupt(codec: Codec, e: impl std::fmt::Display) -> RecordsError {
    RecordsError::corrupt(format!("cannot decompress {} records: {e}", codec.name()))
}

fn too_large(codec: Codec, limit: usize) -> RecordsError {
    RecordsError::corrupt(format!(
        "{} records decompress to more than {limit} bytes",
        codec.name()
    ))
}

fn read_limited(codec: Codec, reader: impl Read, limit: usize) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    reader
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(too_large(codec, limit));
    }
    Ok(out)
}

/// One raw snappy block appended to `out`; its announced length is checked
/// against the limit before anything is allocated.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), RecordsError> {
    let codec = Codec::Snappy;
    let n = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
    let start = out.len();
    if start.saturating_add(n) > limit {
        return Err(too_large(codec, limit));
    }
    out.resize(start + n, 0);
    let dst = out.get_mut(start..).unwrap_or(&mut []);
    let written = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(|e| corrupt(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPRESSED: [Codec; 4] = [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in Codec::ALL {
            assert_eq!(Codec::from_id(codec.id()).unwrap(), codec);
            assert_eq!(Codec::from_name(codec.name()), Some(codec));
            let c = codec.compress(&data).unwrap();
            if codec != Codec::None {
                assert!(c.len() < data.len(), "{codec:?}");
            }
            assert_eq!(codec.decompress(&c, data.len()).unwrap(), data, "{codec:?}");
        }
        for id in 5..8 {
            assert!(Codec::from_id(id).is_err());
        }
    }

    #[test]
    fn every_codec_refuses_a_bomb_at_the_cap() {
        // 64 MiB of zeros compress to a few KB; a 1 MiB cap refuses them
        // without producing more than the cap.
        let zeros = vec![0u8; 64 << 20];
        for codec in Codec::ALL {
            let bomb = codec.compress(&zeros).unwrap();
            let cap = 1 << 20;
            let r = codec.decompress(&bomb, cap);
            assert!(
                matches!(&r, Err(RecordsError::Corrupt(m)) if m.contains("more than")),
                "{codec:?}: {r:?}"
            );
            // Exactly at the cap is fine.
            let small = codec.compress(&zeros[..cap]).unwrap();
            assert_eq!(codec.decompress(&small, cap).unwrap().len(), cap);
        }
        // A raw snappy block announcing more than the cap is refused before
        // anything is allocated.
        let raw = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        assert!(Codec::Snappy.decompress(&raw, 1 << 20).is_err());
    }

    #[test]
    fn snappy_raw_and_xerial_framing() {
        let data =
            b"raw snappy as librdkafka sends it, raw snappy as librdkafka sends it".repeat(2000);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(Codec::Snappy.decompress(&raw, usize::MAX).unwrap(), data);
        let framed = Codec::Snappy.compress(&data).unwrap();
        assert!(framed.starts_with(XERIAL_HEADER));
        // Several 32 KiB blocks, each length-prefixed.
        let first = get_u32(&framed, 16).unwrap() as usize;
        assert!(first > 0 && 20 + first < framed.len());
        assert_eq!(Codec::Snappy.decompress(&framed, usize::MAX).unwrap(), data);
        // A truncated frame or block is corrupt, not a panic.
        for cut in [17, 19, 21, framed.len() - 1] {
            assert!(Codec::Snappy
                .decompress(&framed[..cut], usize::MAX)
                .is_err());
        }
    }

    #[test]
    fn garbage_is_corrupt() {
        for codec in COMPRESSED {
            assert!(
                matches!(
                    codec.decompress(b"definitely not compressed data", 1 << 20),
                    Err(RecordsError::Corrupt(_))
                ),
                "{codec:?}"
            );
        }
    }
}
