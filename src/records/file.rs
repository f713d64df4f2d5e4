//! Kafka's `FileRecords` for a fetch: whole record batches as byte ranges of
//! segment files, which a plaintext connection sends with `sendfile(2)`
//! straight from the page cache to the socket (Kafka's
//! `FileRecords.writeTo`), and any other connection reads into memory.
//!
//! The log makes them (under its read lock, from batch headers only: the
//! batches' bytes are not read); this module only moves the bytes. A slice
//! holds its file open (`Arc<File>`), so a segment deleted or compacted away
//! meanwhile is still read whole; the bytes of a range never change once
//! written (appends only go past it). A file found shorter than its range
//! (which nothing in the log does) is an error: the response's length
//! prefix has gone already, so the connection must close.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

/// `len` bytes of `file` from `position`: whole batches.
#[derive(Clone, Debug)]
pub struct FileSlice {
    file: Arc<File>,
    position: u64,
    len: usize,
}

impl FileSlice {
    /// The range `position..position + len` of `file`.
    pub fn new(file: Arc<File>, position: u64, len: usize) -> Self {
        FileSlice {
            file,
            position,
            len,
        }
    }

    /// Bytes in the slice.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sends bytes `sent..` of the slice to `socket` with one `sendfile(2)`
    /// (the socket is non-blocking: `WouldBlock` when its buffer is full);
    /// returns how many went. An early end of the file is `UnexpectedEof`.
    pub fn send_to(&self, socket: impl AsFd, sent: usize) -> io::Result<usize> {
        let want = self.len.saturating_sub(sent);
        if want == 0 {
            return Ok(0);
        }
        let mut at = self.position + sent as u64;
        match rustix::fs::sendfile(socket, &*self.file, Some(&mut at), want) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment file ended before the fetched range",
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends the slice's bytes to `buf`, read straight into its spare
    /// capacity (the copying path, for TLS connections).
    pub fn read_into(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        let end = buf.len() + self.len;
        buf.reserve_exact(self.len);
        while buf.len() < end {
            let at = self.position + (buf.len() + self.len - end) as u64;
            match rustix::io::pread(&*self.file, rustix::buffer::spare_capacity(buf), at) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "segment file ended before the fetched range",
                    ))
                }
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Spare capacity beyond the range may have been filled too.
        buf.truncate(end);
        Ok(())
    }
}

/// A partition's fetched batches: consecutive slices, possibly of several
/// segments, in log order.
#[derive(Clone, Debug, Default)]
pub struct FileRecords {
    slices: Vec<FileSlice>,
    len: usize,
}

impl FileRecords {
    /// Appends a slice (empty ones are left out).
    pub fn push(&mut self, slice: FileSlice) {
        if !slice.is_empty() {
            self.len += slice.len;
            self.slices.push(slice);
        }
    }

    /// Bytes in all slices.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slices, in log order.
    pub fn slices(&self) -> &[FileSlice] {
        &self.slices
    }

    /// All the bytes, read into memory.
    pub fn read_all(&self) -> io::Result<bytes::Bytes> {
        let mut buf = Vec::with_capacity(self.len);
        for s in &self.slices {
            s.read_into(&mut buf)?;
        }
        Ok(bytes::Bytes::from(buf))
    }
}
