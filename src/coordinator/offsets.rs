//! The committed-offset store: the latest [`OffsetValue`] per group, topic
//! and partition, as replayed from and written to `__consumer_offsets`, and
//! the `offsets.retention.minutes` rule for what has expired.

use std::collections::{BTreeMap, HashMap};

use super::records::GroupValue;
use super::records::{OffsetValue, Record, RecordKey, RecordValue};

/// Committed offsets of one group by (topic, partition).
pub type GroupOffsets = BTreeMap<(String, i32), OffsetValue>;

/// What replaying `__consumer_offsets` produced: per group, its last
/// metadata value (if any) and its offsets.
#[derive(Default, Debug)]
pub struct Replay {
    /// Latest group metadata per group (tombstoned groups are absent).
    pub groups: HashMap<String, GroupValue>,
    /// Latest offsets per group (tombstoned offsets are absent).
    pub offsets: HashMap<String, GroupOffsets>,
}

impl Replay {
    /// Applies one record in log order; tombstones delete.
    pub fn apply(&mut self, record: Record) {
        match (record.key, record.value) {
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                Some(RecordValue::Offset(v)),
            ) => {
                self.offsets
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), v);
            }
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                None,
            ) => {
                if let Some(o) = self.offsets.get_mut(&group) {
                    o.remove(&(topic, partition));
                    if o.is_empty() {
                        self.offsets.remove(&group);
                    }
                }
            }
            (RecordKey::Group { group }, Some(RecordValue::Group(v))) => {
                self.groups.insert(group, v);
            }
            (RecordKey::Group { group }, None) => {
                self.groups.remove(&group);
            }
            // A key and value of different kinds cannot be encoded by us; ignore.
            _ => {}
        }
    }
}

/// The offsets of an empty group that have expired at `now`: Kafka's rule
/// for groups without members — the retention counts from when the group
/// became empty, or from the commit when that is unknown (simple consumers).
pub fn expired(
    offsets: &GroupOffsets,
    state_timestamp: Option<i64>,
    retention_ms: i64,
    now: i64,
) -> Vec<(String, i32)> {
    offsets
        .iter()
        .filter(|(_, v)| {
            let base = state_timestamp
                .unwrap_or(v.commit_timestamp)
                .max(v.commit_timestamp);
            base.saturating_add(retention_ms) <= now
        })
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(offset: i64, ts: i64) -> OffsetValue {
        OffsetValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: ts,
        }
    }

    #[test]
    fn replay_keeps_last_value_and_honours_tombstones() {
        let mut r = Replay::default();
        r.apply(Record::offset("g", "t", 0, v(1, 1)));
        r.apply(Record::offset("g", "t", 0, v(5, 2)));
        r.apply(Record::offset("g", "t", 1, v(7, 2)));
        r.apply(Record::offset_tombstone("g", "t", 1));
        r.apply(Record::offset("h", "t", 0, v(3, 2)));
        r.apply(Record::offset_tombstone("h", "t", 0));
        assert_eq!(r.offsets["g"].len(), 1);
        assert_eq!(r.offsets["g"][&("t".to_string(), 0)].offset, 5);
        assert!(!r.offsets.contains_key("h"));
        r.apply(Record::group(
            "g",
            Some(GroupValue {
                protocol_type: "consumer".into(),
                generation: 1,
                protocol: None,
                leader: None,
                current_state_timestamp: 0,
                members: vec![],
            }),
        ));
        assert!(r.groups.contains_key("g"));
        r.apply(Record::group("g", None));
        assert!(!r.groups.contains_key("g"));
    }

    #[test]
    fn expiry_counts_from_empty_or_commit() {
        let mut o = GroupOffsets::new();
        o.insert(("t".into(), 0), v(1, 100));
        o.insert(("t".into(), 1), v(1, 500));
        assert_eq!(expired(&o, None, 1000, 1100), vec![("t".to_string(), 0)]);
        assert!(expired(&o, Some(2000), 1000, 2500).is_empty());
        assert_eq!(expired(&o, Some(2000), 1000, 3000).len(), 2);
    }
}
