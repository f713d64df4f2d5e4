//! Where the ACLs persist: the standalone store (`strom-acls.json` in the
//! first log dir, rewritten atomically on the blocking pool) or ZooKeeper
//! (through `zk/`, in Kafka's znodes, see `zk::acls`). Both load the whole
//! set; both apply a change to one resource pattern at a time and return
//! what that pattern now holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::acl::{
    AccessControlEntry, AclOperation, PatternType, Permission, ResourcePattern, ResourceType,
};
use super::AuthorizerError;
use crate::zk::{KafkaZkClient, ZkAclEntry, ZkAclResource};

/// The standalone store's file name.
pub const ACL_FILE: &str = "strom-acls.json";

/// All bindings by pattern.
pub type Bindings = BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>>;

/// The ACL store behind the authorizer.
#[derive(Clone)]
pub enum AclStore {
    /// `strom-acls.json` at this path.
    File(PathBuf),
    /// Kafka's znodes.
    ZooKeeper(Arc<KafkaZkClient>),
}

impl AclStore {
    /// Every binding stored.
    pub async fn load(&self) -> Result<Bindings, AuthorizerError> {
        match self {
            AclStore::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_file(&path))
                    .await
                    .map_err(|e| AuthorizerError::Store(e.to_string()))?
            }
            AclStore::ZooKeeper(zk) => {
                let mut out = Bindings::new();
                for (res, entries) in zk.get_all_acls().await? {
                    let Some(pattern) = from_zk_resource(&res) else {
                        tracing::warn!(path = %res.path(), "ignoring ACLs of an unknown resource type");
                        continue;
                    };
                    let set: BTreeSet<_> = entries.iter().filter_map(from_zk_entry).collect();
                    if !set.is_empty() {
                        out.insert(pattern, set);
                    }
                }
                Ok(out)
            }
        }
    }

    /// Applies `change` to the entries of `pattern`; `current` is the
    /// authorizer's view (the file store's whole content). Returns the
    /// pattern's entries now stored.
    pub async fn update(
        &self,
        current: &Bindings,
        pattern: &ResourcePattern,
        change: impl Fn(&mut BTreeSet<AccessControlEntry>) + Send,
    ) -> Result<BTreeSet<AccessControlEntry>, AuthorizerError> {
        match self {
            AclStore::File(path) => {
                let mut all = current.clone();
                let entries = all.entry(pattern.clone()).or_default();
                change(entries);
                let now = entries.clone();
                if now.is_empty() {
                    all.remove(pattern);
                }
                let bytes = file_json(&all);
                let path = path.clone();
                tokio::task::spawn_blocking(move || crate::util::write_atomically(&path, &bytes))
                    .await
                    .map_err(|e| AuthorizerError::Store(e.to_string()))?
                    .map_err(|e| AuthorizerError::Store(format!("cannot write {ACL_FILE}: {e}")))?;
                Ok(now)
            }
            AclStore::ZooKeeper(zk) => {
                let res = to_zk_resource(pattern);
                let stored = zk
                    .update_resource_acls(&res, |zk_entries| {
                        let mut mine: BTreeSet<AccessControlEntry> =
                            zk_entries.iter().filter_map(from_zk_entry).collect();
                        change(&mut mine);
                        // Entries this broker cannot read are kept as they were.
                        zk_entries.retain(|e| from_zk_entry(e).is_none());
                        zk_entries.extend(mine.iter().map(to_zk_entry));
                    })
                    .await?;
                Ok(stored.iter().filter_map(from_zk_entry).collect())
            }
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<Bindings, AuthorizerError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Bindings::new()),
        Err(e) => {
            return Err(AuthorizerError::Store(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    parse_file(&bytes).map_err(|reason| {
        AuthorizerError::Store(format!("{} is malformed: {reason}", path.display()))
    })
}

/// `{"version":1,"acls":[{"resourceType":"Topic","patternType":"LITERAL",
/// "name":"t","principal":"User:a","permissionType":"Allow",
/// "operation":"Write","host":"*"}]}`: the znodes' spelling, flattened.
fn file_json(all: &Bindings) -> Vec<u8> {
    let acls: Vec<Value> = all
        .iter()
        .flat_map(|(p, es)| {
            es.iter().map(move |e| {
                json!({
                    "resourceType": p.resource_type.pascal_name(),
                    "patternType": p.pattern_type.enum_name(),
                    "name": p.name,
                    "principal": e.principal,
                    "permissionType": e.permission.pascal_name(),
                    "operation": e.operation.pascal_name(),
                    "host": e.host,
                })
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({"version": 1, "acls": acls})).unwrap_or_default()
}

fn parse_file(bytes: &[u8]) -> Result<Bindings, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Bindings::new();
    let acls = doc
        .get("acls")
        .and_then(Value::as_array)
        .ok_or("no acls array")?;
    for a in acls {
        let field = |name: &str| {
            a.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("an entry lacks {name}"))
        };
        let pattern = ResourcePattern {
            resource_type: ResourceType::parse(field("resourceType")?)
                .ok_or("unknown resourceType")?,
            name: field("name")?.to_string(),
            pattern_type: PatternType::parse(field("patternType")?).ok_or("unknown patternType")?,
        };
        let entry = AccessControlEntry {
            principal: field("principal")?.to_string(),
            host: field("host")?.to_string(),
            operation: AclOperation::parse(field("operation")?).ok_or("unknown operation")?,
            permission: Permission::parse(field("permissionType")?)
                .ok_or("unknown permissionType")?,
        };
        out.entry(pattern).or_default().insert(entry);
    }
    Ok(out)
}

fn to_zk_resource(p: &ResourcePattern) -> ZkAclResource {
    ZkAclResource {
        prefixed: p.pattern_type == PatternType::Prefixed,
        resource_type: p.resource_type.pascal_name().to_string(),
        name: p.name.clone(),
    }
}

fn from_zk_resource(r: &ZkAclResource) -> Option<ResourcePattern> {
    Some(ResourcePattern {
        resource_type: ResourceType::parse(&r.resource_type)?,
        name: r.name.clone(),
        pattern_type: if r.prefixed {
            PatternType::Prefixed
        } else {
            PatternType::Literal
        },
    })
}

fn to_zk_entry(e: &AccessControlEntry) -> ZkAclEntry {
    ZkAclEntry {
        principal: e.principal.clone(),
        permission_type: e.permission.pascal_name().to_string(),
        operation: e.operation.pascal_name().to_string(),
        host: e.host.clone(),
    }
}

fn from_zk_entry(e: &ZkAclEntry) -> Option<AccessControlEntry> {
    Some(AccessControlEntry {
        principal: e.principal.clone(),
        host: e.host.clone(),
        operation: AclOperation::parse(&e.operation)?,
        permission: Permission::parse(&e.permission_type)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips() {
        let mut all = Bindings::new();
        all.entry(ResourcePattern {
            resource_type: ResourceType::TransactionalId,
            name: "tx".into(),
            pattern_type: PatternType::Prefixed,
        })
        .or_default()
        .insert(AccessControlEntry {
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::IdempotentWrite,
            permission: Permission::Deny,
        });
        let bytes = file_json(&all);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains("\"operation\": \"IdempotentWrite\""),
            "{text}"
        );
        assert!(
            text.contains("\"resourceType\": \"TransactionalId\""),
            "{text}"
        );
        assert_eq!(parse_file(&bytes).unwrap(), all);
        assert!(parse_file(b"{\"acls\":[{}]}").is_err());
    }
}
