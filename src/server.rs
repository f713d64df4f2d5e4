//! Start-up and shutdown of the broker, in Kafka's order: open the metrics
//! endpoint (so `/health` answers during recovery), recover the logs,
//! register in ZooKeeper (with `zookeeper.connect`), load the topics, create
//! the missing declared topics, open the listeners; on shutdown close the listeners
//! first, then flush, checkpoint and close the logs and mark the clean
//! shutdown.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::authorizer::{AclStore, Authorizer, AuthorizerError, AuthorizerSettings, ACL_FILE};
use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::declared_topics::{ensure_declared_topics, DeclaredTopicError};
use crate::http::{EndpointState, HttpServer, Sources};
use crate::log::cleaner::{CleanerConfig, LogCleaner};
use crate::log::manager::LogManager;
use crate::log::retention::{enforce_retention, FileDeleter};
use crate::log::LogError;
use crate::metadata::TopicChange;
use crate::metadata::{
    MetadataError, MetadataStore, StandaloneMetadataStore, ZookeeperMetadataStore,
};
use crate::metrics::ZooKeeperState;
use crate::network::{BoundListener, ListenerSecurity, SocketServer};
use crate::protocol::Broker;
use crate::replica_manager::{ReplicaError, ReplicaManager};
use crate::security::sasl::SaslUsers;
use crate::security::tls::TlsServer;

/// How often ZooKeeper's client quotas are re-read.
const QUOTA_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Why the broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A log dir or log could not be opened (the error names the dir or file).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The metadata store failed.
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// ZooKeeper could not be reached or refused the registration.
    #[error(transparent)]
    ZooKeeper(#[from] crate::zk::ZkError),
    /// The authorizer could not start.
    #[error("authorizer: {0}")]
    Authorizer(#[from] AuthorizerError),
    /// Loading a partition failed.
    #[error("partition: {0}")]
    Replica(#[from] ReplicaError),
    /// A listener could not be bound.
    #[error(
        "listeners {name}://{host}:{port}: cannot bind: {source}; stop what holds the port, \
         or give the listener another port in listeners"
    )]
    Bind {
        /// Listener name.
        name: String,
        /// Bind host.
        host: String,
        /// Bind port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// A topic declared in the config file could not be created.
    #[error(transparent)]
    DeclaredTopic(#[from] DeclaredTopicError),
    /// An HTTP listener (`metrics.listener`, `console.listener`) could not be bound.
    #[error(
        "{property} {addr}: cannot bind: {source}; stop what holds the port, \
         or set {property} to another address (empty turns it off)"
    )]
    HttpBind {
        /// The property naming the listener.
        property: &'static str,
        /// `host:port` as configured.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A started broker.
pub struct RunningBroker {
    /// The addresses the listeners bound, by listener name.
    pub bound: Vec<(String, SocketAddr)>,
    /// The address the metrics endpoint bound (`None` with `metrics.listener` empty).
    pub metrics_addr: Option<SocketAddr>,
    /// The address the web console bound (`None` with `console.listener` empty).
    pub console_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    replica_manager: Arc<ReplicaManager>,
    coordinator: Arc<GroupCoordinator>,
    /// The log cleaner threads (stopped before the logs are closed).
    log_cleaner: Option<LogCleaner>,
}

/// Topic changes from the ZooKeeper store waiting to be applied.
const TOPIC_CHANGE_QUEUE: usize = 64;

/// Applies topic changes other metadata writers made to the replica manager,
/// in order, on the blocking pool; ends when the store's session task does.
async fn apply_topic_changes(
    mut changes: tokio::sync::mpsc::Receiver<TopicChange>,
    replica_manager: Arc<ReplicaManager>,
) {
    while let Some(change) = changes.recv().await {
        let (name, result) = match change {
            TopicChange::Created(topic) | TopicChange::Altered(topic) => {
                let name = topic.name.clone();
                (name, replica_manager.install_topic_async(topic).await)
            }
            TopicChange::Deleted(name) => {
                let result = replica_manager.remove_topic_async(&name).await;
                crate::metrics::topic_deleted(&name);
                (name, result)
            }
        };
        if let Err(e) = result {
            tracing::warn!(topic = %name, error = %e, "cannot apply topic change from the metadata store");
        }
    }
}

/// The authorizer `authorizer.class.name` selects, its ACLs loaded (from
/// ZooKeeper in ZooKeeper mode, else `strom-acls.json` in the first log dir)
/// before the listeners open.
async fn start_authorizer(
    config: &BrokerConfig,
    zookeeper: Option<&ZookeeperMetadataStore>,
    first_dir: &std::path::Path,
) -> Result<Authorizer, ServerError> {
    let settings = AuthorizerSettings {
        class_name: config.authorizer_class_name.clone(),
        super_users: config.super_users.clone(),
        allow_everyone_if_no_acl_found: config.allow_everyone_if_no_acl_found,
    };
    let store = match zookeeper {
        Some(zk) => AclStore::ZooKeeper(Arc::new(zk.kafka_zk())),
        None => AclStore::File(first_dir.join(ACL_FILE)),
    };
    Ok(Authorizer::start(&settings, store).await?)
}

/// Binds one HTTP listener and spawns its accept loop; returns the bound address.
async fn serve_http(
    addr: &str,
    property: &'static str,
    router: axum::Router,
    tls: Option<Arc<TlsServer>>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> Result<SocketAddr, ServerError> {
    let bind_err = |source| ServerError::HttpBind {
        property,
        addr: addr.to_string(),
        source,
    };
    let server = HttpServer::bind(addr, property)
        .await
        .map_err(bind_err)?
        .with_tls(tls);
    let local = server.local_addr().map_err(bind_err)?;
    tasks.spawn(
        server
            .run(router, shutdown.clone())
            .instrument(tracing::info_span!("http", listener = property)),
    );
    Ok(local)
}

/// The console listener's name in per-listener properties: its keystore is
/// `listener.name.console.ssl.keystore.location` (or `.certificate.chain`
/// and `.key`), never the broker-wide one; the other TLS settings
/// (`ssl.keystore.type`, `ssl.truststore.*`, `ssl.client.auth`,
/// `ssl.enabled.protocols`, `ssl.cipher.suites`) that prefix over the
/// broker-wide values, as for a Kafka listener.
const CONSOLE_LISTENER_NAME: &str = "console";

/// The keystore settings the console takes only from its own
/// `listener.name.console.` prefix: a broker-wide keystore (for the Kafka
/// listeners) does not turn the console into HTTPS by itself.
const CONSOLE_OWN_KEYSTORE: &[&str] = &[
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
];

/// The console's TLS server, when a keystore is configured for it
/// (`listener.name.console.ssl.keystore.location`, or `.certificate.chain`
/// with `.key`); `None`: plain HTTP.
fn console_tls(config: &BrokerConfig) -> Result<Option<Arc<TlsServer>>, ServerError> {
    let own = |name: &str| {
        config
            .listener_value(CONSOLE_LISTENER_NAME, name)
            .filter(|v| !v.trim().is_empty())
            .filter(|_| {
                !CONSOLE_OWN_KEYSTORE.contains(&name)
                    || config.is_explicit_listener_value(CONSOLE_LISTENER_NAME, name)
            })
    };
    let configured = ["ssl.keystore.location", "ssl.keystore.certificate.chain"]
        .iter()
        .any(|k| own(k).is_some());
    if !configured {
        return Ok(None);
    }
    let tls = tokio::task::block_in_place(|| TlsServer::from_props(&own)).map_err(|e| {
        ServerError::Config(format!("console.listener TLS: listener.name.console.{e}"))
    })?;
    Ok(Some(Arc::new(tls)))
}

/// Swaps in new certificates when the console's keystore or truststore
/// files change (as the Kafka listeners do).
async fn reload_tls(tls: Arc<TlsServer>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::network::TLS_RELOAD_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let t = tls.clone();
        match tokio::task::spawn_blocking(move || t.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("console TLS certificates reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "console TLS files changed but do not load; keeping the old ones")
            }
            Err(_) => return,
        }
    }
}

/// Recovers the logs, loads the topics and opens the listeners.
pub async fn start(config: BrokerConfig) -> Result<RunningBroker, ServerError> {
    let config = Arc::new(config);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    crate::metrics::process_started();
    crate::metrics::register_apis(crate::protocol::APIS.iter().map(|a| a.key));
    crate::metrics::set_log_dirs(&config.log_dirs);
    // TLS material and SASL settings of every listener (blocking reads of
    // the PEM files); their SASL users are also who may sign in to the
    // console and read /metrics.
    let mut securities = Vec::with_capacity(config.listeners.len());
    for listener in &config.listeners {
        let security =
            tokio::task::block_in_place(|| ListenerSecurity::from_config(&config, &listener.name))
                .map_err(|e| ServerError::Config(format!("listener {}: {e}", listener.name)))?;
        securities.push(security);
    }
    let sasl_users = Arc::new(SaslUsers::new(
        securities.iter().filter_map(|s| s.sasl.clone()).collect(),
    ));
    if config.metrics_authentication_basic && !sasl_users.configured() {
        return Err(ServerError::Config(
            "metrics.authentication=basic needs the users of a SASL listener (listener.security.protocol.map with SASL_PLAINTEXT or SASL_SSL)".into(),
        ));
    }
    if config.console_listener.is_some() {
        let signs_in = config.console_authentication && sasl_users.configured();
        tracing::info!(
            sign_in = signs_in,
            "web console: {}",
            if signs_in {
                "the broker's SASL users sign in, and act under the ACLs"
            } else {
                "no sign-in (no SASL listener, or console.authentication=none): guarded by its bind address and console.read.only"
            }
        );
    }
    let console_tls = match &config.console_listener {
        Some(_) => console_tls(&config)?,
        None => None,
    };
    // The metrics endpoint opens first, so /health answers (and /ready says
    // what is missing) during a long log recovery or ZooKeeper connect.
    let endpoint = Arc::new(EndpointState::new(config.zookeeper_connect.is_some()));
    endpoint.require_metrics_authentication(config.metrics_authentication_basic);
    let metrics_addr = match &config.metrics_listener {
        Some(addr) => {
            let router = crate::http::metrics::router(endpoint.clone());
            let local = serve_http(
                addr,
                "metrics.listener",
                router,
                None,
                &mut tasks,
                &shutdown_rx,
            )
            .await?;
            tracing::info!(%local, "metrics endpoint listening (/metrics, /health, /ready)");
            Some(local)
        }
        None => None,
    };
    // The console listener opens as early: its pages say "starting" until
    // the logs are loaded.
    let console_addr = match &config.console_listener {
        Some(addr) => {
            let router = crate::http::console_router(endpoint.clone(), crate::http::CONTRIBUTIONS);
            let local = serve_http(
                addr,
                "console.listener",
                router,
                console_tls.clone(),
                &mut tasks,
                &shutdown_rx,
            )
            .await?;
            let scheme = if console_tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(%local, scheme, read_only = config.console_read_only, "web console listening");
            if let Some(tls) = console_tls.clone() {
                tasks.spawn(
                    reload_tls(tls, shutdown_rx.clone())
                        .instrument(tracing::info_span!("console-tls-reload")),
                );
            }
            tasks.spawn(
                crate::http::console::sampler::run(endpoint.clone(), shutdown_rx.clone())
                    .instrument(tracing::info_span!("console-sampler")),
            );
            Some(local)
        }
        None => None,
    };
    let log_dirs = config.log_dirs.clone();
    let first_dir = log_dirs
        .first()
        .cloned()
        .ok_or_else(|| ServerError::Config("log.dirs is empty".into()))?;
    let (fd_limit, segment_files) = crate::log::file_cache::size_for_descriptor_limit();
    tracing::info!(
        fd_limit,
        segment_files,
        "open file limit; segment files are kept open up to the second figure"
    );
    let log_manager = Arc::new(tokio::task::block_in_place(|| {
        LogManager::startup(&log_dirs)
    })?);
    // With zookeeper.connect, ZooKeeper is the source of truth: connect and
    // register the broker before the topics are loaded and listeners open.
    let zookeeper = match &config.zookeeper_connect {
        Some(_) => Some(ZookeeperMetadataStore::start(&config).await?),
        None => None,
    };
    if zookeeper.is_some() {
        endpoint.zookeeper_registered(true);
        crate::metrics::set_zookeeper_state(ZooKeeperState::Connected);
    }
    let metadata: Arc<dyn MetadataStore> = match &zookeeper {
        Some(zk) => zk.clone(),
        None => Arc::new(tokio::task::block_in_place(|| {
            StandaloneMetadataStore::open(&first_dir, config.broker_id)
        })?),
    };
    let replica_manager = Arc::new(ReplicaManager::new(config.clone(), log_manager.clone()));

    // Recover and open every partition of every known topic.
    let topics = metadata.topics().await?;
    let known: HashSet<(String, i32)> = topics
        .iter()
        .flat_map(|t| (0..t.partitions).map(move |p| (t.name.clone(), p)))
        .collect();
    let started = std::time::Instant::now();
    let keep_unknown_logs = metadata.cluster_state_lost();
    tokio::task::block_in_place(|| {
        replica_manager.load_topics(&topics, config.recovery_threads())?;
        // Partition directories of topics the metadata no longer has
        // (deleted while the broker was down) are removed.
        for (topic, partition, dir) in log_manager.existing_partitions() {
            if !known.contains(&(topic.clone(), partition)) {
                if keep_unknown_logs {
                    tracing::warn!(topic, partition, dir = %dir.display(), "keeping the log of a partition the metadata store does not know (cluster state lost); re-create the topic or remove the directory by hand");
                    continue;
                }
                tracing::warn!(topic, partition, dir = %dir.display(), "deleting log of a partition no topic has");
                if let Err(e) = crate::replica_manager::delete_partition_dir(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not delete stray log");
                }
            }
        }
        Ok::<(), ServerError>(())
    })?;
    tracing::info!(
        topics = topics.len(),
        partitions = known.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "logs loaded"
    );

    // The group coordinator replays __consumer_offsets in the background;
    // until it has, the group APIs answer COORDINATOR_LOAD_IN_PROGRESS.
    let coordinator = Arc::new(GroupCoordinator::new(
        config.clone(),
        replica_manager.clone(),
        metadata.clone(),
    ));
    let authorizer = Arc::new(start_authorizer(&config, zookeeper.as_deref(), &first_dir).await?);
    if config.zookeeper_connect.is_some() && authorizer.is_enabled() {
        tasks.spawn(
            authorizer
                .clone()
                .follow_zookeeper(shutdown_rx.clone())
                .instrument(tracing::info_span!("acl-changes")),
        );
    }
    let broker = Arc::new(Broker::new(
        config.clone(),
        replica_manager.clone(),
        metadata.clone(),
        coordinator.clone(),
        authorizer,
    ));
    // Client quotas are in force before the listeners open; in ZooKeeper
    // mode other writers' changes (kafka-configs --zookeeper, other brokers)
    // are picked up every few seconds.
    broker.reload_entity_configs().await;
    if config.zookeeper_connect.is_some() {
        let (broker, mut shutdown) = (broker.clone(), shutdown_rx.clone());
        tasks.spawn(
            async move {
                let mut tick = tokio::time::interval(QUOTA_RELOAD_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = tick.tick() => broker.reload_entity_configs().await,
                        _ = shutdown.changed() => return,
                    }
                }
            }
            .instrument(tracing::info_span!("quota-reload")),
        );
    }
    // Declared topics are created before the listeners open, so the first
    // client already finds them (auto.create.topics.enable is usually off).
    if !config.declared_topics.is_empty() {
        let done =
            ensure_declared_topics(&broker, &replica_manager, &config.declared_topics).await?;
        tracing::info!(
            created = done.created.len(),
            unchanged = done.unchanged.len(),
            differing = done.differing.len(),
            "declared topics reconciled"
        );
    }
    endpoint.logs_recovered(Sources {
        config: config.clone(),
        replica_manager: replica_manager.clone(),
        coordinator: coordinator.clone(),
        broker: broker.clone(),
        sasl_users,
    });
    let socket_server = SocketServer::new(&config).await;
    let mut bound = Vec::new();
    for (listener, security) in config.listeners.iter().zip(securities) {
        let advertised = config
            .advertised_listeners
            .iter()
            .find(|a| a.name == listener.name)
            .cloned()
            .unwrap_or_else(|| listener.clone());
        tracing::info!(listener = %listener.name, protocol = security.protocol.name(), "listener security");
        let b = BoundListener::bind(listener.clone(), advertised.clone(), security)
            .await
            .map_err(|source| ServerError::Bind {
                name: listener.name.clone(),
                host: listener.host.clone(),
                port: listener.port,
                source,
            })?;
        let addr = b.local_addr().map_err(|source| ServerError::Bind {
            name: listener.name.clone(),
            host: listener.host.clone(),
            port: listener.port,
            source,
        })?;
        tracing::info!(listener = %listener.name, %addr, advertised = %format!("{}:{}", advertised.host, advertised.port), "listening");
        bound.push((listener.name.clone(), addr));
        let span = tracing::info_span!("acceptor", listener = %listener.name);
        tasks.spawn(
            b.run(broker.clone(), socket_server.clone(), shutdown_rx.clone())
                .instrument(span),
        );
    }

    endpoint.listeners_bound();

    // Recovery points and log start offsets, every
    // log.flush.offset.checkpoint.interval.ms.
    let checkpoint_every = Duration::from_millis(
        u64::try_from(config.log_flush_offset_checkpoint_interval_ms)
            .unwrap_or(60_000)
            .max(1),
    );
    let rm = replica_manager.clone();
    let mut stop = shutdown_rx.clone();
    tasks.spawn(
        async move {
            let mut tick = tokio::time::interval(checkpoint_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let rm = rm.clone();
                let res = tokio::task::spawn_blocking(move || {
                    rm.log_manager().checkpoint(&rm.checkpoint_entries())
                })
                .await;
                if let Ok(Err(e)) = res {
                    tracing::warn!(error = %e, "writing checkpoints failed");
                }
            }
        }
        .instrument(tracing::info_span!("log-checkpoint")),
    );
    // Kafka's log flusher: off with the default Long.MAX_VALUE interval.
    if let Ok(every) = u64::try_from(config.log_flush_scheduler_interval_ms) {
        if every > 0 && config.log_flush_scheduler_interval_ms != i64::MAX {
            let rm = replica_manager.clone();
            let mut stop = shutdown_rx.clone();
            tasks.spawn(
                async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(every));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {}
                            _ = stop.changed() => return,
                        }
                        if let Err(e) = rm.flush_due_logs().await {
                            tracing::warn!(error = %e, "scheduled log flush failed");
                        }
                    }
                }
                .instrument(tracing::info_span!("log-flusher")),
            );
        }
    }
    if let Some(zk) = zookeeper {
        // Follows the ZooKeeper session; closes it (deregistering) on shutdown.
        // Topics other ZooKeeper writers change reach the replica manager
        // through this channel; the store never calls it.
        let (changes, changes_rx) = tokio::sync::mpsc::channel(TOPIC_CHANGE_QUEUE);
        tasks.spawn(
            zk.run(changes, shutdown_rx.clone())
                .instrument(tracing::info_span!("zk-session")),
        );
        tasks.spawn(
            apply_topic_changes(changes_rx, replica_manager.clone())
                .instrument(tracing::info_span!("topic-changes")),
        );
    }
    coordinator.spawn(&mut tasks, shutdown_rx.clone());
    let log_cleaner = spawn_log_maintenance(&config, &replica_manager, &mut tasks, &shutdown_rx)?;
    Ok(RunningBroker {
        log_cleaner,
        bound,
        metrics_addr,
        console_addr,
        shutdown,
        tasks,
        replica_manager,
        coordinator,
    })
}

impl RunningBroker {
    /// Closes the listeners, lets each connection finish the request it is
    /// serving and close (within `network::CONNECTION_DRAIN`), then flushes,
    /// checkpoints and closes every log and marks the clean shutdown.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        tracing::info!("shutting down: closing listeners");
        let _ = self.shutdown.send(true);
        // Pending JoinGroup/SyncGroup long polls are answered NOT_COORDINATOR
        // so their connections can close.
        self.coordinator.shutdown();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("tasks did not stop within 10 s; aborting them");
            self.tasks.abort_all();
        }
        if let Some(cleaner) = self.log_cleaner.take() {
            tracing::info!("stopping the log cleaner");
            let _ = tokio::task::spawn_blocking(move || cleaner.shutdown()).await;
        }
        tracing::info!("flushing and closing logs");
        let rm = self.replica_manager.clone();
        let threads = rm.config().recovery_threads();
        tokio::task::spawn_blocking(move || rm.shutdown(threads))
            .await
            .map_err(|e| ServerError::Config(format!("shutdown task failed: {e}")))??;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

/// How often `.deleted` files are looked at (each waits `file.delete.delay.ms`).
const FILE_DELETE_TICK: Duration = Duration::from_millis(500);

/// Starts the retention task (every `log.retention.check.interval.ms`,
/// missed ticks skipped), the removal of `.deleted` files, and the log
/// cleaner threads (`log.cleaner.enable`, `log.cleaner.threads`).
fn spawn_log_maintenance(
    config: &BrokerConfig,
    replica_manager: &Arc<ReplicaManager>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> Result<Option<LogCleaner>, ServerError> {
    let deleter = Arc::new(FileDeleter::new());

    let rm = replica_manager.clone();
    let del = deleter.clone();
    let mut stop = shutdown.clone();
    let interval = Duration::from_millis(config.log_retention_check_interval_ms.max(1) as u64);
    tasks.spawn(
        async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let rm = rm.clone();
                let del = del.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let summary =
                        enforce_retention(&rm.all_partitions(), crate::util::now_ms(), &del);
                    if summary.log_start_moved {
                        rm.log_manager().checkpoint(&rm.checkpoint_entries())?;
                    }
                    Ok::<_, LogError>(summary)
                })
                .await;
                match res {
                    Ok(Ok(s)) if s.deleted_segments > 0 => {
                        crate::metrics::retention_deleted(s.deleted_segments as u64);
                        tracing::debug!(segments = s.deleted_segments, "retention pass done")
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "writing checkpoints after retention failed")
                    }
                    _ => {}
                }
            }
        }
        .instrument(tracing::info_span!("log-retention")),
    );

    let del = deleter.clone();
    let mut stop = shutdown.clone();
    tasks.spawn(
        async move {
            let mut tick = tokio::time::interval(FILE_DELETE_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    // Files still waiting are removed by `Log::open` at the next start.
                    _ = stop.changed() => return,
                }
                if del.pending() > 0 {
                    let del = del.clone();
                    let _ =
                        tokio::task::spawn_blocking(move || del.delete_due(crate::util::now_ms()))
                            .await;
                }
            }
        }
        .instrument(tracing::info_span!("log-file-deleter")),
    );

    let threads = usize::try_from(config.log_cleaner_threads).unwrap_or(0);
    if !config.log_cleaner_enable || threads == 0 {
        tracing::info!("log cleaner disabled");
        return Ok(None);
    }
    let cleaner_config = CleanerConfig {
        threads,
        dedupe_buffer_size: usize::try_from(config.log_cleaner_dedupe_buffer_size)
            .unwrap_or(usize::MAX),
        io_max_bytes_per_second: config
            .get("log.cleaner.io.max.bytes.per.second")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(f64::MAX),
        backoff_ms: u64::try_from(config.log_cleaner_backoff_ms).unwrap_or(15_000),
    };
    let rm = replica_manager.clone();
    let cleaner = LogCleaner::start(
        cleaner_config,
        Arc::new(move || rm.all_partitions()),
        deleter,
    )?;
    Ok(Some(cleaner))
}
