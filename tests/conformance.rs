//! Advertised = served: for every (API, version) in strom's router table
//! (`strom::protocol::APIS`, the source of its ApiVersions answer), a valid
//! request with realistic content goes to the real binary over TCP and its
//! response must decode at that version with the expected error codes. A
//! registered API without a case here fails the test, so adding an API adds
//! its row.
//!
//! Requests are built with kafka-protocol. For the oldest versions, which
//! kafka-protocol 0.18 no longer encodes (it follows Kafka 4.0, KIP-896), the
//! body is built from the next version of the same layout, and the answer is
//! read by the small reader below.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const TOPIC: &str = "conformance";
const NONE: i16 = 0;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The broker under test; killed on drop.
struct Strom {
    child: Child,
    port: u16,
}

impl Drop for Strom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Strom {
    let port = free_port();
    let metrics = free_port();
    let log = std::fs::File::create(dir.join("strom.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_strom"))
        .arg("server")
        .args([
            "--override",
            &format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        ])
        .args([
            "--override",
            &format!("advertised.listeners=PLAINTEXT://127.0.0.1:{port}"),
        ])
        .args([
            "--override",
            &format!("log.dirs={}", dir.join("data").display()),
        ])
        .args([
            "--override",
            &format!("metrics.listener=127.0.0.1:{metrics}"),
        ])
        .args(["--override", "auto.create.topics.enable=false"])
        .args(["--override", "group.initial.rebalance.delay.ms=0"])
        // Every request goes through the authorizer, as a super user; the
        // ACL APIs then do real work.
        .args([
            "--override",
            "authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
        ])
        .args(["--override", "super.users=User:ANONYMOUS"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start target/release/strom");
    let strom = Strom { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut c) = Conn::open(port) {
            if c.round_trip::<ApiVersionsRequest>(0, &ApiVersionsRequest::default())
                .is_ok()
            {
                return strom;
            }
        }
        assert!(
            Instant::now() < deadline,
            "strom did not start: see {}",
            dir.join("strom.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            stream,
            correlation: 0,
        })
    }

    /// Sends `body` as `key` v`version`; returns the response body (after its header).
    fn raw(&mut self, key: ApiKey, version: i16, body: &[u8]) -> Result<Bytes, String> {
        self.correlation += 1;
        let mut frame = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(s("conformance")))
            .encode(&mut frame, key.request_header_version(version))
            .map_err(|e| e.to_string())?;
        frame.extend_from_slice(body);
        let len = (frame.len() as i32).to_be_bytes();
        self.stream.write_all(&len).map_err(|e| e.to_string())?;
        self.stream.write_all(&frame).map_err(|e| e.to_string())?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| {
            format!("{key:?} v{version}: no response ({e}): the connection was closed")
        })?;
        let mut response = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream
            .read_exact(&mut response)
            .map_err(|e| e.to_string())?;
        let mut response = Bytes::from(response);
        let header_version = if key == ApiKey::ApiVersions {
            0
        } else {
            key.response_header_version(version)
        };
        let header =
            ResponseHeader::decode(&mut response, header_version).map_err(|e| e.to_string())?;
        if header.correlation_id != self.correlation {
            return Err(format!(
                "{key:?} v{version}: correlation id {} != {}",
                header.correlation_id, self.correlation
            ));
        }
        Ok(response)
    }

    fn round_trip<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response, String> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| "key".to_string())?;
        let mut body = BytesMut::new();
        request
            .encode(&mut body, version)
            .map_err(|e| format!("{key:?} v{version}: encode: {e}"))?;
        let mut response = self.raw(key, version, &body)?;
        let decoded = R::Response::decode(&mut response, version)
            .map_err(|e| format!("{key:?} v{version}: decode: {e}"))?;
        if !response.is_empty() {
            return Err(format!(
                "{key:?} v{version}: {} bytes left after the response",
                response.len()
            ));
        }
        Ok(decoded)
    }

    /// A legacy version: the body is `request` encoded at `as_version` and
    /// edited by `edit`; the response body is returned raw.
    fn legacy<R: Request>(
        &mut self,
        version: i16,
        as_version: i16,
        request: &R,
        edit: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Bytes, String> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| "key".to_string())?;
        let mut body = BytesMut::new();
        request
            .encode(&mut body, as_version)
            .map_err(|e| e.to_string())?;
        let mut body = body.to_vec();
        edit(&mut body);
        self.raw(key, version, &body)
    }
}

/// The classic encoding's reader, for the answers kafka-protocol cannot decode.
struct Rd(Bytes);

impl Rd {
    fn take(&mut self, n: usize) -> Bytes {
        assert!(self.0.len() >= n, "response truncated");
        self.0.split_to(n)
    }
    fn i8(&mut self) -> i8 {
        self.take(1)[0] as i8
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2)[..].try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4)[..].try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8)[..].try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.i16();
        if n < 0 {
            return String::new();
        }
        String::from_utf8(self.take(n as usize).to_vec()).unwrap()
    }
    fn bytes(&mut self) -> Bytes {
        let n = self.i32();
        if n < 0 {
            return Bytes::new();
        }
        self.take(n as usize)
    }
    fn bool(&mut self) -> bool {
        self.take(1)[0] != 0
    }
    fn end(&self) {
        assert!(
            self.0.is_empty(),
            "{} bytes left after the response",
            self.0.len()
        );
    }
}

/// An int16-length string, as the classic encoding writes it.
fn put_str(out: &mut Vec<u8>, v: &str) {
    out.extend_from_slice(&(v.len() as i16).to_be_bytes());
    out.extend_from_slice(v.as_bytes());
}

fn records() -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode records");
    buf.freeze()
}

fn create_topic(name: &str, partitions: i32) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000)
}

fn topic_resource(name: &str) -> describe_configs_request::DescribeConfigsResource {
    describe_configs_request::DescribeConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s(name))
        .with_configuration_keys(None)
}

/// Joins `group` alone and returns (member id, generation).
fn join(c: &mut Conn, group: &str) -> (String, i32) {
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
        )
        .with_name(s("range"))
        .with_metadata(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))]);
    let r = c.round_trip(3, &request).expect("JoinGroup v3");
    assert_eq!(r.error_code, NONE, "JoinGroup");
    (r.member_id.to_string(), r.generation_id)
}

/// Serves one (API, version) and checks the answer; Err says what is wrong.
fn check(c: &mut Conn, key: ApiKey, v: i16, topic_id: uuid::Uuid) -> Result<(), String> {
    let expect = |what: &str, got: i16, want: i16| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{key:?} v{v}: {what} error {got}, want {want}"))
        }
    };
    match key {
        ApiKey::Produce => {
            let request = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(10_000)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(records())),
                    ])]);
            if v >= 3 {
                let r = c.round_trip(v, &request)?;
                return expect(
                    "partition",
                    r.responses[0].partition_responses[0].error_code,
                    NONE,
                );
            }
            // v0-v2: v3's body without the transactional id. The answer's shape is
            // checked; the error code is the record-format conversion's to give
            // (magic-2 batches in an old request).
            let mut r = Rd(c.legacy(v, 3, &request, |b| {
                b.drain(..2);
            })?);
            assert_eq!(r.i32(), 1);
            assert_eq!(r.string(), TOPIC);
            assert_eq!(r.i32(), 1);
            assert_eq!(r.i32(), 0);
            let _error = r.i16();
            let _base_offset = r.i64();
            if v >= 2 {
                r.i64();
            }
            if v >= 1 {
                r.i32();
            }
            r.end();
            Ok(())
        }
        ApiKey::Fetch => {
            if v >= 4 {
                let topic = fetch_request::FetchTopic::default()
                    .with_topic(TopicName(s(TOPIC)))
                    .with_topic_id(topic_id)
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20)]);
                let request = FetchRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_max_wait_ms(0)
                    .with_min_bytes(0)
                    .with_max_bytes(1 << 20)
                    .with_session_epoch(-1)
                    .with_topics(vec![topic]);
                let r = c.round_trip(v, &request)?;
                expect("top-level", r.error_code, NONE)?;
                let p = &r.responses[0].partitions[0];
                expect("partition", p.error_code, NONE)?;
                if p.high_watermark < 1 {
                    return Err(format!("Fetch v{v}: high watermark {}", p.high_watermark));
                }
                return Ok(());
            }
            let mut body = Vec::new();
            body.extend_from_slice(&(-1i32).to_be_bytes());
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&0i32.to_be_bytes());
            if v >= 3 {
                body.extend_from_slice(&(1i32 << 20).to_be_bytes());
            }
            body.extend_from_slice(&1i32.to_be_bytes());
            body.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
            body.extend_from_slice(TOPIC.as_bytes());
            body.extend_from_slice(&1i32.to_be_bytes());
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&0i64.to_be_bytes());
            body.extend_from_slice(&(1i32 << 20).to_be_bytes());
            let mut r = Rd(c.raw(key, v, &body)?);
            if v >= 1 {
                r.i32();
            }
            assert_eq!(r.i32(), 1);
            assert_eq!(r.string(), TOPIC);
            assert_eq!(r.i32(), 1);
            assert_eq!(r.i32(), 0);
            expect("partition", r.i16(), NONE)?;
            assert!(r.i64() >= 1, "high watermark");
            r.bytes();
            r.end();
            Ok(())
        }
        ApiKey::ListOffsets => {
            if v == 0 {
                let mut body = Vec::new();
                body.extend_from_slice(&(-1i32).to_be_bytes());
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
                body.extend_from_slice(TOPIC.as_bytes());
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(&0i32.to_be_bytes());
                body.extend_from_slice(&(-1i64).to_be_bytes());
                body.extend_from_slice(&10i32.to_be_bytes());
                let mut r = Rd(c.raw(key, v, &body)?);
                assert_eq!(r.i32(), 1);
                assert_eq!(r.string(), TOPIC);
                assert_eq!(r.i32(), 1);
                assert_eq!(r.i32(), 0);
                expect("partition", r.i16(), NONE)?;
                let n = r.i32();
                let offsets: Vec<i64> = (0..n).map(|_| r.i64()).collect();
                r.end();
                // Latest: the log end offset first, then the segment's base.
                if offsets.first().is_none_or(|&o| o < 1) || offsets.last() != Some(&0) {
                    return Err(format!("ListOffsets v0: offsets {offsets:?}"));
                }
                return Ok(());
            }
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ])]);
            let r = c.round_trip(v, &request)?;
            let p = &r.topics[0].partitions[0];
            expect("partition", p.error_code, NONE)?;
            if p.offset < 1 {
                return Err(format!("ListOffsets v{v}: latest offset {}", p.offset));
            }
            Ok(())
        }
        ApiKey::Metadata => {
            let request = MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
                )
                .with_name(Some(TopicName(s(TOPIC))))]));
            let r = c.round_trip(v, &request)?;
            expect("topic", r.topics[0].error_code, NONE)
        }
        ApiKey::ApiVersions => {
            let request = ApiVersionsRequest::default()
                .with_client_software_name(s("conformance"))
                .with_client_software_version(s("1.0"));
            let r = c.round_trip(v, &request)?;
            expect("top-level", r.error_code, NONE)?;
            for api in strom::protocol::APIS {
                let row = r.api_keys.iter().find(|k| k.api_key == api.key as i16);
                if row.map(|k| (k.min_version, k.max_version)) != Some((api.min, api.max)) {
                    return Err(format!("ApiVersions v{v}: row of {:?} is {row:?}", api.key));
                }
            }
            Ok(())
        }
        ApiKey::CreateTopics => {
            let request = create_topic(&format!("created-v{v}"), 1);
            let error = match v {
                0 => {
                    let mut r = Rd(c.legacy(v, 2, &request, |b| {
                        b.pop(); // validate_only came with v1
                    })?);
                    assert_eq!(r.i32(), 1);
                    r.string();
                    let e = r.i16();
                    r.end();
                    e
                }
                1 => {
                    let body = c.legacy(v, 2, &request, |_| {})?;
                    let mut as_v2 = BytesMut::from(&[0u8; 4][..]);
                    as_v2.extend_from_slice(&body);
                    let r = CreateTopicsResponse::decode(&mut as_v2.freeze(), 2)
                        .map_err(|e| e.to_string())?;
                    r.topics[0].error_code
                }
                _ => c.round_trip(v, &request)?.topics[0].error_code,
            };
            expect("topic", error, NONE)
        }
        ApiKey::DeleteTopics => {
            let name = format!("doomed-v{v}");
            let created = c.round_trip(7, &create_topic(&name, 1))?;
            expect("CreateTopics", created.topics[0].error_code, NONE)?;
            let request = DeleteTopicsRequest::default().with_timeout_ms(10_000);
            let request = if v >= 6 {
                request.with_topics(vec![delete_topics_request::DeleteTopicState::default()
                    .with_name(Some(TopicName(s(&name))))])
            } else {
                request.with_topic_names(vec![TopicName(s(&name))])
            };
            let error = if v == 0 {
                let body = c.legacy(v, 1, &request, |_| {})?;
                let mut as_v1 = BytesMut::from(&[0u8; 4][..]);
                as_v1.extend_from_slice(&body);
                DeleteTopicsResponse::decode(&mut as_v1.freeze(), 1)
                    .map_err(|e| e.to_string())?
                    .responses[0]
                    .error_code
            } else {
                c.round_trip(v, &request)?.responses[0].error_code
            };
            expect("topic", error, NONE)
        }
        ApiKey::DescribeConfigs => {
            let request =
                DescribeConfigsRequest::default().with_resources(vec![topic_resource(TOPIC)]);
            if v == 0 {
                let mut r = Rd(c.legacy(v, 1, &request, |b| {
                    b.pop(); // include_synonyms came with v1
                })?);
                r.i32();
                assert_eq!(r.i32(), 1);
                expect("resource", r.i16(), NONE)?;
                r.string();
                r.take(1);
                assert_eq!(r.string(), TOPIC);
                let n = r.i32();
                let mut names = Vec::new();
                for _ in 0..n {
                    names.push(r.string());
                    r.string();
                    r.bool();
                    r.bool();
                    r.bool();
                }
                r.end();
                if !names.iter().any(|n| n == "retention.ms") {
                    return Err(format!("DescribeConfigs v0: no retention.ms in {names:?}"));
                }
                return Ok(());
            }
            let r = c.round_trip(v, &request)?;
            expect("resource", r.results[0].error_code, NONE)
        }
        ApiKey::AlterConfigs => {
            let request = AlterConfigsRequest::default().with_resources(vec![
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s(TOPIC))
                    .with_configs(vec![alter_configs_request::AlterableConfig::default()
                        .with_name(s("retention.ms"))
                        .with_value(Some(s("86400000")))]),
            ]);
            expect(
                "resource",
                c.round_trip(v, &request)?.responses[0].error_code,
                NONE,
            )
        }
        ApiKey::IncrementalAlterConfigs => {
            let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s(TOPIC))
                    .with_configs(vec![
                        incremental_alter_configs_request::AlterableConfig::default()
                            .with_name(s("retention.ms"))
                            .with_config_operation(0)
                            .with_value(Some(s("86400000"))),
                    ]),
            ]);
            expect(
                "resource",
                c.round_trip(v, &request)?.responses[0].error_code,
                NONE,
            )
        }
        ApiKey::CreatePartitions => {
            let name = format!("grown-v{v}");
            expect(
                "CreateTopics",
                c.round_trip(7, &create_topic(&name, 1))?.topics[0].error_code,
                NONE,
            )?;
            let request = CreatePartitionsRequest::default()
                .with_topics(vec![
                    create_partitions_request::CreatePartitionsTopic::default()
                        .with_name(TopicName(s(&name)))
                        .with_count(2)
                        .with_assignments(None),
                ])
                .with_timeout_ms(10_000);
            expect(
                "topic",
                c.round_trip(v, &request)?.results[0].error_code,
                NONE,
            )
        }
        ApiKey::DescribeCluster => {
            let r = c.round_trip(v, &DescribeClusterRequest::default())?;
            expect("top-level", r.error_code, NONE)?;
            if r.controller_id.0 < 0 || r.brokers.is_empty() {
                return Err(format!(
                    "DescribeCluster v{v}: controller {:?}",
                    r.controller_id
                ));
            }
            Ok(())
        }
        ApiKey::DeleteRecords => {
            let request = DeleteRecordsRequest::default()
                .with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partitions(vec![
                        delete_records_request::DeleteRecordsPartition::default()
                            .with_partition_index(0)
                            .with_offset(0),
                    ])])
                .with_timeout_ms(10_000);
            expect(
                "partition",
                c.round_trip(v, &request)?.topics[0].partitions[0].error_code,
                NONE,
            )
        }
        ApiKey::FindCoordinator => {
            let request = if v >= 4 {
                FindCoordinatorRequest::default()
                    .with_coordinator_keys(vec![s("conformance-group")])
            } else {
                FindCoordinatorRequest::default().with_key(s("conformance-group"))
            };
            let r = c.round_trip(v, &request)?;
            if v >= 4 {
                expect("coordinator", r.coordinators[0].error_code, NONE)
            } else {
                expect("top-level", r.error_code, NONE)
            }
        }
        ApiKey::JoinGroup => {
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(s(&format!("join-v{v}"))))
                .with_session_timeout_ms(30_000)
                .with_rebalance_timeout_ms(30_000)
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
                )
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(&[0; 10]))]);
            let r = c.round_trip(v, &request)?;
            // From v4 a new member is first given its id (KIP-394).
            expect("top-level", r.error_code, if v >= 4 { 79 } else { NONE })
        }
        ApiKey::SyncGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup => {
            let group = format!("{key:?}-v{v}");
            let (member, generation) = join(c, &group);
            let error = match key {
                ApiKey::SyncGroup => {
                    c.round_trip(
                        v,
                        &SyncGroupRequest::default()
                            .with_group_id(GroupId(s(&group)))
                            .with_generation_id(generation)
                            .with_member_id(s(&member))
                            .with_protocol_type(Some(s("consumer")))
                            .with_protocol_name(Some(s("range")))
                            .with_assignments(vec![
                                sync_group_request::SyncGroupRequestAssignment::default()
                                    .with_member_id(s(&member))
                                    .with_assignment(Bytes::from_static(&[
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    ])),
                            ]),
                    )?
                    .error_code
                }
                ApiKey::Heartbeat => {
                    c.round_trip(
                        v,
                        &HeartbeatRequest::default()
                            .with_group_id(GroupId(s(&group)))
                            .with_generation_id(generation)
                            .with_member_id(s(&member)),
                    )?
                    .error_code
                }
                _ => {
                    let r = c.round_trip(
                        v,
                        &if v >= 3 {
                            LeaveGroupRequest::default()
                                .with_group_id(GroupId(s(&group)))
                                .with_members(vec![leave_group_request::MemberIdentity::default()
                                    .with_member_id(s(&member))])
                        } else {
                            LeaveGroupRequest::default()
                                .with_group_id(GroupId(s(&group)))
                                .with_member_id(s(&member))
                        },
                    )?;
                    if v >= 3 {
                        expect("member", r.members[0].error_code, NONE)?;
                    }
                    r.error_code
                }
            };
            // A heartbeat in CompletingRebalance (before SyncGroup) is answered
            // NONE, as Kafka 3.5's handleHeartbeat does.
            expect("top-level", error, NONE)
        }
        ApiKey::OffsetCommit => {
            let group = format!("commit-v{v}");
            let request = OffsetCommitRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_generation_id_or_member_epoch(-1)
                .with_retention_time_ms(-1)
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(TopicName(s(TOPIC)))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1)
                                .with_committed_metadata(Some(s("m"))),
                        ]),
                ]);
            let r = if v >= 2 {
                c.round_trip(v, &request)?
            } else {
                let mut body = Vec::new();
                let put_str = |b: &mut Vec<u8>, x: &str| {
                    b.extend_from_slice(&(x.len() as i16).to_be_bytes());
                    b.extend_from_slice(x.as_bytes());
                };
                put_str(&mut body, &group);
                if v == 1 {
                    body.extend_from_slice(&(-1i32).to_be_bytes());
                    put_str(&mut body, "");
                }
                body.extend_from_slice(&1i32.to_be_bytes());
                put_str(&mut body, TOPIC);
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(&0i32.to_be_bytes());
                body.extend_from_slice(&1i64.to_be_bytes());
                if v == 1 {
                    body.extend_from_slice(&(-1i64).to_be_bytes());
                }
                put_str(&mut body, "m");
                let mut raw = c.raw(key, v, &body)?;
                OffsetCommitResponse::decode(&mut raw, 2).map_err(|e| e.to_string())?
            };
            expect("partition", r.topics[0].partitions[0].error_code, NONE)?;
            // What was committed reads back (OffsetFetch v1, the layout of v0 too).
            let fetched = c.round_trip(
                1,
                &OffsetFetchRequest::default()
                    .with_group_id(GroupId(s(&group)))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(TopicName(s(TOPIC)))
                            .with_partition_indexes(vec![0]),
                    ])),
            )?;
            let p = &fetched.topics[0].partitions[0];
            if p.committed_offset != 1 {
                return Err(format!(
                    "OffsetCommit v{v}: committed offset reads back as {}",
                    p.committed_offset
                ));
            }
            Ok(())
        }
        ApiKey::OffsetFetch => {
            let group = "commit-v2";
            let topics = vec![offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partition_indexes(vec![0])];
            let request = if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![
                    offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s(group)))
                        .with_topics(Some(vec![
                            offset_fetch_request::OffsetFetchRequestTopics::default()
                                .with_name(TopicName(s(TOPIC)))
                                .with_partition_indexes(vec![0]),
                        ])),
                ])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(s(group)))
                    .with_topics(Some(topics))
            };
            let (error, offset) = if v >= 8 {
                let r = c.round_trip(v, &request)?;
                let g = &r.groups[0];
                (g.error_code, g.topics[0].partitions[0].committed_offset)
            } else {
                let r = if v == 0 {
                    let mut raw = c.legacy(v, 1, &request, |_| {})?;
                    OffsetFetchResponse::decode(&mut raw, 1).map_err(|e| e.to_string())?
                } else {
                    c.round_trip(v, &request)?
                };
                let p = &r.topics[0].partitions[0];
                (r.error_code.max(p.error_code), p.committed_offset)
            };
            expect("group", error, NONE)?;
            if offset != 1 {
                return Err(format!("OffsetFetch v{v}: committed offset {offset}"));
            }
            Ok(())
        }
        ApiKey::DescribeGroups => {
            let request =
                DescribeGroupsRequest::default().with_groups(vec![GroupId(s("commit-v2"))]);
            expect(
                "group",
                c.round_trip(v, &request)?.groups[0].error_code,
                NONE,
            )
        }
        ApiKey::ListGroups => expect(
            "top-level",
            c.round_trip(v, &ListGroupsRequest::default())?.error_code,
            NONE,
        ),
        ApiKey::DeleteGroups => {
            let group = format!("commit-v{}", 3 + v); // committed by OffsetCommit, now empty
            let request =
                DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(&group))]);
            expect(
                "group",
                c.round_trip(v, &request)?.results[0].error_code,
                NONE,
            )
        }
        ApiKey::OffsetDelete => {
            let request = OffsetDeleteRequest::default()
                .with_group_id(GroupId(s("commit-v7")))
                .with_topics(vec![
                    offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(TopicName(s(TOPIC)))
                        .with_partitions(vec![
                            offset_delete_request::OffsetDeleteRequestPartition::default()
                                .with_partition_index(0),
                        ]),
                ]);
            let r = c.round_trip(v, &request)?;
            expect("top-level", r.error_code, NONE)?;
            expect("partition", r.topics[0].partitions[0].error_code, NONE)
        }
        ApiKey::InitProducerId => {
            let request = InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            expect("top-level", c.round_trip(v, &request)?.error_code, NONE)
        }
        ApiKey::DescribeLogDirs => {
            let request = DescribeLogDirsRequest::default().with_topics(Some(vec![
                describe_log_dirs_request::DescribableLogDirTopic::default()
                    .with_topic(TopicName(s(TOPIC)))
                    .with_partitions(vec![0]),
            ]));
            let r = if v == 0 {
                // v0 is v1 on the wire.
                let mut body = c.legacy(v, 1, &request, |_| {})?;
                DescribeLogDirsResponse::decode(&mut body, 1).map_err(|e| e.to_string())?
            } else {
                c.round_trip(v, &request)?
            };
            let dir = r.results.first().ok_or("DescribeLogDirs: no log dir")?;
            expect("log dir", dir.error_code, NONE)?;
            let listed = dir.topics.iter().any(|t| {
                t.name.0.as_str() == TOPIC
                    && t.partitions
                        .iter()
                        .any(|p| p.partition_index == 0 && p.partition_size > 0)
            });
            if !listed {
                return Err(format!("DescribeLogDirs v{v}: partition 0 not listed"));
            }
            Ok(())
        }
        ApiKey::OffsetForLeaderEpoch => {
            if v < 2 {
                let mut body = Vec::new();
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
                body.extend_from_slice(TOPIC.as_bytes());
                body.extend_from_slice(&1i32.to_be_bytes());
                body.extend_from_slice(&0i32.to_be_bytes());
                body.extend_from_slice(&0i32.to_be_bytes());
                let mut r = Rd(c.raw(key, v, &body)?);
                assert_eq!(r.i32(), 1);
                assert_eq!(r.string(), TOPIC);
                assert_eq!(r.i32(), 1);
                expect("partition", r.i16(), NONE)?;
                assert_eq!(r.i32(), 0);
                if v == 1 {
                    assert_eq!(r.i32(), 0, "leader epoch");
                }
                let end = r.i64();
                r.end();
                if end < 1 {
                    return Err(format!("OffsetForLeaderEpoch v{v}: end offset {end}"));
                }
                return Ok(());
            }
            let request = OffsetForLeaderEpochRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![
                    offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                        .with_topic(TopicName(s(TOPIC)))
                        .with_partitions(vec![
                            offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                                .with_partition(0)
                                .with_current_leader_epoch(-1)
                                .with_leader_epoch(0),
                        ]),
                ]);
            let r = c.round_trip(v, &request)?;
            let p = &r.topics[0].partitions[0];
            expect("partition", p.error_code, NONE)?;
            if p.leader_epoch != 0 || p.end_offset < 1 {
                return Err(format!(
                    "OffsetForLeaderEpoch v{v}: epoch {} end offset {}",
                    p.leader_epoch, p.end_offset
                ));
            }
            Ok(())
        }
        ApiKey::DescribeProducers => {
            let request = DescribeProducersRequest::default().with_topics(vec![
                describe_producers_request::TopicRequest::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partition_indexes(vec![0]),
            ]);
            let r = c.round_trip(v, &request)?;
            expect("partition", r.topics[0].partitions[0].error_code, NONE)
        }
        ApiKey::ElectLeaders => {
            let request = ElectLeadersRequest::default()
                .with_topic_partitions(Some(vec![elect_leaders_request::TopicPartitions::default(
                )
                .with_topic(TopicName(s(TOPIC)))
                .with_partitions(vec![0])]))
                .with_timeout_ms(10_000);
            let r = c.round_trip(v, &request)?;
            expect("top-level", r.error_code, NONE)?;
            // ELECTION_NOT_NEEDED: the only replica already leads.
            expect(
                "partition",
                r.replica_election_results[0].partition_result[0].error_code,
                84,
            )
        }
        ApiKey::ListPartitionReassignments => {
            let r = c.round_trip(
                v,
                &ListPartitionReassignmentsRequest::default().with_topics(None),
            )?;
            expect("top-level", r.error_code, NONE)?;
            if !r.topics.is_empty() {
                return Err(format!("ListPartitionReassignments v{v}: {:?}", r.topics));
            }
            Ok(())
        }
        ApiKey::AlterPartitionReassignments => {
            // Cancelling when none is in progress: NO_REASSIGNMENT_IN_PROGRESS.
            let request = AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![
                    alter_partition_reassignments_request::ReassignableTopic::default()
                        .with_name(TopicName(s(TOPIC)))
                        .with_partitions(vec![
                            alter_partition_reassignments_request::ReassignablePartition::default()
                                .with_partition_index(0)
                                .with_replicas(None),
                        ]),
                ]);
            let r = c.round_trip(v, &request)?;
            expect("top-level", r.error_code, NONE)?;
            expect("partition", r.responses[0].partitions[0].error_code, 85)
        }
        ApiKey::DescribeClientQuotas => {
            let r = c.round_trip(v, &DescribeClientQuotasRequest::default())?;
            expect("top-level", r.error_code, NONE)
        }
        ApiKey::AlterClientQuotas => {
            let request = AlterClientQuotasRequest::default()
                .with_validate_only(true)
                .with_entries(vec![alter_client_quotas_request::EntryData::default()
                    .with_entity(vec![alter_client_quotas_request::EntityData::default()
                        .with_entity_type(s("client-id"))
                        .with_entity_name(Some(s(TOPIC)))])
                    .with_ops(vec![alter_client_quotas_request::OpData::default()
                        .with_key(s("producer_byte_rate"))
                        .with_value(1e9)])]);
            let r = c.round_trip(v, &request)?;
            expect("entry", r.entries[0].error_code, NONE)
        }
        ApiKey::CreateAcls => {
            let principal = format!("User:conformance-v{v}");
            let r = if v == 0 {
                // v0 is v1 without the pattern type (LITERAL); the answer is v1's.
                let mut body = Vec::new();
                body.extend_from_slice(&1i32.to_be_bytes());
                body.push(2); // TOPIC
                put_str(&mut body, TOPIC);
                put_str(&mut body, &principal);
                put_str(&mut body, "*");
                body.extend_from_slice(&[3, 3]); // READ, ALLOW
                let mut out = c.raw(key, v, &body)?;
                CreateAclsResponse::decode(&mut out, 1).map_err(|e| e.to_string())?
            } else {
                let creation = create_acls_request::AclCreation::default()
                    .with_resource_type(2)
                    .with_resource_name(s(TOPIC))
                    .with_resource_pattern_type(3)
                    .with_principal(s(&principal))
                    .with_host(s("*"))
                    .with_operation(3)
                    .with_permission_type(3);
                c.round_trip(
                    v,
                    &CreateAclsRequest::default().with_creations(vec![creation]),
                )?
            };
            expect("creation", r.results[0].error_code, NONE)
        }
        ApiKey::DescribeAcls => {
            let acls = if v == 0 {
                let mut body = vec![2u8];
                put_str(&mut body, TOPIC);
                body.extend_from_slice(&(-1i16).to_be_bytes());
                body.extend_from_slice(&(-1i16).to_be_bytes());
                body.extend_from_slice(&[1, 1]); // ANY operation, ANY permission
                let mut r = Rd(c.raw(key, v, &body)?);
                r.i32();
                expect("top-level", r.i16(), NONE)?;
                r.string();
                let mut n = 0;
                for _ in 0..r.i32() {
                    assert_eq!(r.i8(), 2);
                    assert_eq!(r.string(), TOPIC);
                    for _ in 0..r.i32() {
                        r.string();
                        r.string();
                        r.i8();
                        r.i8();
                        n += 1;
                    }
                }
                r.end();
                n
            } else {
                let request = DescribeAclsRequest::default()
                    .with_resource_type_filter(2)
                    .with_resource_name_filter(Some(s(TOPIC)))
                    .with_pattern_type_filter(1)
                    .with_principal_filter(None)
                    .with_host_filter(None)
                    .with_operation(1)
                    .with_permission_type(1);
                let r = c.round_trip(v, &request)?;
                expect("top-level", r.error_code, NONE)?;
                r.resources.iter().map(|res| res.acls.len()).sum()
            };
            // CreateAcls ran before, once per version.
            if acls < 4 {
                return Err(format!("DescribeAcls v{v}: {acls} ACLs, want 4"));
            }
            Ok(())
        }
        ApiKey::DeleteAcls => {
            let principal = format!("User:conformance-v{v}");
            let matched = if v == 0 {
                let mut body = Vec::new();
                body.extend_from_slice(&1i32.to_be_bytes());
                body.push(2);
                put_str(&mut body, TOPIC);
                put_str(&mut body, &principal);
                body.extend_from_slice(&(-1i16).to_be_bytes());
                body.extend_from_slice(&[1, 1]);
                let mut r = Rd(c.raw(key, v, &body)?);
                r.i32();
                assert_eq!(r.i32(), 1);
                expect("filter", r.i16(), NONE)?;
                r.string();
                let n = r.i32();
                for _ in 0..n {
                    expect("matching", r.i16(), NONE)?;
                    r.string();
                    assert_eq!(r.i8(), 2);
                    assert_eq!(r.string(), TOPIC);
                    assert_eq!(r.string(), principal);
                    r.string();
                    r.i8();
                    r.i8();
                }
                r.end();
                n as usize
            } else {
                let filter = delete_acls_request::DeleteAclsFilter::default()
                    .with_resource_type_filter(2)
                    .with_resource_name_filter(Some(s(TOPIC)))
                    .with_pattern_type_filter(3)
                    .with_principal_filter(Some(s(&principal)))
                    .with_host_filter(None)
                    .with_operation(1)
                    .with_permission_type(1);
                let r =
                    c.round_trip(v, &DeleteAclsRequest::default().with_filters(vec![filter]))?;
                expect("filter", r.filter_results[0].error_code, NONE)?;
                r.filter_results[0].matching_acls.len()
            };
            if matched != 1 {
                return Err(format!("DeleteAcls v{v}: matched {matched}, want 1"));
            }
            Ok(())
        }
        other => Err(format!(
            "{other:?} is registered but has no conformance case: add one"
        )),
    }
}

/// The order the APIs are walked in: writes before the reads that need them.
fn order(key: ApiKey) -> u8 {
    match key {
        ApiKey::Produce | ApiKey::CreateAcls => 0,
        ApiKey::OffsetCommit => 1,
        ApiKey::DeleteGroups | ApiKey::OffsetDelete | ApiKey::DeleteAcls => 3,
        _ => 2,
    }
}

#[test]
fn every_advertised_version_is_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let strom = start(dir.path());
    let mut c = Conn::open(strom.port).expect("connect");
    let created = c
        .round_trip(7, &create_topic(TOPIC, 1))
        .expect("CreateTopics");
    assert_eq!(created.topics[0].error_code, NONE);
    let meta = c
        .round_trip(
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
                )
                .with_name(Some(TopicName(s(TOPIC))))])),
        )
        .expect("Metadata");
    let topic_id = meta.topics[0].topic_id;
    let mut apis: Vec<_> = strom::protocol::APIS.to_vec();
    apis.sort_by_key(|a| order(a.key));
    let mut failures = Vec::new();
    let mut served = 0;
    for api in &apis {
        for v in api.min..=api.max {
            served += 1;
            if let Err(e) = check(&mut c, api.key, v, topic_id) {
                failures.push(e);
                // A refused request closes the connection: go on with a new one.
                c = Conn::open(strom.port).expect("reconnect");
            }
        }
    }
    let log = std::fs::read_to_string(dir.path().join("strom.log")).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {served} (API, version) pairs failed:\n{}\nbroker log tail:\n{}",
        failures.len(),
        failures.join("\n"),
        &log[log.len().saturating_sub(4000)..]
    );
    assert!(served > 150, "only {served} pairs walked");
}
