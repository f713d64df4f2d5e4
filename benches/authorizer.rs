//! The cost of authorization on the request path: one check against 1,000
//! ACLs (literal entries for 3 users on 300 topics, prefixed and group
//! entries) next to the path without an authorizer, including the read of
//! the connection's principal the handlers do (its lock, no clone); and 130
//! entries of distinct principals on the wildcard topic `*`, which every
//! topic check consults (the cache's per-principal index makes that one
//! probe). Run with `cargo bench --bench authorizer`.

use std::net::IpAddr;
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use strom::authorizer::{
    AclBinding, AclStore, Authorizer, AuthorizerSettings, Check, ACL_FILE, CLUSTER_NAME,
};
use strom::principal::KafkaPrincipal;

fn binding(ty: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> AclBinding {
    AclBinding::from_wire(ty, name, pattern, principal, "*", op, perm).expect("binding")
}

fn authorizer(dir: &std::path::Path, wildcard_readers: usize) -> Authorizer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let settings = AuthorizerSettings {
            class_name: "kafka.security.authorizer.AclAuthorizer".into(),
            super_users: "User:admin".into(),
            allow_everyone_if_no_acl_found: false,
        };
        let auth = Authorizer::start(&settings, AclStore::File(dir.join(ACL_FILE)))
            .await
            .expect("authorizer");
        let mut acls = Vec::new();
        for i in 0..300 {
            let topic = format!("topic-{i}");
            for user in ["alice", "bob", "carol"] {
                acls.push(binding(2, &topic, 3, &format!("User:{user}"), 4, 3));
            }
        }
        for i in 0..50 {
            acls.push(binding(2, &format!("team{i}-"), 4, "User:alice", 3, 3));
            acls.push(binding(3, &format!("group-{i}"), 3, "User:alice", 3, 3));
        }
        for i in 0..wildcard_readers {
            acls.push(binding(2, "*", 3, &format!("User:reader{i}"), 8, 3));
        }
        assert!(auth.create(&acls).await.iter().all(Result::is_ok));
        auth
    })
}

fn checks(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let enabled = authorizer(dir.path(), 0);
    let dir2 = tempfile::tempdir().expect("tempdir");
    let wildcards = authorizer(dir2.path(), 130);
    let disabled = Authorizer::disabled();
    // The connection's principal as RequestContext keeps it.
    let principal = parking_lot::RwLock::new(Arc::new(KafkaPrincipal::user("alice")));
    let host: IpAddr = "127.0.0.1".parse().expect("ip");
    let mut group = c.benchmark_group("authorize");
    group.bench_function("no authorizer (today's path)", |b| {
        b.iter(|| {
            black_box(disabled.is_enabled())
                || black_box(disabled.authorize(
                    &principal.read(),
                    host,
                    Check::ProduceTopic,
                    black_box("topic-150"),
                ))
        })
    });
    group.bench_function("1000 ACLs: Produce WRITE, literal allow", |b| {
        b.iter(|| {
            let p = principal.read();
            assert!(enabled.authorize(
                &p,
                host.to_canonical(),
                Check::ProduceTopic,
                black_box("topic-150")
            ));
        })
    });
    group.bench_function("1000 ACLs: Fetch READ, prefixed allow", |b| {
        b.iter(|| {
            let p = principal.read();
            assert!(enabled.authorize(
                &p,
                host.to_canonical(),
                Check::FetchTopic,
                black_box("team42-events")
            ));
        })
    });
    group.bench_function("1000 ACLs: JoinGroup READ on a group", |b| {
        b.iter(|| {
            let p = principal.read();
            assert!(enabled.authorize(
                &p,
                host.to_canonical(),
                Check::JoinGroup,
                black_box("group-7")
            ));
        })
    });
    group.bench_function("1130 ACLs, 130 on `*`: Produce WRITE, literal allow", |b| {
        b.iter(|| {
            let p = principal.read();
            assert!(wildcards.authorize(
                &p,
                host.to_canonical(),
                Check::ProduceTopic,
                black_box("topic-150")
            ));
        })
    });
    group.bench_function("super user: CreateAcls", |b| {
        let admin = KafkaPrincipal::user("admin");
        b.iter(|| {
            assert!(enabled.authorize(&admin, host, Check::CreateAcls, black_box(CLUSTER_NAME)))
        })
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
