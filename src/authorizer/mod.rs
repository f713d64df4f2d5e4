//! The authorizer: Kafka's `AclAuthorizer` (`authorizer.class.name`), its
//! ACL cache, its stores and the one table of what each API checks.
//!
//! - [`acl`]: resource types, operations, patterns, entries, filters.
//! - [`cache`]: the bindings indexed by resource; the decision of one check.
//! - [`store`]: `strom-acls.json` (standalone) or ZooKeeper's znodes.
//! - [`rules`]: API → resource → operation ([`Check`]).
//!
//! Invariants:
//! - Without `authorizer.class.name` everything is allowed, as before, and a
//!   check costs one branch. With it, a check reads the current cache
//!   through an `ArcSwap` (no lock, no allocation); a denial is logged in
//!   Kafka's authorizer-log form at the `kafka.authorizer.logger` target, at
//!   most [`DENIALS_LOGGED_PER_SECOND`] lines a second.
//! - A change is written to the store first, then the cache is rebuilt and
//!   swapped whole; writes are serialized. In ZooKeeper mode, other writers'
//!   changes arrive as change notifications and reload the cache
//!   ([`Authorizer::follow_zookeeper`]).

pub mod acl;
pub mod cache;
pub mod rules;
pub mod store;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use acl::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, PatternType, Permission,
    ResourcePattern, ResourceType, CLUSTER_NAME,
};
pub use cache::{AclCache, Decision};
pub use rules::{Check, Rule, RULES};
pub use store::{AclStore, Bindings, ACL_FILE};

use crate::principal::KafkaPrincipal;

/// The class names that select the ACL authorizer: ZooKeeper mode's and
/// KRaft's (both behave as AclAuthorizer here).
pub const AUTHORIZER_CLASSES: &[&str] = &[
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
];

/// Denial log lines per second, at most.
pub const DENIALS_LOGGED_PER_SECOND: u32 = 20;

/// Errors of the authorizer's stores.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// `authorizer.class.name` names a class strom does not have.
    #[error("authorizer.class.name={0:?} is not supported; use kafka.security.authorizer.AclAuthorizer (or leave it empty)")]
    UnknownClass(String),
    /// `super.users` has an entry that is not `Type:name`.
    #[error("super.users: {0}")]
    BadSuperUser(String),
    /// The file store failed.
    #[error("ACL store: {0}")]
    Store(String),
    /// ZooKeeper failed.
    #[error(transparent)]
    ZooKeeper(#[from] crate::zk::ZkError),
}

impl AuthorizerError {
    /// The Kafka error code of a failed ACL change.
    pub fn kafka_error_code(&self) -> i16 {
        use kafka_protocol::error::ResponseError;
        match self {
            AuthorizerError::ZooKeeper(e) if e.is_retriable() => {
                ResponseError::RequestTimedOut.code()
            }
            _ => ResponseError::UnknownServerError.code(),
        }
    }
}

/// The authorizer's settings (`authorizer.class.name`, `super.users`,
/// `allow.everyone.if.no.acl.found`).
#[derive(Clone, Debug, Default)]
pub struct AuthorizerSettings {
    pub class_name: String,
    pub super_users: String,
    pub allow_everyone_if_no_acl_found: bool,
}

struct Enabled {
    super_users: Vec<KafkaPrincipal>,
    allow_everyone_if_no_acl_found: bool,
    cache: ArcSwap<AclCache>,
    store: AclStore,
    writes: tokio::sync::Mutex<()>,
}

/// The broker's authorizer (disabled when `authorizer.class.name` is empty).
pub struct Authorizer {
    enabled: Option<Enabled>,
}

impl Authorizer {
    /// No authorizer: everything allowed.
    pub fn disabled() -> Authorizer {
        Authorizer { enabled: None }
    }

    /// The authorizer `settings` select, with its ACLs loaded from `store`.
    pub async fn start(
        settings: &AuthorizerSettings,
        store: AclStore,
    ) -> Result<Authorizer, AuthorizerError> {
        let class = settings.class_name.trim();
        if class.is_empty() {
            return Ok(Authorizer::disabled());
        }
        if !AUTHORIZER_CLASSES.contains(&class) {
            return Err(AuthorizerError::UnknownClass(class.to_string()));
        }
        let super_users = parse_super_users(&settings.super_users)?;
        let bindings = store.load().await?;
        tracing::info!(
            acls = bindings.values().map(BTreeSet::len).sum::<usize>(),
            super_users = super_users.len(),
            allow_everyone_if_no_acl_found = settings.allow_everyone_if_no_acl_found,
            "authorizer {class} started"
        );
        Ok(Authorizer {
            enabled: Some(Enabled {
                super_users,
                allow_everyone_if_no_acl_found: settings.allow_everyone_if_no_acl_found,
                cache: ArcSwap::from_pointee(AclCache::new(bindings)),
                store,
                writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Whether an authorizer is configured (the ACL APIs answer
    /// SECURITY_DISABLED without one).
    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    /// Whether `principal` from `host` may do `check`'s operation on the
    /// resource `name` (literal). Denials are logged.
    pub fn authorize(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        check: Check,
        name: &str,
    ) -> bool {
        self.authorize_action(principal, host, check, name, true)
    }

    /// [`Authorizer::authorize`] for a filter (an all-topics Metadata,
    /// ListGroups): a denial only leaves the resource out and is logged at
    /// debug level, as Kafka's `logIfDenied = false`.
    pub fn authorize_quietly(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        check: Check,
        name: &str,
    ) -> bool {
        self.authorize_action(principal, host, check, name, false)
    }

    /// One action, as Kafka's `Action` with its `logIfDenied`.
    fn authorize_action(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        check: Check,
        name: &str,
        log_if_denied: bool,
    ) -> bool {
        let Some(e) = &self.enabled else {
            return true;
        };
        let rule = check.rule();
        let allowed = e.allows(
            &e.cache.load(),
            principal,
            host,
            rule.operation,
            rule.resource,
            name,
        );
        if !allowed {
            if log_if_denied {
                log_denial(principal, host, rule, name);
            } else {
                tracing::debug!(target: "kafka.authorizer.logger", %principal, %host, api = ?rule.api, resource = name, "denied (filtered)");
            }
        }
        allowed
    }

    /// `authorizeByResourceType`: whether `check`'s operation is allowed on
    /// at least one resource of its type (InitProducerId's WRITE on any
    /// topic). Not logged, as Kafka does not log it either.
    pub fn authorize_any(&self, principal: &KafkaPrincipal, host: IpAddr, check: Check) -> bool {
        let Some(e) = &self.enabled else {
            return true;
        };
        let rule = check.rule();
        let cache = e.cache.load();
        // A hard-coded name first: super users and allow.everyone.if.no.acl.found.
        e.allows(
            &cache,
            principal,
            host,
            rule.operation,
            rule.resource,
            "hardcode",
        ) || cache.any_allowed_of_type(principal, host, rule.operation, rule.resource)
    }

    /// The authorized-operations bit field of a resource (Kafka's
    /// `authorizedOperations`: a bit per allowed operation code among those
    /// the resource type supports; all of them without an authorizer).
    pub fn authorized_operations(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        ty: ResourceType,
        name: &str,
    ) -> i32 {
        let Some(e) = &self.enabled else {
            return all_operations(ty);
        };
        let cache = e.cache.load();
        operation_bits(
            ty.supported_operations()
                .iter()
                .copied()
                .filter(|&op| e.allows(&cache, principal, host, op, ty, name)),
        )
    }

    /// The bindings a filter matches (DescribeAcls).
    pub fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        match &self.enabled {
            None => Vec::new(),
            Some(e) => e.cache.load().all().filter(|b| filter.matches(b)).collect(),
        }
    }

    /// Adds bindings (CreateAcls), in order; one result per binding.
    pub async fn create(&self, bindings: &[AclBinding]) -> Vec<Result<(), AuthorizerError>> {
        let Some(e) = &self.enabled else {
            return Vec::new();
        };
        let _writing = e.writes.lock().await;
        let mut out = Vec::with_capacity(bindings.len());
        for b in bindings {
            let entry = b.entry.clone();
            let result = e
                .change(&b.pattern, move |set| {
                    set.insert(entry.clone());
                })
                .await;
            out.push(result);
        }
        out
    }

    /// Removes what each filter matches (DeleteAcls); per filter the
    /// bindings removed.
    pub async fn delete(
        &self,
        filters: &[AclBindingFilter],
    ) -> Vec<Result<Vec<AclBinding>, AuthorizerError>> {
        let Some(e) = &self.enabled else {
            return Vec::new();
        };
        let _writing = e.writes.lock().await;
        let mut out = Vec::with_capacity(filters.len());
        for filter in filters {
            let matched: Vec<AclBinding> =
                e.cache.load().all().filter(|b| filter.matches(b)).collect();
            let mut patterns: Vec<&ResourcePattern> = matched.iter().map(|b| &b.pattern).collect();
            patterns.dedup();
            let mut result = Ok(matched.clone());
            for pattern in patterns {
                let gone: BTreeSet<AccessControlEntry> = matched
                    .iter()
                    .filter(|b| &b.pattern == pattern)
                    .map(|b| b.entry.clone())
                    .collect();
                if let Err(err) = e
                    .change(pattern, move |set| set.retain(|x| !gone.contains(x)))
                    .await
                {
                    result = Err(err);
                    break;
                }
            }
            out.push(result);
        }
        out
    }

    /// Re-reads every ACL from the store (ZooKeeper change notifications).
    pub async fn reload(&self) -> Result<(), AuthorizerError> {
        let Some(e) = &self.enabled else {
            return Ok(());
        };
        let _writing = e.writes.lock().await;
        let bindings = e.store.load().await?;
        e.cache.store(Arc::new(AclCache::new(bindings)));
        Ok(())
    }

    /// In ZooKeeper mode: follows `/kafka-acl-changes` and
    /// `/kafka-acl-extended-changes`, reloading the ACLs when another writer
    /// notifies a change (and after a new session, whose watches are new),
    /// and purges notifications older than 15 minutes. Runs until `shutdown`.
    pub async fn follow_zookeeper(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let Some(AclStore::ZooKeeper(zk)) = self.enabled.as_ref().map(|e| e.store.clone()) else {
            return;
        };
        let mut events = zk.session().subscribe();
        loop {
            let watch = match zk.watch_acl_changes().await {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot watch ACL changes yet");
                    None
                }
            };
            // While disconnected nothing is re-read (the cache stays as it
            // was); the next session's watch reloads everything.
            if watch.is_some() {
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "cannot reload ACLs from ZooKeeper");
                }
                if let Err(e) = zk.purge_acl_changes(crate::util::now_ms()).await {
                    tracing::debug!(error = %e, "cannot purge old ACL change notifications");
                }
            }
            let retry = tokio::time::sleep(std::time::Duration::from_secs(1));
            tokio::select! {
                _ = async { match watch { Some(w) => w.fired().await, None => retry.await } } => {}
                ev = events.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = ev {
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The authorized-operations bit field of every operation `ty` supports
/// (what a caller the authorizer does not check is answered).
pub fn all_operations(ty: ResourceType) -> i32 {
    operation_bits(ty.supported_operations().iter().copied())
}

/// Kafka's `Utils.to32BitField` of operation codes.
fn operation_bits(ops: impl Iterator<Item = AclOperation>) -> i32 {
    ops.fold(0i32, |bits, op| bits | (1 << op.code()))
}

impl Enabled {
    /// AclAuthorizer's `authorizeAction` on one snapshot of the cache:
    /// super users, then the ACLs, then `allow.everyone.if.no.acl.found`.
    fn allows(
        &self,
        cache: &AclCache,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        ty: ResourceType,
        name: &str,
    ) -> bool {
        if self.super_users.iter().any(|s| s == principal) {
            return true;
        }
        match cache.decide(principal, host, operation, ty, name) {
            Decision::NoAcls => self.allow_everyone_if_no_acl_found,
            Decision::Allowed => true,
            Decision::Denied | Decision::NotAllowed => false,
        }
    }

    /// Writes one pattern's change to the store, then swaps in a cache with
    /// it. The caller holds `writes`.
    async fn change(
        &self,
        pattern: &ResourcePattern,
        change: impl Fn(&mut BTreeSet<AccessControlEntry>) + Send,
    ) -> Result<(), AuthorizerError> {
        let current = self.cache.load_full();
        let now = self
            .store
            .update(current.bindings(), pattern, change)
            .await?;
        let mut all = current.bindings().clone();
        if now.is_empty() {
            all.remove(pattern);
        } else {
            all.insert(pattern.clone(), now);
        }
        self.cache.store(Arc::new(AclCache::new(all)));
        Ok(())
    }
}

/// `super.users`: `User:alice;User:bob` (semicolons; blanks ignored).
fn parse_super_users(s: &str) -> Result<Vec<KafkaPrincipal>, AuthorizerError> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<KafkaPrincipal>()
                .map_err(|e| AuthorizerError::BadSuperUser(e.to_string()))
        })
        .collect()
}

/// One denial in Kafka's authorizer-log form, rate-limited.
fn log_denial(principal: &KafkaPrincipal, host: IpAddr, rule: &Rule, name: &str) {
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
    static SECOND: AtomicI64 = AtomicI64::new(0);
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let now = crate::util::now_ms() / 1000;
    if SECOND.swap(now, Ordering::Relaxed) != now {
        let held_back = COUNT
            .swap(0, Ordering::Relaxed)
            .saturating_sub(DENIALS_LOGGED_PER_SECOND);
        if held_back > 0 {
            tracing::info!(target: "kafka.authorizer.logger", held_back, "more denials were not logged");
        }
    }
    if COUNT.fetch_add(1, Ordering::Relaxed) < DENIALS_LOGGED_PER_SECOND {
        tracing::info!(
            target: "kafka.authorizer.logger",
            "Principal = {principal} is Denied Operation = {} from host = {host} on resource = {}:LITERAL:{name} for request = {:?} with resourceRefCount = 1",
            rule.operation.pascal_name(),
            rule.resource.pascal_name(),
            rule.api,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn authorizer(dir: &std::path::Path, super_users: &str, everyone: bool) -> Authorizer {
        Authorizer::start(
            &AuthorizerSettings {
                class_name: AUTHORIZER_CLASSES[0].into(),
                super_users: super_users.into(),
                allow_everyone_if_no_acl_found: everyone,
            },
            AclStore::File(dir.join(ACL_FILE)),
        )
        .await
        .unwrap()
    }

    fn allow(rule: &Rule, principal: &str) -> AclBinding {
        let name = if rule.resource == ResourceType::Cluster {
            CLUSTER_NAME
        } else {
            "r"
        };
        AclBinding::from_wire(
            rule.resource.code(),
            name,
            PatternType::Literal.code(),
            principal,
            "*",
            rule.operation.code(),
            Permission::Allow.code(),
        )
        .unwrap()
    }

    fn lo() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    /// Every row of the table: denied without an ACL, allowed with one for
    /// its resource and operation, denied again when a DENY is added.
    #[tokio::test]
    async fn every_rule_is_denied_without_and_allowed_with_its_acl() {
        let dir = tempfile::tempdir().unwrap();
        let auth = authorizer(dir.path(), "", false).await;
        let me = KafkaPrincipal::anonymous();
        for rule in RULES {
            let name = if rule.resource == ResourceType::Cluster {
                CLUSTER_NAME
            } else {
                "r"
            };
            assert!(
                !auth.authorize(&me, lo(), rule.check, name),
                "{:?}",
                rule.check
            );
            let b = allow(rule, "User:ANONYMOUS");
            auth.create(std::slice::from_ref(&b)).await[0]
                .as_ref()
                .unwrap();
            assert!(
                auth.authorize(&me, lo(), rule.check, name),
                "{:?}",
                rule.check
            );
            let mut deny = b.clone();
            deny.entry.permission = Permission::Deny;
            auth.create(std::slice::from_ref(&deny)).await[0]
                .as_ref()
                .unwrap();
            assert!(
                !auth.authorize(&me, lo(), rule.check, name),
                "{:?}",
                rule.check
            );
            let all = AclBindingFilter::from_wire(1, None, 1, None, None, 1, 1).unwrap();
            let gone = auth.delete(&[all]).await.remove(0).unwrap();
            assert_eq!(gone.len(), 2, "{:?}", rule.check);
        }
    }

    #[tokio::test]
    async fn super_users_and_everyone_if_no_acl() {
        let dir = tempfile::tempdir().unwrap();
        let me = KafkaPrincipal::anonymous();
        let su = authorizer(dir.path(), "User:admin; User:ANONYMOUS", false).await;
        assert!(su.authorize(&me, lo(), Check::CreateAcls, CLUSTER_NAME));
        let open = authorizer(dir.path(), "", true).await;
        assert!(open.authorize(&me, lo(), Check::ProduceTopic, "t"));
        let other = allow(Check::ProduceTopic.rule(), "User:bob");
        open.create(&[other]).await[0].as_ref().unwrap();
        assert!(!open.authorize(&me, lo(), Check::ProduceTopic, "r"));
        assert!(open.authorize(&me, lo(), Check::ProduceTopic, "t"));
        assert!(Authorizer::disabled().authorize(&me, lo(), Check::CreateAcls, CLUSTER_NAME));
        assert!(matches!(
            Authorizer::start(
                &AuthorizerSettings {
                    class_name: "com.example.Custom".into(),
                    ..Default::default()
                },
                AclStore::File(dir.path().join(ACL_FILE))
            )
            .await,
            Err(AuthorizerError::UnknownClass(_))
        ));
    }

    #[tokio::test]
    async fn acls_survive_a_restart_and_operations_are_bits() {
        let dir = tempfile::tempdir().unwrap();
        let me = KafkaPrincipal::anonymous();
        {
            let auth = authorizer(dir.path(), "", false).await;
            let b = allow(Check::ProduceTopic.rule(), "User:ANONYMOUS");
            auth.create(&[b]).await[0].as_ref().unwrap();
        }
        let auth = authorizer(dir.path(), "", false).await;
        assert!(auth.authorize(&me, lo(), Check::ProduceTopic, "r"));
        // WRITE, and the DESCRIBE it implies: bits 4 and 8.
        let bits = auth.authorized_operations(&me, lo(), ResourceType::Topic, "r");
        assert_eq!(bits, (1 << 4) | (1 << 8));
        assert!(auth.authorize_any(&me, lo(), Check::InitProducerIdAnyTopic));
        let none =
            Authorizer::disabled().authorized_operations(&me, lo(), ResourceType::Group, "g");
        assert_eq!(none, (1 << 3) | (1 << 8) | (1 << 6));
    }
}
