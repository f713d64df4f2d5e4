//! TLS with rustls from Kafka's `ssl.*` properties: PEM keystores and
//! truststores as Kafka ≥ 2.7 accepts them (`ssl.keystore.type=PEM` with
//! `ssl.keystore.location`, a file holding the private key and the
//! certificate chain, or inline `ssl.keystore.certificate.chain` +
//! `ssl.keystore.key`; `ssl.truststore.type=PEM` with
//! `ssl.truststore.location` or inline `ssl.truststore.certificates`),
//! `ssl.client.auth=none|requested|required`, `ssl.enabled.protocols`
//! (TLSv1.2, TLSv1.3) and `ssl.cipher.suites` (IANA names, as Java and
//! Kafka spell them).
//!
//! Invariants: a [`TlsServer`] always holds a working server config; a
//! reload that fails (a half-written file, a key that does not match)
//! keeps the old one and logs why. Connections keep the config they
//! were accepted with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::{Props, SecurityError};

/// `ssl.client.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// Where PEM material comes from.
#[derive(Clone, Debug)]
enum Pem {
    File { key: &'static str, path: PathBuf },
    Inline { key: &'static str, text: String },
}

impl Pem {
    fn read(&self) -> Result<Vec<u8>, SecurityError> {
        match self {
            Pem::File { key, path } => std::fs::read(path).map_err(|source| SecurityError::Read {
                key: key.to_string(),
                path: path.display().to_string(),
                source,
            }),
            Pem::Inline { text, .. } => Ok(text.as_bytes().to_vec()),
        }
    }

    fn path(&self) -> Option<&PathBuf> {
        match self {
            Pem::File { path, .. } => Some(path),
            Pem::Inline { .. } => None,
        }
    }
}

/// The settings of one side's TLS, read once from the properties.
#[derive(Clone, Debug)]
struct TlsSettings {
    /// Key and chain: one file, or two inline PEM values.
    keystore: Option<(Pem, Pem)>,
    truststore: Option<Pem>,
    client_auth: ClientAuth,
    protocols: Vec<&'static SupportedProtocolVersion>,
    cipher_suites: Option<Vec<String>>,
}

fn require_pem_type(props: &dyn Props, key: &'static str) -> Result<(), SecurityError> {
    let ty = props.get(key).unwrap_or_else(|| "JKS".into());
    if ty.trim().eq_ignore_ascii_case("PEM") {
        Ok(())
    } else {
        Err(SecurityError::config(
            key,
            format!("strom reads PEM keystores and truststores only (set {key}=PEM), not {ty}"),
        ))
    }
}

impl TlsSettings {
    fn from_props(props: &dyn Props, server: bool) -> Result<TlsSettings, SecurityError> {
        let keystore = match (
            props.get("ssl.keystore.location"),
            props.get("ssl.keystore.certificate.chain"),
            props.get("ssl.keystore.key"),
        ) {
            (Some(path), None, None) => {
                let path = PathBuf::from(path.trim());
                Some((
                    Pem::File {
                        key: "ssl.keystore.location",
                        path: path.clone(),
                    },
                    Pem::File {
                        key: "ssl.keystore.location",
                        path,
                    },
                ))
            }
            (None, Some(chain), Some(key)) => Some((
                Pem::Inline {
                    key: "ssl.keystore.key",
                    text: key,
                },
                Pem::Inline {
                    key: "ssl.keystore.certificate.chain",
                    text: chain,
                },
            )),
            (None, None, None) => None,
            (Some(_), _, _) => {
                return Err(SecurityError::config(
                    "ssl.keystore.location",
                    "set either ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key, not both",
                ))
            }
            _ => {
                return Err(SecurityError::config(
                    "ssl.keystore.certificate.chain",
                    "ssl.keystore.certificate.chain and ssl.keystore.key go together",
                ))
            }
        };
        if keystore.is_some() {
            require_pem_type(props, "ssl.keystore.type")?;
        } else if server {
            return Err(SecurityError::config(
                "ssl.keystore.location",
                "a TLS listener needs a keystore (ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)",
            ));
        }
        let truststore =
            match (
                props.get("ssl.truststore.location"),
                props.get("ssl.truststore.certificates"),
            ) {
                (Some(path), None) => Some(Pem::File {
                    key: "ssl.truststore.location",
                    path: PathBuf::from(path.trim()),
                }),
                (None, Some(text)) => Some(Pem::Inline {
                    key: "ssl.truststore.certificates",
                    text,
                }),
                (None, None) => None,
                (Some(_), Some(_)) => return Err(SecurityError::config(
                    "ssl.truststore.location",
                    "set either ssl.truststore.location or ssl.truststore.certificates, not both",
                )),
            };
        if truststore.is_some() {
            require_pem_type(props, "ssl.truststore.type")?;
        }
        let client_auth = match props
            .get("ssl.client.auth")
            .unwrap_or_else(|| "none".into())
            .trim()
        {
            "none" => ClientAuth::None,
            "requested" => ClientAuth::Requested,
            "required" => ClientAuth::Required,
            other => {
                return Err(SecurityError::config(
                    "ssl.client.auth",
                    format!("must be none, requested or required, not {other}"),
                ))
            }
        };
        if server && client_auth != ClientAuth::None && truststore.is_none() {
            return Err(SecurityError::config(
                "ssl.truststore.location",
                "ssl.client.auth requested or required needs a truststore to verify client certificates",
            ));
        }
        if !server && truststore.is_none() {
            return Err(SecurityError::config(
                "ssl.truststore.location",
                "strom's client verifies the broker's certificate: set ssl.truststore.location (PEM)",
            ));
        }
        let mut protocols = Vec::new();
        for p in list(
            &props
                .get("ssl.enabled.protocols")
                .unwrap_or_else(|| "TLSv1.2,TLSv1.3".into()),
        ) {
            match p.as_str() {
                "TLSv1.2" => protocols.push(&rustls::version::TLS12),
                "TLSv1.3" => protocols.push(&rustls::version::TLS13),
                other => tracing::warn!(
                    protocol = other,
                    "ssl.enabled.protocols: only TLSv1.2 and TLSv1.3 are offered; ignoring {other}"
                ),
            }
        }
        if protocols.is_empty() {
            return Err(SecurityError::config(
                "ssl.enabled.protocols",
                "none of TLSv1.2, TLSv1.3 is enabled",
            ));
        }
        let cipher_suites = props.get("ssl.cipher.suites").map(|v| list(&v));
        let settings = TlsSettings {
            keystore,
            truststore,
            client_auth,
            protocols,
            cipher_suites,
        };
        settings.provider()?;
        Ok(settings)
    }

    /// The ring provider, restricted to `ssl.cipher.suites` when set.
    fn provider(&self) -> Result<Arc<CryptoProvider>, SecurityError> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(wanted) = &self.cipher_suites {
            let mut chosen = Vec::new();
            for name in wanted {
                let found = provider
                    .cipher_suites
                    .iter()
                    .find(|s| suite_name(s) == *name)
                    .copied();
                match found {
                    Some(s) => chosen.push(s),
                    None => {
                        let known: Vec<String> =
                            provider.cipher_suites.iter().map(suite_name).collect();
                        return Err(SecurityError::config(
                            "ssl.cipher.suites",
                            format!(
                                "unknown or unsupported suite {name}; supported: {}",
                                known.join(",")
                            ),
                        ));
                    }
                }
            }
            provider.cipher_suites = chosen;
        }
        Ok(Arc::new(provider))
    }

    fn key_and_chain(
        &self,
    ) -> Result<Option<(PrivateKeyDer<'static>, Vec<CertificateDer<'static>>)>, SecurityError> {
        let Some((key_src, chain_src)) = &self.keystore else {
            return Ok(None);
        };
        let key_pem = key_src.read()?;
        let chain_pem = chain_src.read()?;
        let key_name = match key_src {
            Pem::File { key, .. } | Pem::Inline { key, .. } => *key,
        };
        if key_pem
            .windows(b"ENCRYPTED PRIVATE KEY".len())
            .any(|w| w == b"ENCRYPTED PRIVATE KEY")
        {
            return Err(SecurityError::config(
                key_name,
                "encrypted private keys are not supported: decrypt it (openssl pkey -in key.pem -out plain.pem)",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            SecurityError::config(key_name, format!("no usable PEM private key: {e}"))
        })?;
        let chain = certificates(&chain_pem, key_name)?;
        Ok(Some((key, chain)))
    }

    fn roots(&self) -> Result<Option<RootCertStore>, SecurityError> {
        let Some(src) = &self.truststore else {
            return Ok(None);
        };
        let key = match src {
            Pem::File { key, .. } | Pem::Inline { key, .. } => *key,
        };
        let mut roots = RootCertStore::empty();
        for cert in certificates(&src.read()?, key)? {
            roots
                .add(cert)
                .map_err(|e| SecurityError::config(key, format!("unusable certificate: {e}")))?;
        }
        Ok(Some(roots))
    }

    fn server_config(&self) -> Result<ServerConfig, SecurityError> {
        let provider = self.provider()?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.protocols)
            .map_err(|e| SecurityError::config("ssl.enabled.protocols", e.to_string()))?;
        let builder =
            match (self.client_auth, self.roots()?) {
                (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
                (auth, Some(roots)) => {
                    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    );
                    let verifier = if auth == ClientAuth::Requested {
                        verifier.allow_unauthenticated()
                    } else {
                        verifier
                    };
                    builder.with_client_cert_verifier(verifier.build().map_err(|e| {
                        SecurityError::config("ssl.truststore.location", e.to_string())
                    })?)
                }
            };
        let (key, chain) = self.key_and_chain()?.ok_or_else(|| {
            SecurityError::config("ssl.keystore.location", "a TLS listener needs a keystore")
        })?;
        builder
            .with_single_cert(chain, key)
            .map_err(|e| SecurityError::config("ssl.keystore.location", e.to_string()))
    }

    fn client_config(&self) -> Result<ClientConfig, SecurityError> {
        let builder = ClientConfig::builder_with_provider(self.provider()?)
            .with_protocol_versions(&self.protocols)
            .map_err(|e| SecurityError::config("ssl.enabled.protocols", e.to_string()))?
            .with_root_certificates(self.roots()?.unwrap_or_else(RootCertStore::empty));
        match self.key_and_chain()? {
            Some((key, chain)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SecurityError::config("ssl.keystore.location", e.to_string())),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if let Some((k, c)) = &self.keystore {
            out.extend(k.path().cloned());
            out.extend(c.path().cloned());
        }
        if let Some(t) = &self.truststore {
            out.extend(t.path().cloned());
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The IANA name of a suite (`TLS_AES_128_GCM_SHA256`, `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`).
fn suite_name(s: &rustls::SupportedCipherSuite) -> String {
    let debug = format!("{:?}", s.suite());
    match debug.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => debug,
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn certificates(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| SecurityError::config(key, format!("unreadable PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(SecurityError::config(key, "no PEM certificate found"));
    }
    Ok(certs)
}

/// Modification time and length of each watched file.
type Stamps = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn stamps(files: &[PathBuf]) -> Stamps {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok();
            (
                f.clone(),
                meta.and_then(|m| Some((m.modified().ok()?, m.len()))),
            )
        })
        .collect()
}

/// A listener's TLS: the server config in force, swapped when the keystore
/// or truststore files change.
pub struct TlsServer {
    settings: TlsSettings,
    config: ArcSwap<ServerConfig>,
    stamps: parking_lot::Mutex<Stamps>,
}

impl TlsServer {
    /// Reads the listener's `ssl.*` properties and its PEM files (blocking file reads).
    pub fn from_props(props: &dyn Props) -> Result<TlsServer, SecurityError> {
        let settings = TlsSettings::from_props(props, true)?;
        let files = settings.files();
        let before = stamps(&files);
        let config = settings.server_config()?;
        Ok(TlsServer {
            settings,
            config: ArcSwap::from_pointee(config),
            stamps: parking_lot::Mutex::new(before),
        })
    }

    /// The server config new connections use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    /// Whether `ssl.client.auth` asks for client certificates.
    pub fn client_auth(&self) -> ClientAuth {
        self.settings.client_auth
    }

    /// Re-reads the files when one changed since the last look (blocking):
    /// `Ok(true)` when a new config is in force, `Err` (old config kept)
    /// when the new files do not make one.
    pub fn reload_if_changed(&self) -> Result<bool, SecurityError> {
        let files = self.settings.files();
        let now = stamps(&files);
        {
            let mut last = self.stamps.lock();
            if *last == now {
                return Ok(false);
            }
            *last = now;
        }
        let config = self.settings.server_config()?;
        self.config.store(Arc::new(config));
        Ok(true)
    }
}

/// A client's TLS (strom's tools): the config and the name to verify.
pub fn client_config(props: &dyn Props) -> Result<Arc<ClientConfig>, SecurityError> {
    Ok(Arc::new(
        TlsSettings::from_props(props, false)?.client_config()?,
    ))
}

/// The server name a client verifies for `host`.
pub fn server_name(host: &str) -> Result<ServerName<'static>, SecurityError> {
    ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| SecurityError::config("bootstrap.servers", format!("{host}: {e}")))
}
