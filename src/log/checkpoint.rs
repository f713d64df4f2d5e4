//! Checkpoint files in Kafka's format (`recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`): line `0` (version), line with the entry
//! count, then one `topic partition offset` line per partition.
//!
//! Invariant: a checkpoint on disk is always complete — it is written to a
//! temporary file, fsynced, renamed over the old one and the directory fsynced.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::io_err;
use super::LogError;

pub const RECOVERY_POINT_CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_OFFSET_CHECKPOINT_FILE: &str = "log-start-offset-checkpoint";
const CURRENT_VERSION: i32 = 0;

/// fsyncs a directory so that renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Replaces `path` with `contents` atomically: temp file, fsync, rename, fsync dir.
pub fn atomic_write(path: &Path, contents: &[u8]) -> Result<(), LogError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(contents).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => Ok(()),
    }
}

/// Writes a checkpoint of `(topic, partition, offset)` entries atomically.
pub fn write_checkpoint(path: &Path, entries: &[(String, i32, i64)]) -> Result<(), LogError> {
    let mut s = format!("{CURRENT_VERSION}\n{}\n", entries.len());
    for (topic, partition, offset) in entries {
        s.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    atomic_write(path, s.as_bytes())
}

/// Reads a checkpoint; a missing file is an empty checkpoint. A malformed one
/// is a `LogError::Io` of kind `InvalidData`.
pub fn read_checkpoint(path: &Path) -> Result<HashMap<(String, i32), i64>, LogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(io_err(path, e)),
    };
    let bad = |what: String| {
        io_err(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("malformed checkpoint: {what}"),
            ),
        )
    };
    let mut lines = text.lines();
    let version = lines.next().ok_or_else(|| bad("empty file".into()))?;
    if version.trim().parse::<i32>().ok() != Some(CURRENT_VERSION) {
        return Err(bad(format!("unsupported version {version:?}")));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| bad("missing entry count".into()))?;
    let mut out = HashMap::with_capacity(count.min(1 << 16));
    for line in lines.by_ref().take(count) {
        let mut parts = line.rsplitn(3, ' ');
        let (Some(offset), Some(partition), Some(topic)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(format!("line {line:?}")));
        };
        let (Ok(offset), Ok(partition)) = (offset.parse::<i64>(), partition.parse::<i32>()) else {
            return Err(bad(format!("line {line:?}")));
        };
        if topic.is_empty() {
            return Err(bad(format!("line {line:?}")));
        }
        out.insert((topic.to_string(), partition), offset);
    }
    if out.len() != count {
        return Err(bad(format!(
            "expected {count} entries, found {}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT_FILE);
        assert!(read_checkpoint(&path).unwrap().is_empty());
        let entries = vec![
            ("my-topic".to_string(), 2, 100),
            ("other".to_string(), 0, 7),
        ];
        write_checkpoint(&path, &entries).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "0\n2\nmy-topic 2 100\nother 0 7\n");
        let read = read_checkpoint(&path).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[&("my-topic".to_string(), 2)], 100);
        assert_eq!(read[&("other".to_string(), 0)], 7);
        assert!(!dir
            .path()
            .join(format!("{RECOVERY_POINT_CHECKPOINT_FILE}.tmp"))
            .exists());
        write_checkpoint(&path, &[]).unwrap();
        assert!(read_checkpoint(&path).unwrap().is_empty());
        std::fs::write(&path, "0\n3\na 0 1\n").unwrap();
        assert!(read_checkpoint(&path).is_err());
        std::fs::write(&path, "0\n1\na x 1\n").unwrap();
        assert!(read_checkpoint(&path).is_err());
    }
}
