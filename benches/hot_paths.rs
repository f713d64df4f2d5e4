//! Criterion benches of strom's hot paths: log append of a batch, offset
//! index lookup, segment read for a fetch, Produce/Fetch decode and encode,
//! and recovery of a segment. Run with `cargo bench --bench hot_paths`.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{FetchResponse, ProduceRequest, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strom::log::index::OffsetIndex;
use strom::log::{Log, LogConfig};
use strom::records::testing::build_batch;

/// A batch of `n` records of `size`-byte values, as a producer sends it.
fn batch(n: usize, size: usize) -> Vec<u8> {
    let value = vec![b'x'; size];
    let records: Vec<_> = (0..n)
        .map(|i| (1_700_000_000_000 + i as i64, None, Some(value.as_slice())))
        .collect();
    build_batch(0, &records)
}

fn log_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).expect("open log");
    let one = batch(100, 100);
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(one.len() as u64));
    group.bench_function("append 100x100B batch", |b| {
        b.iter_batched(
            || BytesMut::from(&one[..]),
            |mut records| log.append(&mut records, 1_700_000_000_000).expect("append"),
            BatchSize::SmallInput,
        )
    });
    // Enough data for reads to cross index entries.
    let end = log.log_end_offset();
    group.throughput(Throughput::Bytes(1024 * 1024));
    group.bench_function("read 1 MiB for a fetch", |b| {
        let mut offset = 0;
        b.iter(|| {
            let data = log.read(offset, 1024 * 1024, true).expect("read");
            offset = (offset + 5_000) % end.max(1);
            black_box(data)
        })
    });
    group.finish();
}

fn index_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index =
        OffsetIndex::open(&dir.path().join("0.index"), 0, 10 * 1024 * 1024, true).expect("index");
    for i in 0..100_000u32 {
        index
            .append(i64::from(i) * 10, i * 4096)
            .expect("append entry");
    }
    c.bench_function("offset index lookup (100k entries)", |b| {
        let mut target = 0i64;
        b.iter(|| {
            target = (target + 7_919) % 1_000_000;
            black_box(index.lookup(target).expect("lookup"))
        })
    });
}

fn protocol(c: &mut Criterion) {
    let records = Bytes::from(batch(100, 100));
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("bench")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records.clone()))])]);
    let mut encoded = BytesMut::new();
    request.encode(&mut encoded, 9).expect("encode produce");
    let encoded = encoded.freeze();
    let mut group = c.benchmark_group("protocol");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("decode Produce v9", |b| {
        b.iter(|| {
            let mut buf = encoded.clone();
            black_box(ProduceRequest::decode(&mut buf, 9).expect("decode"))
        })
    });
    let fetched = Bytes::from(vec![0u8; 1024 * 1024]);
    let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("bench")))
        .with_partitions(vec![PartitionData::default()
            .with_partition_index(0)
            .with_records(Some(fetched))])]);
    group.throughput(Throughput::Bytes(1024 * 1024));
    group.bench_function("encode Fetch v12 with 1 MiB", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(1024 * 1024 + 128);
            response.encode(&mut out, 12).expect("encode fetch");
            black_box(out)
        })
    });
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut log = Log::open(dir.path(), LogConfig::default(), 0, 0, true, 0).expect("open");
        let one = batch(100, 100);
        for _ in 0..1_000 {
            let mut b = BytesMut::from(&one[..]);
            log.append(&mut b, 1_700_000_000_000).expect("append");
        }
        log.close().expect("close");
    }
    let size: u64 = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(size));
    group.sample_size(20);
    group.bench_function("recover a ~10 MiB segment", |b| {
        b.iter(|| {
            let log = Log::open(dir.path(), LogConfig::default(), 0, 0, false, 0).expect("recover");
            black_box(log.log_end_offset())
        })
    });
    group.finish();
}

criterion_group!(benches, log_append, index_lookup, protocol, recovery);
criterion_main!(benches);
