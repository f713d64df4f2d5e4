//! Checkpoint files (skeleton).
