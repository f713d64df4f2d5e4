//! The ZooKeeper session (Kafka's `ZooKeeperClient`): connects per
//! `zookeeper.connect`, follows the session state in one task, opens a new
//! session after expiry and tells subscribers ([`SessionEvent`]) so they can
//! re-create their ephemeral nodes and watches.
//!
//! Every operation checks the session first: while it is disconnected or
//! expired an operation fails at once with [`ZkError::NotConnected`] instead
//! of waiting, and no operation waits longer than the session timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::sync::{broadcast, watch};
use zookeeper_client as zkc;

use super::ZkError;

/// Connection settings, from Kafka's broker properties.
#[derive(Clone, Debug)]
pub struct ZkSettings {
    /// `zookeeper.connect`: `host:port[,host:port…][/chroot]`.
    pub connect: String,
    /// `zookeeper.session.timeout.ms`.
    pub session_timeout: Duration,
    /// `zookeeper.connection.timeout.ms` (the session timeout when unset).
    pub connection_timeout: Duration,
}

/// A change of the session, as subscribers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The connection was lost; the session (and its ephemeral nodes) may
    /// still be alive.
    Disconnected,
    /// The connection is back and the session survived.
    Reconnected,
    /// The session expired: its ephemeral nodes and watches are gone.
    Expired,
    /// A new session was established after expiry.
    NewSession,
}

/// The metadata of a znode that Kafka's logic looks at.
#[derive(Clone, Copy, Debug)]
pub struct NodeStat {
    /// Data version, for conditional updates.
    pub version: i32,
    /// The owning session of an ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    /// Creation zxid (Kafka's broker epoch for `/brokers/ids/<id>`).
    pub czxid: i64,
    /// Creation time, ms since the epoch (expiry of change notifications).
    pub ctime: i64,
}

impl From<&zkc::Stat> for NodeStat {
    fn from(s: &zkc::Stat) -> Self {
        NodeStat {
            version: s.version,
            ephemeral_owner: s.ephemeral_owner,
            czxid: s.czxid,
            ctime: s.ctime,
        }
    }
}

/// A one-shot watch on a znode or its children.
pub struct ZkWatch(zkc::OneshotWatcher);

impl ZkWatch {
    /// Resolves when the watched node changes or the session breaks.
    pub async fn fired(self) {
        let _ = self.0.changed().await;
    }
}

/// One ZooKeeper session at a time, replaced after expiry.
pub struct ZooKeeperClient {
    settings: ZkSettings,
    hosts: String,
    chroot: Option<String>,
    current: RwLock<Option<zkc::Client>>,
    events: broadcast::Sender<SessionEvent>,
    closing: AtomicBool,
    /// Sessions of ours that ended (their ephemeral nodes may linger on a
    /// server that has not expired them yet).
    ended: parking_lot::Mutex<Vec<i64>>,
}

/// Splits `zookeeper.connect` into the host list and the chroot.
pub fn parse_connect(connect: &str) -> Result<(String, Option<String>), ZkError> {
    let bad = |why: &str| ZkError::BadConnectString(connect.to_string(), why.to_string());
    let connect = connect.trim();
    let (hosts, chroot) = match connect.find('/') {
        Some(i) => (&connect[..i], Some(&connect[i..])),
        None => (connect, None),
    };
    if hosts.is_empty() || hosts.split(',').any(|h| h.trim().is_empty()) {
        return Err(bad("expected host:port[,host:port…][/chroot]"));
    }
    let chroot = match chroot {
        None | Some("/") => None,
        Some(c) => {
            let c = c.trim_end_matches('/');
            if c.contains("//") {
                return Err(bad("the chroot has an empty path element"));
            }
            Some(c.to_string())
        }
    };
    Ok((hosts.to_string(), chroot))
}

fn map_err(path: &str, e: zkc::Error) -> ZkError {
    match e {
        zkc::Error::NoNode => ZkError::NoNode(path.to_string()),
        zkc::Error::NodeExists => ZkError::NodeExists(path.to_string()),
        zkc::Error::BadVersion => ZkError::BadVersion(path.to_string()),
        zkc::Error::ConnectionLoss
        | zkc::Error::SessionExpired
        | zkc::Error::SessionMoved
        | zkc::Error::Timeout
        | zkc::Error::ClientClosed
        | zkc::Error::NoHosts => ZkError::NotConnected(format!("{e} (on {path})")),
        other => ZkError::Other {
            path: path.to_string(),
            reason: other.to_string(),
        },
    }
}

impl ZooKeeperClient {
    /// Connects, retrying with backoff until `zookeeper.connection.timeout.ms`;
    /// creates the chroot when missing.
    pub async fn connect(settings: ZkSettings) -> Result<Arc<Self>, ZkError> {
        let (hosts, chroot) = parse_connect(&settings.connect)?;
        let (events, _) = broadcast::channel(16);
        let this = ZooKeeperClient {
            settings,
            hosts,
            chroot,
            current: RwLock::new(None),
            events,
            closing: AtomicBool::new(false),
            ended: parking_lot::Mutex::new(Vec::new()),
        };
        let deadline = Instant::now() + this.settings.connection_timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let reason = match tokio::time::timeout(remaining, this.establish()).await {
                Ok(Ok(client)) => {
                    tracing::info!(
                        session = %client.session_id(),
                        zookeeper = %this.settings.connect,
                        negotiated_timeout_ms = client.session_timeout().as_millis() as u64,
                        "connected to ZooKeeper"
                    );
                    *this.current.write() = Some(client);
                    return Ok(Arc::new(this));
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_string(),
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ZkError::Unreachable {
                    address: this.settings.connect.clone(),
                    timeout_ms: this.settings.connection_timeout.as_millis() as u64,
                    reason,
                });
            }
            let pause = backoff.min(remaining);
            tracing::warn!(zookeeper = %this.settings.connect, error = %reason, retry_in_ms = pause.as_millis() as u64, "cannot connect to ZooKeeper; retrying");
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One attempt: a new session, the chroot created, the client rooted there.
    async fn establish(&self) -> Result<zkc::Client, ZkError> {
        let client = zkc::Client::connector()
            .with_session_timeout(self.settings.session_timeout)
            .with_fail_eagerly()
            .connect(&self.hosts)
            .await
            .map_err(|e| map_err("/", e))?;
        let Some(chroot) = &self.chroot else {
            return Ok(client);
        };
        match client
            .mkdir(
                chroot,
                &zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all()),
            )
            .await
        {
            Ok(()) | Err(zkc::Error::NodeExists) => {}
            Err(e) => return Err(map_err(chroot, e)),
        }
        client.chroot(chroot.as_str()).map_err(|_| {
            ZkError::BadConnectString(self.settings.connect.clone(), "bad chroot".into())
        })
    }

    /// Session events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    /// The current session id, when there is a session.
    pub fn session_id(&self) -> Option<i64> {
        self.current.read().as_ref().map(|c| c.session_id().0)
    }

    /// Whether `session` was one of ours that has ended.
    pub fn was_ours(&self, session: i64) -> bool {
        self.ended.lock().contains(&session)
    }

    /// `zookeeper.connect`, for messages.
    pub fn address(&self) -> &str {
        &self.settings.connect
    }

    /// Follows the session until `shutdown`: logs every state change, and
    /// after expiry opens a new session (retrying with backoff) and
    /// announces it.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let Some(mut states) = self.current.read().as_ref().map(|c| c.state_watcher()) else {
                return;
            };
            let session = self.session_id().unwrap_or(0);
            // Follow this session until it ends.
            let ended = loop {
                let state = states.peek_state();
                let state = if state.is_terminated() {
                    state
                } else {
                    tokio::select! {
                        s = states.changed() => s,
                        _ = shutdown.changed() => return,
                    }
                };
                match state {
                    zkc::SessionState::Disconnected => {
                        tracing::warn!(
                            session = format_args!("{session:#x}"),
                            timeout_ms = self.settings.session_timeout.as_millis() as u64,
                            "disconnected from ZooKeeper; the session lives on until its timeout"
                        );
                        let _ = self.events.send(SessionEvent::Disconnected);
                    }
                    zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => {
                        tracing::info!(
                            session = format_args!("{session:#x}"),
                            "reconnected to ZooKeeper; session resumed"
                        );
                        let _ = self.events.send(SessionEvent::Reconnected);
                    }
                    terminal => break terminal,
                }
            };
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            tracing::warn!(session = format_args!("{session:#x}"), state = %ended, "ZooKeeper session ended; its ephemeral nodes are gone; opening a new session");
            *self.current.write() = None;
            {
                let mut ended = self.ended.lock();
                ended.push(session);
                let excess = ended.len().saturating_sub(8);
                ended.drain(..excess);
            }
            let _ = self.events.send(SessionEvent::Expired);
            let mut backoff = Duration::from_millis(200);
            let client = loop {
                let attempt = tokio::time::timeout(
                    self.settings.connection_timeout.max(Duration::from_secs(1)),
                    self.establish(),
                );
                let outcome = tokio::select! {
                    r = attempt => r,
                    _ = shutdown.changed() => return,
                };
                match outcome {
                    Ok(Ok(client)) => break client,
                    Ok(Err(e)) => {
                        tracing::warn!(zookeeper = %self.settings.connect, error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot open a new ZooKeeper session; retrying")
                    }
                    Err(_) => {
                        tracing::warn!(zookeeper = %self.settings.connect, retry_in_ms = backoff.as_millis() as u64, "opening a new ZooKeeper session timed out; retrying")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            };
            tracing::info!(session = %client.session_id(), "new ZooKeeper session established");
            *self.current.write() = Some(client);
            let _ = self.events.send(SessionEvent::NewSession);
        }
    }

    /// Closes the session (its ephemeral nodes go at once), waiting briefly
    /// for ZooKeeper to confirm.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let Some(client) = self.current.write().take() else {
            return;
        };
        let mut states = client.state_watcher();
        let session = client.session_id();
        drop(client);
        let closed = async {
            while !states.peek_state().is_terminated() {
                states.changed().await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(3), closed)
            .await
            .is_err()
        {
            tracing::warn!(%session, "ZooKeeper did not confirm closing the session");
        } else {
            tracing::info!(%session, "ZooKeeper session closed");
        }
    }

    fn client(&self, path: &str) -> Result<zkc::Client, ZkError> {
        let guard = self.current.read();
        let client = guard
            .as_ref()
            .ok_or_else(|| ZkError::NotConnected(format!("no session (on {path})")))?;
        match client.state() {
            zkc::SessionState::SyncConnected => Ok(client.clone()),
            other => Err(ZkError::NotConnected(format!(
                "session is {other} (on {path})"
            ))),
        }
    }

    async fn bounded<T>(
        &self,
        path: &str,
        op: impl std::future::Future<Output = Result<T, zkc::Error>>,
    ) -> Result<T, ZkError> {
        match tokio::time::timeout(self.settings.session_timeout, op).await {
            Ok(r) => r.map_err(|e| map_err(path, e)),
            Err(_) => Err(ZkError::NotConnected(format!(
                "no answer within {} ms (on {path})",
                self.settings.session_timeout.as_millis()
            ))),
        }
    }

    /// The data and stat of a node; `None` if it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, NodeStat)>, ZkError> {
        let client = self.client(path)?;
        match self.bounded(path, client.get_data(path)).await {
            Ok((data, stat)) => Ok(Some((data, NodeStat::from(&stat)))),
            Err(ZkError::NoNode(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a node (persistent or ephemeral, open ACL as Kafka without
    /// `zookeeper.set.acl`); returns its stat.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        ephemeral: bool,
    ) -> Result<NodeStat, ZkError> {
        let client = self.client(path)?;
        let mode = if ephemeral {
            zkc::CreateMode::Ephemeral
        } else {
            zkc::CreateMode::Persistent
        };
        let options = mode.with_acls(zkc::Acls::anyone_all());
        let (stat, _) = self
            .bounded(path, client.create(path, data, &options))
            .await?;
        Ok(NodeStat::from(&stat))
    }

    /// Creates a persistent sequential node `<prefix>NNNNNNNNNN`; returns its path.
    pub async fn create_sequential(&self, prefix: &str, data: &[u8]) -> Result<String, ZkError> {
        let client = self.client(prefix)?;
        let options = zkc::CreateMode::PersistentSequential.with_acls(zkc::Acls::anyone_all());
        let (_, seq) = self
            .bounded(prefix, client.create(prefix, data, &options))
            .await?;
        Ok(format!("{prefix}{seq}"))
    }

    /// Creates a persistent node and its missing parents; an existing node is fine.
    pub async fn mkdirs(&self, path: &str) -> Result<(), ZkError> {
        let client = self.client(path)?;
        let options = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        match self.bounded(path, client.mkdir(path, &options)).await {
            Ok(()) | Err(ZkError::NodeExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces a node's data, if its version is still `version` when given.
    pub async fn set(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<(), ZkError> {
        let client = self.client(path)?;
        self.bounded(path, client.set_data(path, data, version))
            .await
            .map(|_| ())
    }

    /// Sets a node's data, creating it (and its parents) when missing.
    pub async fn set_or_create(&self, path: &str, data: &[u8]) -> Result<(), ZkError> {
        match self.set(path, data, None).await {
            Err(ZkError::NoNode(_)) => {}
            other => return other,
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() {
                self.mkdirs(parent).await?;
            }
        }
        match self.create(path, data, false).await {
            Ok(_) => Ok(()),
            Err(ZkError::NodeExists(_)) => self.set(path, data, None).await,
            Err(e) => Err(e),
        }
    }

    /// Deletes a node; a missing node is fine.
    pub async fn delete(&self, path: &str) -> Result<(), ZkError> {
        let client = self.client(path)?;
        match self.bounded(path, client.delete(path, None)).await {
            Ok(()) | Err(ZkError::NoNode(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes a node and everything below it; a missing node is fine.
    pub async fn delete_recursive(&self, path: &str) -> Result<(), ZkError> {
        // Depth-first, children before parents (no recursion in async fns).
        let mut stack = vec![(path.to_string(), false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                self.delete(&node).await?;
                continue;
            }
            stack.push((node.clone(), true));
            for child in self.children(&node).await?.unwrap_or_default() {
                stack.push((format!("{node}/{child}"), false));
            }
        }
        Ok(())
    }

    /// The children of a node; `None` if it does not exist.
    pub async fn children(&self, path: &str) -> Result<Option<Vec<String>>, ZkError> {
        let client = self.client(path)?;
        match self.bounded(path, client.list_children(path)).await {
            Ok(children) => Ok(Some(children)),
            Err(ZkError::NoNode(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The children of an existing node and a watch on them.
    pub async fn watch_children(&self, path: &str) -> Result<(Vec<String>, ZkWatch), ZkError> {
        let client = self.client(path)?;
        let (children, watcher) = self
            .bounded(path, client.list_and_watch_children(path))
            .await?;
        Ok((children, ZkWatch(watcher)))
    }

    /// Whether a node exists, and a watch on its creation, change or deletion.
    pub async fn watch_exists(&self, path: &str) -> Result<(Option<NodeStat>, ZkWatch), ZkError> {
        let client = self.client(path)?;
        let (stat, watcher) = self
            .bounded(path, client.check_and_watch_stat(path))
            .await?;
        Ok((stat.as_ref().map(NodeStat::from), ZkWatch(watcher)))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_connect;

    #[test]
    fn connect_string_with_and_without_chroot() {
        assert_eq!(
            parse_connect("zk:2181").unwrap(),
            ("zk:2181".to_string(), None)
        );
        assert_eq!(
            parse_connect("a:1,b:2/kafka/prod/").unwrap(),
            ("a:1,b:2".to_string(), Some("/kafka/prod".to_string()))
        );
        assert_eq!(parse_connect("a:1/").unwrap(), ("a:1".to_string(), None));
        assert!(parse_connect("/kafka").is_err());
        assert!(parse_connect("a:1,,b:2").is_err());
        assert!(parse_connect("a:1/x//y").is_err());
    }
}
