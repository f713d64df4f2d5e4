//! ACLs where Kafka 3.5's `AclAuthorizer` keeps them in ZooKeeper
//! (`kafka.zk.ZkAclStore`, `ZkAclChangeStore`):
//!
//! - literal patterns: `/kafka-acl/<ResourceType>/<name>` (`Topic`, `Group`,
//!   `Cluster`, `TransactionalId`, …), changes notified by a sequential
//!   `/kafka-acl-changes/acl_changes_NNNNNNNNNN` holding `TOPIC:<name>`
//!   (the Java enum's name, a colon, the resource name);
//! - prefixed patterns: `/kafka-acl-extended/prefixed/<ResourceType>/<name>`,
//!   changes in `/kafka-acl-extended-changes/acl_changes_NNNNNNNNNN` holding
//!   `{"version":1,"resourceType":"TOPIC","name":"…","patternType":"PREFIXED"}`.
//!
//! Each resource znode holds `{"version":1,"acls":[{"principal":"User:alice",
//! "permissionType":"Allow","operation":"Write","host":"*"}]}` and is
//! updated conditionally on its version (retried when another writer got in
//! between), deleted when its last entry goes. Notifications older than 15
//! minutes are purged, as Kafka's `ZkNodeChangeNotificationListener` does.
//! The entries are strings in Kafka's spelling; their meaning is the
//! authorizer's business.

use std::collections::BTreeSet;

use super::json::{self, ZkAclEntry};
use super::{KafkaZkClient, ZkError, ZkWatch};

/// The literal store's root.
const LITERAL_ROOT: &str = "/kafka-acl";
/// The prefixed store's root.
const PREFIXED_ROOT: &str = "/kafka-acl-extended/prefixed";
/// Literal change notifications.
const LITERAL_CHANGES: &str = "/kafka-acl-changes";
/// Change notifications of the extended (prefixed) store.
const EXTENDED_CHANGES: &str = "/kafka-acl-extended-changes";
/// `ZkAclChangeStore.SequenceNumberPrefix`.
const CHANGE_PREFIX: &str = "acl_changes_";
/// How long a change notification stays (`changeExpirationMs`, 15 minutes).
const CHANGE_EXPIRATION_MS: i64 = 15 * 60 * 1000;

/// The resource of one ACL znode.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZkAclResource {
    /// In the prefixed (extended) store rather than the literal one.
    pub prefixed: bool,
    /// `SecurityUtils.resourceTypeName`: `Topic`, `TransactionalId`, …
    pub resource_type: String,
    /// The resource name (or prefix).
    pub name: String,
}

impl ZkAclResource {
    fn root(&self) -> &'static str {
        if self.prefixed {
            PREFIXED_ROOT
        } else {
            LITERAL_ROOT
        }
    }

    /// Its znode.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.root(), self.resource_type, self.name)
    }
}

/// Two one-shot watches; fires when the first does.
pub struct ZkWatch2([ZkWatch; 2]);

impl ZkWatch2 {
    /// Resolves when either watch fires.
    pub async fn fired(self) {
        let [a, b] = self.0;
        tokio::select! {
            _ = a.fired() => {}
            _ = b.fired() => {}
        }
    }
}

impl KafkaZkClient {
    /// Every ACL znode of both stores with its entries.
    pub async fn get_all_acls(&self) -> Result<Vec<(ZkAclResource, Vec<ZkAclEntry>)>, ZkError> {
        let zk = self.session();
        let mut out = Vec::new();
        for (root, prefixed) in [(LITERAL_ROOT, false), (PREFIXED_ROOT, true)] {
            for ty in zk.children(root).await?.unwrap_or_default() {
                let type_path = format!("{root}/{ty}");
                for name in zk.children(&type_path).await?.unwrap_or_default() {
                    let path = format!("{type_path}/{name}");
                    let Some((data, _)) = zk.get(&path).await? else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    let entries = json::parse_acls(&path, &data)?;
                    let resource = ZkAclResource {
                        prefixed,
                        resource_type: ty.clone(),
                        name,
                    };
                    out.push((resource, entries));
                }
            }
        }
        Ok(out)
    }

    /// Changes one resource's entries (`AclAuthorizer.updateResourceAcls`):
    /// reads the znode, applies `change`, writes it back conditionally on its
    /// version (deletes it when empty), retrying on a concurrent write, then
    /// notifies the change. Returns the entries now stored.
    pub async fn update_resource_acls(
        &self,
        resource: &ZkAclResource,
        mut change: impl FnMut(&mut BTreeSet<ZkAclEntry>),
    ) -> Result<BTreeSet<ZkAclEntry>, ZkError> {
        let zk = self.session();
        let path = resource.path();
        let mut attempts = 0;
        let stored = loop {
            attempts += 1;
            let current = zk.get(&path).await?;
            let (mut entries, version) = match &current {
                Some((data, stat)) if !data.is_empty() => (
                    json::parse_acls(&path, data)?.into_iter().collect(),
                    Some(stat.version),
                ),
                Some((_, stat)) => (BTreeSet::new(), Some(stat.version)),
                None => (BTreeSet::new(), None),
            };
            let before = entries.clone();
            change(&mut entries);
            if entries == before {
                return Ok(entries);
            }
            let list: Vec<ZkAclEntry> = entries.iter().cloned().collect();
            let written = match (version, entries.is_empty()) {
                (Some(_), true) => zk.delete(&path).await,
                (Some(v), false) => zk.set(&path, &json::acls_json(&list), Some(v)).await,
                (None, _) => {
                    if let Some((parent, _)) = path.rsplit_once('/') {
                        zk.mkdirs(parent).await?;
                    }
                    zk.create(&path, &json::acls_json(&list), false)
                        .await
                        .map(|_| ())
                }
            };
            match written {
                Ok(()) => break entries,
                Err(ZkError::BadVersion(_) | ZkError::NodeExists(_) | ZkError::NoNode(_))
                    if attempts < 10 => {}
                Err(e) => return Err(e),
            }
        };
        self.notify_acl_change(resource).await?;
        Ok(stored)
    }

    /// Writes the change notification of `resource` in its store's format.
    async fn notify_acl_change(&self, resource: &ZkAclResource) -> Result<(), ZkError> {
        let zk = self.session();
        let enum_name = json::pascal_to_enum_name(&resource.resource_type);
        let (dir, data) = if resource.prefixed {
            (
                EXTENDED_CHANGES,
                json::extended_acl_change_json(&enum_name, &resource.name, "PREFIXED"),
            )
        } else {
            (
                LITERAL_CHANGES,
                format!("{enum_name}:{}", resource.name).into_bytes(),
            )
        };
        zk.mkdirs(dir).await?;
        let node = zk
            .create_sequential(&format!("{dir}/{CHANGE_PREFIX}"), &data)
            .await?;
        tracing::debug!(notification = %node, "ACL change notified");
        Ok(())
    }

    /// Watches both change-notification directories (created when missing).
    pub async fn watch_acl_changes(&self) -> Result<ZkWatch2, ZkError> {
        let zk = self.session();
        zk.mkdirs(LITERAL_CHANGES).await?;
        zk.mkdirs(EXTENDED_CHANGES).await?;
        let (_, literal) = zk.watch_children(LITERAL_CHANGES).await?;
        let (_, extended) = zk.watch_children(EXTENDED_CHANGES).await?;
        Ok(ZkWatch2([literal, extended]))
    }

    /// Deletes change notifications created more than 15 minutes before `now_ms`.
    pub async fn purge_acl_changes(&self, now_ms: i64) -> Result<(), ZkError> {
        let zk = self.session();
        for dir in [LITERAL_CHANGES, EXTENDED_CHANGES] {
            for child in zk.children(dir).await?.unwrap_or_default() {
                if !child.starts_with(CHANGE_PREFIX) {
                    continue;
                }
                let path = format!("{dir}/{child}");
                if let Some((_, stat)) = zk.get(&path).await? {
                    if stat.ctime < now_ms - CHANGE_EXPIRATION_MS {
                        zk.delete(&path).await?;
                    }
                }
            }
        }
        Ok(())
    }
}
