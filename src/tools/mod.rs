//! Kafka's console tools in the one binary: `strom topics`,
//! `console-producer`, `console-consumer`, `consumer-groups`, `configs`,
//! `get-offsets`, `broker-api-versions`, `log-dirs`, `transactions`,
//! `leader-election`, `reassign-partitions`, `acls`, with Kafka 3.5's flags and output.
//!
//! Invoked under Kafka's names (`kafka-topics`, `kafka-topics.sh`, …: see
//! [`rewrite_args`]) the binary behaves as that tool; `strom
//! install-tool-links DIR` creates those links. The tools speak only standard
//! Kafka APIs through `crate::client`, so they work against any Kafka broker.
//!
//! Every network step has a deadline (`--timeout-ms` where the tool has one,
//! otherwise [`DEFAULT_TIMEOUT`]), and every failure is a [`ToolError`]
//! printed as one line with a non-zero exit status: never a panic.
//!
//! In a pipe the tools behave as shell tools do: every line goes through
//! [`outln!`], and stdout closed by the reader (`| head -1`) ends the tool
//! at once, silently, with exit status 0 ([`ToolError::OutputClosed`]).
//! `--topic` of `kafka-topics --describe/--delete/--alter` and the console
//! consumer's `--include` are Kafka's topic regexes ([`TopicFilter`]).

pub mod acls;
pub mod broker_api_versions;
pub mod client_quotas;
pub mod configs;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod get_offsets;
pub mod leader_election;
pub mod log_dirs;
pub mod reassign_partitions;
pub mod topics;
pub mod transactions;
pub mod user_scram;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::{FindCoordinatorRequest, GroupId};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::client::{Client, ClientError, Connection};

/// Deadline for connecting and for each request when the tool has no
/// `--timeout-ms` of its own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Kafka's script names and the subcommand each one is.
pub const TOOL_NAMES: &[(&str, &str)] = &[
    ("kafka-topics", "topics"),
    ("kafka-console-producer", "console-producer"),
    ("kafka-console-consumer", "console-consumer"),
    ("kafka-consumer-groups", "consumer-groups"),
    ("kafka-configs", "configs"),
    ("kafka-get-offsets", "get-offsets"),
    ("kafka-broker-api-versions", "broker-api-versions"),
    ("kafka-log-dirs", "log-dirs"),
    ("kafka-transactions", "transactions"),
    ("kafka-leader-election", "leader-election"),
    ("kafka-reassign-partitions", "reassign-partitions"),
    ("kafka-acls", "acls"),
];

/// Why a tool failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("timed out after {ms} ms {what}")]
    Timeout { what: String, ms: u128 },
    #[error("{0}")]
    Usage(String),
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    #[error("{0}")]
    Failed(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The reader of stdout went away (`| head`): the tool stops, silently,
    /// with exit status 0.
    #[error("stdout closed")]
    OutputClosed,
}

/// Writes a line to stdout as `println!` does, but a closed or failing
/// stdout is a [`ToolError`] (`?`-returned by the macro), never a panic.
#[macro_export]
macro_rules! outln {
    () => { $crate::tools::write_out(format_args!("\n"))? };
    ($($arg:tt)*) => { $crate::tools::write_out(format_args!("{}\n", format_args!($($arg)*)))? };
}

/// Writes to stdout as `print!` does; errors as [`outln!`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::tools::write_out(format_args!($($arg)*))? };
}

/// Writes `args` to stdout (see [`outln!`]).
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<(), ToolError> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(output_error)
}

/// A write error on stdout: [`ToolError::OutputClosed`] for a broken pipe.
pub fn output_error(e: std::io::Error) -> ToolError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        ToolError::OutputClosed
    } else {
        ToolError::Io("cannot write to stdout".into(), e)
    }
}

/// Kafka's topic pattern (its `IncludeList`): `--topic` of `kafka-topics`
/// and the console consumer's `--include` are regular expressions matched
/// against the whole topic name; commas separate alternatives, quotes and
/// spaces around them are dropped (`'dev.*'`, `"a,b"`).
#[derive(Debug, Clone)]
pub struct TopicFilter {
    pattern: String,
    regex: regex::Regex,
}

impl TopicFilter {
    /// The filter of `pattern`, or a usage error naming `flag`.
    pub fn new(pattern: &str, flag: &str) -> Result<Self, ToolError> {
        let normal: String = pattern
            .trim()
            .trim_matches(|c| c == '\'' || c == '"')
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == ',' { '|' } else { c })
            .collect();
        let regex = regex::Regex::new(&format!("^(?:{normal})$")).map_err(|e| {
            ToolError::Usage(format!(
                "{flag} '{pattern}' is not a valid regular expression: {e}"
            ))
        })?;
        Ok(TopicFilter {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// Whether `topic` matches the whole pattern.
    pub fn matches(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern names exactly one topic (no regex syntax), so a
    /// request may name it directly.
    pub fn literal(&self) -> Option<&str> {
        let p = self.pattern.as_str();
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        (p.chars().all(plain) && !p.is_empty()).then_some(p)
    }
}

impl ToolError {
    /// A Kafka error code answered by the broker, with its name.
    pub fn broker(api: &'static str, code: i16, message: Option<&StrBytes>) -> Self {
        ToolError::Client(ClientError::Broker {
            api,
            code,
            message: message
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default(),
        })
    }
}

/// The console tools, as subcommands of `strom`.
#[derive(Debug, clap::Subcommand)]
pub enum ToolCommand {
    /// Create, delete, describe, alter or list topics (kafka-topics).
    Topics(topics::TopicsArgs),
    /// Read lines from stdin and produce them (kafka-console-producer).
    ConsoleProducer(console_producer::ProducerArgs),
    /// Print records of a topic to stdout (kafka-console-consumer).
    ConsoleConsumer(console_consumer::ConsumerArgs),
    /// List, describe, reset or delete consumer groups (kafka-consumer-groups).
    ConsumerGroups(consumer_groups::GroupsArgs),
    /// Describe or alter topic and broker configs (kafka-configs).
    Configs(configs::ConfigsArgs),
    /// Print partition offsets, `topic:partition:offset` (kafka-get-offsets).
    GetOffsets(get_offsets::GetOffsetsArgs),
    /// Print the API versions each broker supports (kafka-broker-api-versions).
    BrokerApiVersions(broker_api_versions::ApiVersionsArgs),
    /// Describe the brokers' log dirs (kafka-log-dirs).
    LogDirs(log_dirs::LogDirsArgs),
    /// Describe a partition's active producers (kafka-transactions).
    Transactions(transactions::TransactionsArgs),
    /// Elect partition leaders (kafka-leader-election).
    LeaderElection(leader_election::LeaderElectionArgs),
    /// List partition reassignments (kafka-reassign-partitions).
    ReassignPartitions(reassign_partitions::ReassignArgs),
    /// Add, remove or list ACLs (kafka-acls).
    Acls(acls::AclsArgs),
    /// Create symlinks named after Kafka's tools (kafka-topics, …) in DIR.
    InstallToolLinks {
        /// Directory for the links (created if missing).
        dir: std::path::PathBuf,
    },
}

/// Runs `cmd` on a current-thread runtime; the error is the one line to print.
pub fn run(cmd: ToolCommand) -> Result<(), ToolError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ToolError::Io("cannot start the async runtime".into(), e))?;
    runtime.block_on(async move {
        match cmd {
            ToolCommand::Topics(a) => topics::run(a).await,
            ToolCommand::ConsoleProducer(a) => console_producer::run(a).await,
            ToolCommand::ConsoleConsumer(a) => console_consumer::run(a).await,
            ToolCommand::ConsumerGroups(a) => consumer_groups::run(a).await,
            ToolCommand::Configs(a) => configs::run(a).await,
            ToolCommand::GetOffsets(a) => get_offsets::run(a).await,
            ToolCommand::BrokerApiVersions(a) => broker_api_versions::run(a).await,
            ToolCommand::LogDirs(a) => log_dirs::run(a).await,
            ToolCommand::Transactions(a) => transactions::run(a).await,
            ToolCommand::LeaderElection(a) => leader_election::run(a).await,
            ToolCommand::ReassignPartitions(a) => reassign_partitions::run(a).await,
            ToolCommand::Acls(a) => acls::run(a).await,
            ToolCommand::InstallToolLinks { dir } => install_links(&dir),
        }
    })
}

/// When the program is invoked as one of Kafka's tools (argv\[0\]'s file name
/// `kafka-topics` or `kafka-topics.sh`, …), puts that tool's subcommand
/// after argv\[0\]; any other invocation is returned unchanged.
pub fn rewrite_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let sub = args.first().and_then(|a0| {
        let name = Path::new(a0).file_name()?.to_str()?;
        let name = name.strip_suffix(".sh").unwrap_or(name);
        TOOL_NAMES
            .iter()
            .find(|(kafka, _)| *kafka == name)
            .map(|(_, sub)| *sub)
    });
    if let Some(sub) = sub {
        args.insert(1.min(args.len()), OsString::from(sub));
    }
    args
}

/// The Kafka tool name (`kafka-topics`) that `args` (as [`rewrite_args`]
/// returns them) were invoked as, if any.
pub fn invoked_as(args: &[OsString]) -> Option<&'static str> {
    let a0 = Path::new(args.first()?).file_name()?.to_str()?;
    let name = a0.strip_suffix(".sh").unwrap_or(a0);
    TOOL_NAMES
        .iter()
        .find(|(kafka, _)| *kafka == name)
        .map(|(kafka, _)| *kafka)
}

/// Creates `DIR/kafka-*` and `DIR/kafka-*.sh` symlinks to this executable.
fn install_links(dir: &Path) -> Result<(), ToolError> {
    let exe = std::env::current_exe()
        .map_err(|e| ToolError::Io("cannot find this executable".into(), e))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| ToolError::Io(format!("cannot create {}", dir.display()), e))?;
    for (name, _) in TOOL_NAMES {
        for link in [dir.join(name), dir.join(format!("{name}.sh"))] {
            if link.symlink_metadata().is_ok() {
                std::fs::remove_file(&link)
                    .map_err(|e| ToolError::Io(format!("cannot replace {}", link.display()), e))?;
            }
            std::os::unix::fs::symlink(&exe, &link)
                .map_err(|e| ToolError::Io(format!("cannot create {}", link.display()), e))?;
            crate::outln!("{} -> {}", link.display(), exe.display());
        }
    }
    Ok(())
}

/// `fut` within `timeout`, else [`ToolError::Timeout`] naming `what`.
pub async fn deadline<T, E: Into<ToolError>>(
    timeout: Duration,
    what: impl Into<String>,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, ToolError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(ToolError::Timeout {
            what: what.into(),
            ms: timeout.as_millis(),
        }),
    }
}

/// Connects to the bootstrap servers within `timeout`. An address without a
/// port, or one that answers in another protocol, is a one-line usage error
/// saying what `--bootstrap-server` takes.
pub async fn connect(
    bootstrap: &str,
    client_id: &str,
    timeout: Duration,
) -> Result<Client, ToolError> {
    let result = deadline(
        timeout,
        format!("connecting to {bootstrap}"),
        Client::connect(bootstrap, client_id, 4),
    )
    .await;
    result.map_err(|e| match e {
        ToolError::Client(e @ ClientError::BadAddress { .. }) => ToolError::Usage(format!(
            "--bootstrap-server {bootstrap}: {e}; give host:port, e.g. localhost:9092"
        )),
        ToolError::Client(e @ ClientError::NotKafka { .. }) => ToolError::Usage(format!(
            "{e}: --bootstrap-server takes a Kafka listener (the broker's listeners, e.g. port 9092), \
             not metrics.listener or console.listener"
        )),
        e => e,
    })
}

/// Parses `k=v` pairs (`--property`, `--config`, …), later ones winning.
pub fn parse_props(items: &[String], flag: &str) -> Result<BTreeMap<String, String>, ToolError> {
    let mut out = BTreeMap::new();
    for item in items {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| ToolError::Usage(format!("{flag} expects key=value, got '{item}'")))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

/// A `k=v` property parsed as a number.
pub fn num_prop<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, ToolError> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ToolError::Usage(format!("invalid value '{v}' for {key}"))),
    }
}

/// A group id for a request.
pub fn group_id(name: &str) -> GroupId {
    GroupId(StrBytes::from_string(name.to_string()))
}

/// A string for a request.
pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The node id of `group`'s coordinator (FindCoordinator, retried while the
/// coordinator is loading).
pub async fn find_coordinator(client: &mut Client, group: &str) -> Result<i32, ToolError> {
    loop {
        let conn = client.any();
        let version = conn.version_for::<FindCoordinatorRequest>(0)?;
        let mut req = FindCoordinatorRequest::default().with_key_type(0);
        if version >= 4 {
            req.coordinator_keys = vec![str_bytes(group)];
        } else {
            req.key = str_bytes(group);
        }
        let resp = conn.send(req, version).await?;
        let (code, node, message) = match resp.coordinators.first() {
            Some(c) if version >= 4 => (c.error_code, c.node_id.0, c.error_message.clone()),
            _ => (resp.error_code, resp.node_id.0, resp.error_message),
        };
        if code == ResponseError::CoordinatorNotAvailable.code()
            || code == ResponseError::CoordinatorLoadInProgress.code()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if code != 0 {
            return Err(ToolError::broker("FindCoordinator", code, message.as_ref()));
        }
        return Ok(node);
    }
}

/// The connection to `group`'s coordinator.
pub async fn coordinator<'a>(
    client: &'a mut Client,
    group: &str,
) -> Result<&'a mut Connection, ToolError> {
    let node = find_coordinator(client, group).await?;
    Ok(client.broker(node).await?)
}

pub use crate::util::{murmur2, partition_for_key};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_become_subcommands() {
        let args = rewrite_args(["/usr/bin/kafka-topics.sh", "--list"].map(OsString::from));
        assert_eq!(args, ["/usr/bin/kafka-topics.sh", "topics", "--list"]);
        let args = rewrite_args(["kafka-console-consumer", "--topic", "t"].map(OsString::from));
        assert_eq!(args[1], "console-consumer");
        let args = rewrite_args(["strom", "server"].map(OsString::from));
        assert_eq!(args, ["strom", "server"]);
    }

    #[test]
    fn topic_patterns_are_kafka_regexes() {
        let f = TopicFilter::new("'dev.*'", "--topic").unwrap();
        assert!(f.matches("dev.events") && f.matches("dev") && !f.matches("prod.dev"));
        let f = TopicFilter::new("a, b", "--topic").unwrap();
        assert!(f.matches("a") && f.matches("b") && !f.matches("ab"));
        assert_eq!(
            TopicFilter::new("t-1_x", "--topic").unwrap().literal(),
            Some("t-1_x")
        );
        assert_eq!(TopicFilter::new("t.1", "--topic").unwrap().literal(), None);
        let e = TopicFilter::new("(", "--include").unwrap_err().to_string();
        assert!(
            e.starts_with("--include '(' is not a valid regular expression"),
            "{e}"
        );
    }
}
