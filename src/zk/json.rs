//! The JSON documents Kafka 3.5 keeps in ZooKeeper (ZK mode), byte for byte
//! in the shapes `kafka.zk.ZkData` writes and reads: broker registration,
//! controller, cluster id, topic assignment, partition state, topic config
//! and config change notification. Pure functions, so the formats are unit
//! tested without a ZooKeeper.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use uuid::Uuid;

use super::ZkError;

/// What a broker registers under `/brokers/ids/<id>`.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerInfo {
    /// `broker.id`.
    pub broker_id: i32,
    /// Advertised listeners as (listener name, host, port), in `listeners` order.
    pub endpoints: Vec<(String, String, u16)>,
    /// `listener.security.protocol.map` restricted to the listeners above.
    pub security_protocol_map: BTreeMap<String, String>,
    /// `broker.rack`, written only when set.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// The `endpoints` strings, `NAME://host:port`.
    pub fn endpoint_strings(&self) -> Vec<String> {
        self.endpoints
            .iter()
            .map(|(name, host, port)| format!("{name}://{host}:{port}"))
            .collect()
    }

    /// Kafka's version 5 broker JSON (`BrokerIdZNode.encode`). `host`/`port`
    /// are the listener named PLAINTEXT, else null/-1; `timestamp` is a string.
    pub fn to_json(&self, timestamp_ms: i64) -> Vec<u8> {
        let plaintext = self
            .endpoints
            .iter()
            .find(|(name, _, _)| name == "PLAINTEXT");
        let mut doc = serde_json::Map::new();
        doc.insert("features".into(), json!({}));
        doc.insert(
            "listener_security_protocol_map".into(),
            json!(self.security_protocol_map),
        );
        doc.insert("endpoints".into(), json!(self.endpoint_strings()));
        doc.insert("jmx_port".into(), json!(-1));
        doc.insert(
            "port".into(),
            json!(plaintext.map(|(_, _, p)| i32::from(*p)).unwrap_or(-1)),
        );
        doc.insert(
            "host".into(),
            plaintext.map_or(Value::Null, |(_, h, _)| json!(h)),
        );
        doc.insert("version".into(), json!(5));
        doc.insert("timestamp".into(), json!(timestamp_ms.to_string()));
        if let Some(rack) = &self.rack {
            doc.insert("rack".into(), json!(rack));
        }
        Value::Object(doc).to_string().into_bytes()
    }
}

/// The `endpoints` of another broker's registration.
pub fn parse_broker_endpoints(path: &str, bytes: &[u8]) -> Result<Vec<String>, ZkError> {
    let doc = parse(path, bytes)?;
    Ok(doc
        .get("endpoints")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// `/controller`: `{"version":2,"brokerid":1,"timestamp":"…","kraftControllerEpoch":-1}`.
pub fn controller_json(broker_id: i32, timestamp_ms: i64) -> Vec<u8> {
    json!({
        "version": 2,
        "brokerid": broker_id,
        "timestamp": timestamp_ms.to_string(),
        "kraftControllerEpoch": -1,
    })
    .to_string()
    .into_bytes()
}

/// The `brokerid` of `/controller`.
pub fn parse_controller(path: &str, bytes: &[u8]) -> Result<i32, ZkError> {
    parse(path, bytes)?
        .get("brokerid")
        .and_then(Value::as_i64)
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| malformed(path, "no brokerid"))
}

/// `/cluster/id`: `{"version":"1","id":"…"}` (the version is a string here).
pub fn cluster_id_json(id: &str) -> Vec<u8> {
    json!({"version": "1", "id": id}).to_string().into_bytes()
}

/// The id of `/cluster/id`.
pub fn parse_cluster_id(path: &str, bytes: &[u8]) -> Result<String, ZkError> {
    parse(path, bytes)?
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| malformed(path, "no id"))
}

/// `/brokers/topics/<t>`: every partition on `broker_id` alone, version 3 with the topic id.
pub fn topic_assignment_json(partitions: i32, broker_id: i32, topic_id: Uuid) -> Vec<u8> {
    let assignment: serde_json::Map<String, Value> = (0..partitions)
        .map(|p| (p.to_string(), json!([broker_id])))
        .collect();
    json!({
        "partitions": assignment,
        "topic_id": crate::util::uuid_to_base64(topic_id),
        "adding_replicas": {},
        "removing_replicas": {},
        "version": 3,
    })
    .to_string()
    .into_bytes()
}

/// A topic assignment as read back: the partition count (partitions must
/// be numbered densely from 0) and the topic id (older writers leave it out).
#[derive(Debug, PartialEq)]
pub struct TopicAssignment {
    /// Number of partitions.
    pub partitions: i32,
    /// The topic id, when the znode has one.
    pub topic_id: Option<Uuid>,
}

/// Parses `/brokers/topics/<t>` (versions 1 to 3).
pub fn parse_topic_assignment(path: &str, bytes: &[u8]) -> Result<TopicAssignment, ZkError> {
    let doc = parse(path, bytes)?;
    let parts = doc
        .get("partitions")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed(path, "no partitions"))?;
    let mut indexes: Vec<i32> = parts
        .keys()
        .map(|k| k.parse::<i32>())
        .collect::<Result<_, _>>()
        .map_err(|_| malformed(path, "a partition key is not a number"))?;
    indexes.sort_unstable();
    if indexes.iter().enumerate().any(|(i, p)| *p != i as i32) {
        return Err(malformed(path, "partitions are not numbered 0..n"));
    }
    let topic_id = match doc.get("topic_id").and_then(Value::as_str) {
        Some(s) => Some(base64_to_uuid(s).ok_or_else(|| malformed(path, "bad topic_id"))?),
        None => None,
    };
    Ok(TopicAssignment {
        partitions: indexes.len() as i32,
        topic_id,
    })
}

/// `/brokers/topics/<t>/partitions/<p>/state` (`TopicPartitionStateZNode`).
pub fn partition_state_json(broker_id: i32, leader_epoch: i32, controller_epoch: i32) -> Vec<u8> {
    json!({
        "controller_epoch": controller_epoch,
        "leader": broker_id,
        "version": 1,
        "leader_epoch": leader_epoch,
        "isr": [broker_id],
    })
    .to_string()
    .into_bytes()
}

/// `/config/topics/<t>`: `{"version":1,"config":{…}}`, overrides only, string values.
pub fn topic_config_json(configs: &BTreeMap<String, String>) -> Vec<u8> {
    json!({"version": 1, "config": configs})
        .to_string()
        .into_bytes()
}

/// The overrides of `/config/topics/<t>`.
pub fn parse_topic_config(path: &str, bytes: &[u8]) -> Result<BTreeMap<String, String>, ZkError> {
    let doc = parse(path, bytes)?;
    let Some(config) = doc.get("config").and_then(Value::as_object) else {
        return Ok(BTreeMap::new());
    };
    config
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(malformed(path, "a config value is not a string")),
        })
        .collect()
}

/// A `/config/changes/config_change_NNNNNNNNNN` notification (version 2).
pub fn config_change_json(entity_path: &str) -> Vec<u8> {
    json!({"version": 2, "entity_path": entity_path})
        .to_string()
        .into_bytes()
}

/// One entry of an ACL znode, in Kafka's spelling (`AclEntry`'s JSON):
/// `principal` `User:alice`, `permissionType` `Allow`/`Deny`, `operation`
/// `Write`, `IdempotentWrite`, …, `host` an address or `*`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZkAclEntry {
    pub principal: String,
    pub permission_type: String,
    pub operation: String,
    pub host: String,
}

/// An ACL znode: `{"version":1,"acls":[{"principal":…,"permissionType":…,"operation":…,"host":…}]}`.
pub fn acls_json(entries: &[ZkAclEntry]) -> Vec<u8> {
    let acls: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "principal": e.principal,
                "permissionType": e.permission_type,
                "operation": e.operation,
                "host": e.host,
            })
        })
        .collect();
    json!({"version": 1, "acls": acls}).to_string().into_bytes()
}

/// The entries of an ACL znode (`AclEntry.fromBytes`).
pub fn parse_acls(path: &str, bytes: &[u8]) -> Result<Vec<ZkAclEntry>, ZkError> {
    let doc = parse(path, bytes)?;
    let Some(acls) = doc.get("acls").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    acls.iter()
        .map(|a| {
            let field = |name: &str| {
                a.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| malformed(path, "an ACL entry lacks a string field"))
            };
            Ok(ZkAclEntry {
                principal: field("principal")?,
                permission_type: field("permissionType")?,
                operation: field("operation")?,
                host: field("host")?,
            })
        })
        .collect()
}

/// An `/kafka-acl-extended-changes` notification (`ExtendedAclChangeEvent`).
pub fn extended_acl_change_json(resource_type: &str, name: &str, pattern_type: &str) -> Vec<u8> {
    json!({
        "version": 1,
        "resourceType": resource_type,
        "name": name,
        "patternType": pattern_type,
    })
    .to_string()
    .into_bytes()
}

/// `TransactionalId` → `TRANSACTIONAL_ID`: the Java enum name of a
/// resource type from its path name.
pub fn pascal_to_enum_name(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Kafka's 22-character URL-safe base64 form back to a UUID.
pub fn base64_to_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 22 {
        return None;
    }
    let mut bits: u128 = 0;
    let mut n = 0u32;
    let mut out = [0u8; 16];
    let mut i = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u128::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            if i < 16 {
                out[i] = (bits >> n) as u8;
                i += 1;
            }
            bits &= (1u128 << n) - 1;
        }
    }
    (i == 16).then(|| Uuid::from_bytes(out))
}

fn parse(path: &str, bytes: &[u8]) -> Result<Value, ZkError> {
    serde_json::from_slice(bytes).map_err(|e| malformed(path, &e.to_string()))
}

fn malformed(path: &str, reason: &str) -> ZkError {
    ZkError::Malformed {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn acl_documents_are_kafkas() {
        let e = ZkAclEntry {
            principal: "User:alice".into(),
            permission_type: "Allow".into(),
            operation: "Write".into(),
            host: "*".into(),
        };
        let bytes = acls_json(std::slice::from_ref(&e));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Write","host":"*"}]})
        );
        assert_eq!(parse_acls("/p", &bytes).unwrap(), vec![e]);
        assert!(parse_acls("/p", br#"{"version":1,"acls":[{"principal":1}]}"#).is_err());
        let change: Value =
            serde_json::from_slice(&extended_acl_change_json("TOPIC", "pay", "PREFIXED")).unwrap();
        assert_eq!(
            change,
            json!({"version":1,"resourceType":"TOPIC","name":"pay","patternType":"PREFIXED"})
        );
        assert_eq!(pascal_to_enum_name("TransactionalId"), "TRANSACTIONAL_ID");
        assert_eq!(pascal_to_enum_name("Topic"), "TOPIC");
    }

    use super::*;

    #[test]
    fn broker_json_is_kafkas_v5() {
        let info = BrokerInfo {
            broker_id: 1,
            endpoints: vec![
                ("EXTERNAL".into(), "192.168.68.100".into(), 9092),
                ("INTERNAL".into(), "kafka".into(), 29092),
            ],
            security_protocol_map: BTreeMap::from([
                ("EXTERNAL".into(), "PLAINTEXT".into()),
                ("INTERNAL".into(), "PLAINTEXT".into()),
            ]),
            rack: None,
        };
        let v: Value = serde_json::from_slice(&info.to_json(1704032948949)).unwrap();
        assert_eq!(
            v,
            json!({"features":{},"listener_security_protocol_map":{"EXTERNAL":"PLAINTEXT","INTERNAL":"PLAINTEXT"},"endpoints":["EXTERNAL://192.168.68.100:9092","INTERNAL://kafka:29092"],"jmx_port":-1,"port":-1,"host":null,"version":5,"timestamp":"1704032948949"})
        );
        let with_plaintext = BrokerInfo {
            endpoints: vec![("PLAINTEXT".into(), "h".into(), 9092)],
            rack: Some("r1".into()),
            ..info
        };
        let v: Value = serde_json::from_slice(&with_plaintext.to_json(1)).unwrap();
        assert_eq!(v["host"], "h");
        assert_eq!(v["port"], 9092);
        assert_eq!(v["rack"], "r1");
    }

    #[test]
    fn topic_assignment_round_trip() {
        let id = Uuid::new_v4();
        let bytes = topic_assignment_json(3, 1, id);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["partitions"], json!({"0":[1],"1":[1],"2":[1]}));
        assert_eq!(v["version"], 3);
        assert_eq!(
            parse_topic_assignment("/t", &bytes).unwrap(),
            TopicAssignment {
                partitions: 3,
                topic_id: Some(id)
            }
        );
        let old = br#"{"version":1,"partitions":{"1":[2],"0":[1]}}"#;
        assert_eq!(
            parse_topic_assignment("/t", old).unwrap(),
            TopicAssignment {
                partitions: 2,
                topic_id: None
            }
        );
        assert!(parse_topic_assignment("/t", br#"{"partitions":{"1":[1]}}"#).is_err());
    }

    #[test]
    fn uuid_base64_round_trip() {
        for _ in 0..100 {
            let id = Uuid::new_v4();
            assert_eq!(base64_to_uuid(&crate::util::uuid_to_base64(id)), Some(id));
        }
        assert_eq!(base64_to_uuid("short"), None);
    }

    #[test]
    fn configs_and_ids_round_trip() {
        let configs = BTreeMap::from([("retention.ms".to_string(), "86400000".to_string())]);
        let bytes = topic_config_json(&configs);
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            json!({"version":1,"config":{"retention.ms":"86400000"}})
        );
        assert_eq!(parse_topic_config("/c", &bytes).unwrap(), configs);
        assert_eq!(
            parse_cluster_id("/cluster/id", &cluster_id_json("abc")).unwrap(),
            "abc"
        );
        assert_eq!(
            parse_controller("/controller", &controller_json(7, 1)).unwrap(),
            7
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&config_change_json("topics/t")).unwrap(),
            json!({"version":2,"entity_path":"topics/t"})
        );
    }
}
