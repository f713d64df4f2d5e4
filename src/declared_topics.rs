//! Topics declared in the config file (`[[topics]]`), reconciled at start-up.
//!
//! A missing declared topic is created through [`Broker::create_topic`], the
//! path CreateTopics takes (same validation, metadata store written first).
//! A declared topic that exists with the same partition count and config
//! overrides is left alone; one that differs is reported with a warning
//! naming the topic and each difference, and is never changed: altering a
//! live topic (or shrinking partitions, which Kafka cannot do) is the
//! operator's decision, made with the admin tools.

use crate::config::DeclaredTopic;
use crate::metadata::TopicMetadata;
use crate::protocol::{Broker, RequestContext};
use crate::replica_manager::ReplicaManager;

/// A declared topic that could not be created.
#[derive(Debug, thiserror::Error)]
#[error("declared topic {topic} could not be created: {reason}")]
pub struct DeclaredTopicError {
    /// The topic.
    pub topic: String,
    /// Why.
    pub reason: String,
}

/// What [`ensure_declared_topics`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Topics created now.
    pub created: Vec<String>,
    /// Topics that existed with the declared settings.
    pub unchanged: Vec<String>,
    /// Topics that exist with other settings (reported, not changed).
    pub differing: Vec<String>,
}

/// Creates the missing declared topics and reports the differing ones.
pub async fn ensure_declared_topics(
    broker: &Broker,
    replica_manager: &ReplicaManager,
    declared: &[DeclaredTopic],
) -> Result<Reconciled, DeclaredTopicError> {
    let mut done = Reconciled::default();
    for topic in declared {
        let existing = match replica_manager.topic(&topic.name) {
            Some(t) => t.metadata.clone(),
            None => match broker
                .create_topic(
                    &RequestContext::internal(),
                    &topic.name,
                    topic.partitions,
                    topic.replication_factor,
                    topic.configs.clone(),
                )
                .await
            {
                Ok(created) => {
                    tracing::info!(topic = %created.name, partitions = created.partitions, topic_id = %created.topic_id, "created declared topic");
                    done.created.push(topic.name.clone());
                    continue;
                }
                // Created meanwhile by another writer (ZooKeeper): compare with it.
                Err(e) if e.error == kafka_protocol::error::ResponseError::TopicAlreadyExists => {
                    match replica_manager.topic(&topic.name) {
                        Some(t) => t.metadata.clone(),
                        None => {
                            return Err(DeclaredTopicError {
                                topic: topic.name.clone(),
                                reason: e.to_string(),
                            })
                        }
                    }
                }
                Err(e) => {
                    return Err(DeclaredTopicError {
                        topic: topic.name.clone(),
                        reason: e.to_string(),
                    })
                }
            },
        };
        let diffs = differences(topic, &existing);
        if diffs.is_empty() {
            tracing::debug!(topic = %topic.name, "declared topic exists with the declared settings");
            done.unchanged.push(topic.name.clone());
        } else {
            tracing::warn!(
                topic = %topic.name,
                differences = %diffs.join("; "),
                "declared topic differs from the existing topic; not changed (alter it with the admin tools, or fix the declaration)"
            );
            done.differing.push(topic.name.clone());
        }
    }
    Ok(done)
}

/// Each way the existing topic differs from its declaration, in words.
pub fn differences(declared: &DeclaredTopic, existing: &TopicMetadata) -> Vec<String> {
    let mut out = Vec::new();
    if declared.partitions != existing.partitions {
        out.push(format!(
            "partitions: declared {}, existing {}",
            declared.partitions, existing.partitions
        ));
    }
    let keys: std::collections::BTreeSet<&String> = declared
        .configs
        .keys()
        .chain(existing.configs.keys())
        .collect();
    for key in keys {
        let d = declared.configs.get(key).map(|v| v.trim());
        let e = existing.configs.get(key).map(|v| v.trim());
        if d != e {
            out.push(format!(
                "{key}: declared {}, existing {}",
                d.unwrap_or("(default)"),
                e.unwrap_or("(default)")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn declared(partitions: i32, configs: &[(&str, &str)]) -> DeclaredTopic {
        DeclaredTopic {
            name: "t".into(),
            partitions,
            replication_factor: 1,
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn existing(partitions: i32, configs: &[(&str, &str)]) -> TopicMetadata {
        TopicMetadata {
            name: "t".into(),
            topic_id: uuid::Uuid::nil(),
            partitions,
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn same_settings_have_no_differences() {
        let d = declared(3, &[("retention.ms", "604800000")]);
        assert!(differences(&d, &existing(3, &[("retention.ms", "604800000")])).is_empty());
        assert!(differences(&declared(1, &[]), &existing(1, &[])).is_empty());
    }

    #[test]
    fn every_difference_is_named() {
        let d = declared(3, &[("retention.ms", "604800000")]);
        let e = existing(
            1,
            &[("retention.ms", "86400000"), ("cleanup.policy", "compact")],
        );
        assert_eq!(
            differences(&d, &e),
            [
                "partitions: declared 3, existing 1",
                "cleanup.policy: declared (default), existing compact",
                "retention.ms: declared 604800000, existing 86400000",
            ]
        );
        assert_eq!(
            differences(&d, &existing(3, &[])),
            ["retention.ms: declared 604800000, existing (default)"]
        );
    }
}
