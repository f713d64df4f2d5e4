//! `strom broker-api-versions` / `kafka-broker-api-versions`: each broker's
//! ApiVersions answer in Kafka's `BrokerApiVersionsCommand` format, with the
//! version this client would use (`usable`).

use std::time::Duration;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};

use super::{connect, deadline, str_bytes, ToolError};

/// kafka-broker-api-versions' flags.
#[derive(Debug, clap::Args)]
pub struct ApiVersionsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

pub async fn run(args: ApiVersionsArgs) -> Result<(), ToolError> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-broker-api-versions", timeout).await?;
    let meta = deadline(timeout, "reading metadata", client.metadata(&[])).await?;
    let mut brokers: Vec<_> = meta.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id.0);
    for b in brokers {
        let id = b.node_id.0;
        let conn = deadline(
            timeout,
            format!("connecting to broker {id}"),
            client.broker(id),
        )
        .await?;
        let req = ApiVersionsRequest::default()
            .with_client_software_name(str_bytes("strom"))
            .with_client_software_version(str_bytes(env!("CARGO_PKG_VERSION")));
        let resp = deadline(timeout, "asking ApiVersions", conn.send(req, 0)).await?;
        if resp.error_code != 0 {
            return Err(ToolError::broker("ApiVersions", resp.error_code, None));
        }
        let rack = b
            .rack
            .as_ref()
            .map_or("null".to_string(), |r| r.to_string());
        crate::outln!(
            "{}:{} (id: {id} rack: {rack}) -> (",
            b.host.as_str(),
            b.port
        );
        let n = resp.api_keys.len();
        for (i, k) in resp.api_keys.iter().enumerate() {
            let (name, usable) = match ApiKey::try_from(k.api_key) {
                Ok(key) => {
                    let ours = key.valid_versions();
                    let usable = if ours.max < k.min_version || ours.min > k.max_version {
                        "NONE".to_string()
                    } else {
                        ours.max.min(k.max_version).to_string()
                    };
                    (format!("{key:?}"), usable)
                }
                Err(_) => (format!("UNKNOWN({})", k.api_key), "NONE".to_string()),
            };
            let sep = if i + 1 < n { "," } else { "" };
            crate::outln!(
                "\t{name}({}): {} to {} [usable: {usable}]{sep}",
                k.api_key,
                k.min_version,
                k.max_version
            );
        }
        crate::outln!(")");
    }
    Ok(())
}
