//! Log segment (skeleton).
pub struct LogSegment;
