//! The ACL cache: every binding in force, indexed by resource and then by
//! principal, so that one authorization looks only at the entries that can
//! apply to it, in a few hash probes, and allocates nothing.
//!
//! Per resource type: the literal patterns by resource name, the wildcard
//! (`*`) pattern, and the prefixed patterns by prefix together with the
//! distinct prefix lengths present, so a name is probed only at those
//! lengths. Per pattern ([`PatternAcls`]): the entries of named principals by
//! principal name, and those of the wildcard principal `User:*` apart. A
//! pattern is in the index only while it has entries, which is what
//! `allow.everyone.if.no.acl.found` asks about. The cache is immutable; a
//! change builds a new one, swapped in whole by the authorizer (readers
//! never wait).
//!
//! [`AclCache::decide`] is AclAuthorizer's `authorizeAction` after the
//! super-user check: no entry on the matching resources ⇒
//! `allow.everyone.if.no.acl.found`; a matching DENY wins; else a matching
//! ALLOW (with the implied operations) grants.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::acl::{
    AccessControlEntry, AclBinding, AclOperation, HostMatch, PatternType, Permission,
    ResourcePattern, ResourceType, WILDCARD_RESOURCE,
};
use crate::principal::{KafkaPrincipal, USER_TYPE};

/// Kafka's wildcard principal name (`User:*`, `AclEntry.WildcardPrincipal`).
const WILDCARD_PRINCIPAL_NAME: &str = "*";

/// One entry, pre-parsed for matching (its principal is the key it is
/// filed under).
#[derive(Clone, Debug)]
struct Ace {
    /// The principal's type (`User`; the name is the key of its list).
    principal_type: Box<str>,
    host: HostMatch,
    operation: AclOperation,
    permission: Permission,
}

/// The entries on one resource pattern, by principal.
#[derive(Default, Debug)]
struct PatternAcls {
    /// Entries of named principals by principal name (the type, nearly
    /// always `User`, is checked per entry).
    by_name: HashMap<Box<str>, Vec<Ace>>,
    /// Entries of the wildcard principal `User:*`.
    everyone: Vec<Ace>,
}

impl PatternAcls {
    fn new(entries: &BTreeSet<AccessControlEntry>) -> PatternAcls {
        let mut out = PatternAcls::default();
        for e in entries {
            // Kafka's `SecurityUtils.parseKafkaPrincipal`: split at the
            // first `:` (the stores only hold entries that have one).
            let (ty, name) = e.principal.split_once(':').unwrap_or((&e.principal, ""));
            let ace = Ace {
                principal_type: ty.into(),
                host: HostMatch::parse(&e.host),
                operation: e.operation,
                permission: e.permission,
            };
            if ty == USER_TYPE && name == WILDCARD_PRINCIPAL_NAME {
                out.everyone.push(ace);
            } else {
                out.by_name.entry(name.into()).or_default().push(ace);
            }
        }
        out
    }

    /// The entries that apply to `principal` from `host`: its own and the
    /// wildcard principal's.
    fn applying<'a>(
        &'a self,
        principal: &'a KafkaPrincipal,
        host: IpAddr,
    ) -> impl Iterator<Item = &'a Ace> {
        self.by_name
            .get(principal.name.as_str())
            .into_iter()
            .flatten()
            .filter(move |a| *a.principal_type == *principal.principal_type)
            .chain(self.everyone.iter())
            .filter(move |a| a.host.matches(host))
    }

    /// Whether an entry applying to `principal` from `host` has `permission`
    /// for `operation` itself (or ALL), without implied operations.
    fn has(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        permission: Permission,
    ) -> bool {
        self.applying(principal, host)
            .any(|a| a.permission == permission && a.operation.deny_covers(operation))
    }
}

#[derive(Default, Debug)]
struct TypeAcls {
    literal: HashMap<Box<str>, PatternAcls>,
    wildcard: Option<PatternAcls>,
    prefixed: HashMap<Box<str>, PatternAcls>,
    /// Distinct byte lengths of the prefixes in `prefixed`, ascending.
    prefix_lens: Vec<usize>,
}

/// What the entries on a resource say about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No entry at all on the resource (any principal).
    NoAcls,
    /// A matching DENY.
    Denied,
    /// A matching ALLOW and no DENY.
    Allowed,
    /// Entries exist but none allows.
    NotAllowed,
}

/// Every binding, as a snapshot.
#[derive(Default, Debug)]
pub struct AclCache {
    /// The bindings by pattern (DescribeAcls, DeleteAcls, the stores).
    bindings: BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>>,
    types: [TypeAcls; 6],
}

impl AclCache {
    /// The cache of these bindings.
    pub fn new(bindings: BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>>) -> AclCache {
        let mut types: [TypeAcls; 6] = Default::default();
        for (pattern, entries) in &bindings {
            if entries.is_empty() {
                continue;
            }
            let t = &mut types[pattern.resource_type.index()];
            let acls = PatternAcls::new(entries);
            match pattern.pattern_type {
                PatternType::Literal if pattern.name == WILDCARD_RESOURCE => {
                    t.wildcard = Some(acls)
                }
                PatternType::Literal => {
                    t.literal.insert(pattern.name.as_str().into(), acls);
                }
                PatternType::Prefixed => {
                    t.prefixed.insert(pattern.name.as_str().into(), acls);
                }
            }
        }
        for t in &mut types {
            let lens: BTreeSet<usize> = t.prefixed.keys().map(|k| k.len()).collect();
            t.prefix_lens = lens.into_iter().collect();
        }
        AclCache { bindings, types }
    }

    /// The bindings by pattern.
    pub fn bindings(&self) -> &BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>> {
        &self.bindings
    }

    /// Every binding, flattened.
    pub fn all(&self) -> impl Iterator<Item = AclBinding> + '_ {
        self.bindings.iter().flat_map(|(p, es)| {
            es.iter().map(move |e| AclBinding {
                pattern: p.clone(),
                entry: e.clone(),
            })
        })
    }

    /// Whether no binding exists.
    pub fn is_empty(&self) -> bool {
        self.bindings.values().all(BTreeSet::is_empty)
    }

    /// Every pattern with entries that matches a resource (literal name,
    /// wildcard, prefixes of the name).
    fn matching<'a>(
        &'a self,
        ty: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a PatternAcls> {
        let t = &self.types[ty.index()];
        let prefixed = t
            .prefix_lens
            .iter()
            .take_while(move |&&l| l <= name.len())
            .filter_map(move |&l| name.get(..l).and_then(|p| t.prefixed.get(p)));
        t.literal
            .get(name)
            .into_iter()
            .chain(t.wildcard.as_ref())
            .chain(prefixed)
    }

    /// AclAuthorizer's decision for one action on one literal resource.
    pub fn decide(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        ty: ResourceType,
        name: &str,
    ) -> Decision {
        let mut any = false;
        let mut allowed = false;
        for pattern in self.matching(ty, name) {
            any = true;
            for ace in pattern.applying(principal, host) {
                match ace.permission {
                    Permission::Deny if ace.operation.deny_covers(operation) => {
                        return Decision::Denied
                    }
                    Permission::Allow if ace.operation.allow_implies(operation) => allowed = true,
                    _ => {}
                }
            }
        }
        match (any, allowed) {
            (false, _) => Decision::NoAcls,
            (true, true) => Decision::Allowed,
            (true, false) => Decision::NotAllowed,
        }
    }

    /// The default `Authorizer.authorizeByResourceType` after its check on
    /// a hard-coded name: whether some ALLOW for the principal on a resource
    /// of `ty` is not wholly covered by a DENY (a wildcard DENY, the same
    /// literal, or a DENY prefix of it).
    pub fn any_allowed_of_type(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        ty: ResourceType,
    ) -> bool {
        let t = &self.types[ty.index()];
        let has = |p: &PatternAcls, perm| p.has(principal, host, operation, perm);
        if let Some(w) = &t.wildcard {
            if has(w, Permission::Deny) {
                return false;
            }
            if has(w, Permission::Allow) {
                return true;
            }
        }
        let denied_prefix = |name: &str| {
            t.prefixed
                .iter()
                .any(|(p, acls)| name.starts_with(&**p) && has(acls, Permission::Deny))
        };
        let literal_ok = t.literal.iter().any(|(name, acls)| {
            has(acls, Permission::Allow) && !has(acls, Permission::Deny) && !denied_prefix(name)
        });
        literal_ok
            || t.prefixed
                .iter()
                .any(|(name, acls)| has(acls, Permission::Allow) && !denied_prefix(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(
        list: &[(
            ResourceType,
            &str,
            PatternType,
            &str,
            &str,
            AclOperation,
            Permission,
        )],
    ) -> AclCache {
        let mut map: BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>> = BTreeMap::new();
        for &(ty, name, pt, principal, host, op, perm) in list {
            map.entry(ResourcePattern {
                resource_type: ty,
                name: name.into(),
                pattern_type: pt,
            })
            .or_default()
            .insert(AccessControlEntry {
                principal: principal.into(),
                host: host.into(),
                operation: op,
                permission: perm,
            });
        }
        AclCache::new(map)
    }

    use AclOperation::*;
    use PatternType::*;
    use Permission::*;
    use ResourceType::*;

    fn lo() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn literal_wildcard_and_prefixed_patterns_match() {
        let alice = KafkaPrincipal::user("alice");
        let c = cache(&[
            (Topic, "orders", Literal, "User:alice", "*", Write, Allow),
            (Topic, "*", Literal, "User:alice", "*", Describe, Allow),
            (Topic, "pay", Prefixed, "User:alice", "*", Read, Allow),
        ]);
        assert_eq!(
            c.decide(&alice, lo(), Write, Topic, "orders"),
            Decision::Allowed
        );
        assert_eq!(
            c.decide(&alice, lo(), Describe, Topic, "anything"),
            Decision::Allowed
        );
        assert_eq!(
            c.decide(&alice, lo(), Read, Topic, "payments"),
            Decision::Allowed
        );
        assert_eq!(
            c.decide(&alice, lo(), Read, Topic, "pa"),
            Decision::NotAllowed
        );
        assert_eq!(c.decide(&alice, lo(), Read, Group, "g"), Decision::NoAcls);
        let bob = KafkaPrincipal::user("bob");
        assert_eq!(
            c.decide(&bob, lo(), Write, Topic, "orders"),
            Decision::NotAllowed
        );
    }

    #[test]
    fn deny_wins_and_hosts_count() {
        let alice = KafkaPrincipal::user("alice");
        let c = cache(&[
            (Topic, "t", Literal, "User:*", "*", All, Allow),
            (Topic, "t", Prefixed, "User:alice", "127.0.0.1", Write, Deny),
            (Topic, "u", Literal, "User:alice", "10.0.0.1", Read, Allow),
        ]);
        assert_eq!(c.decide(&alice, lo(), Write, Topic, "t"), Decision::Denied);
        assert_eq!(c.decide(&alice, lo(), Read, Topic, "t"), Decision::Allowed);
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            c.decide(&alice, other, Write, Topic, "t"),
            Decision::Allowed
        );
        assert_eq!(
            c.decide(&alice, lo(), Read, Topic, "u"),
            Decision::NotAllowed
        );
        // A denied READ leaves the DESCRIBE that READ would imply alone.
        let d = cache(&[
            (Topic, "t", Literal, "User:alice", "*", Read, Allow),
            (Topic, "t", Literal, "User:alice", "*", Describe, Deny),
        ]);
        assert_eq!(d.decide(&alice, lo(), Read, Topic, "t"), Decision::Allowed);
        assert_eq!(
            d.decide(&alice, lo(), Describe, Topic, "t"),
            Decision::Denied
        );
    }

    #[test]
    fn by_resource_type_follows_kafkas_default() {
        let alice = KafkaPrincipal::user("alice");
        let c = cache(&[(Topic, "t", Literal, "User:alice", "*", Write, Allow)]);
        assert!(c.any_allowed_of_type(&alice, lo(), Write, Topic));
        assert!(!c.any_allowed_of_type(&alice, lo(), Read, Topic));
        let d = cache(&[
            (Topic, "tx", Literal, "User:alice", "*", Write, Allow),
            (Topic, "t", Prefixed, "User:alice", "*", Write, Deny),
        ]);
        assert!(!d.any_allowed_of_type(&alice, lo(), Write, Topic));
        let w = cache(&[(Topic, "*", Literal, "User:*", "*", All, Allow)]);
        assert!(w.any_allowed_of_type(&alice, lo(), Write, Topic));
    }

    /// Kafka's `AclAuthorizer.authorizeAction` written out naively over
    /// every binding (`matchingAcls`, then `matchingAclExists` per
    /// operation), to hold the index to it.
    fn reference(
        bindings: &BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>>,
        principal: &KafkaPrincipal,
        host: IpAddr,
        op: AclOperation,
        ty: ResourceType,
        name: &str,
    ) -> Decision {
        let acls: Vec<&AccessControlEntry> = bindings
            .iter()
            .filter(|(p, _)| {
                p.resource_type == ty
                    && match p.pattern_type {
                        Literal => p.name == name || p.name == "*",
                        Prefixed => name.starts_with(p.name.as_str()),
                    }
            })
            .flat_map(|(_, es)| es)
            .collect();
        if acls.is_empty() {
            return Decision::NoAcls;
        }
        let me = principal.to_string();
        let exists = |wanted: AclOperation, perm: Permission| {
            acls.iter().any(|a| {
                a.permission == perm
                    && (a.principal == me || a.principal == "User:*")
                    && (a.operation == wanted || a.operation == All)
                    && HostMatch::parse(&a.host).matches(host)
            })
        };
        if exists(op, Deny) {
            return Decision::Denied;
        }
        let implied: &[AclOperation] = match op {
            Describe => &[Describe, Read, Write, Delete, Alter],
            DescribeConfigs => &[DescribeConfigs, AlterConfigs],
            _ => &[op],
        };
        if implied.iter().any(|&o| exists(o, Allow)) {
            Decision::Allowed
        } else {
            Decision::NotAllowed
        }
    }

    #[test]
    fn the_principal_index_decides_as_kafka_does() {
        // A fixed pseudo-random sequence (no seed to vary between runs).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let principals = [
            "User:alice",
            "User:bob",
            "User:*",
            "Group:alice",
            "User:carol",
        ];
        let hosts = ["*", "127.0.0.1", "10.0.0.1"];
        let names = ["t", "te", "test", "*", "orders", "x"];
        let ops = [
            Read,
            Write,
            Describe,
            Alter,
            AlterConfigs,
            DescribeConfigs,
            Delete,
            All,
        ];
        let types = [Topic, Group];
        for round in 0..200 {
            let mut list = Vec::new();
            for _ in 0..next(12) {
                let name = names[next(names.len())];
                let pattern = if name != "*" && next(3) == 0 {
                    Prefixed
                } else {
                    Literal
                };
                list.push((
                    types[next(2)],
                    name,
                    pattern,
                    principals[next(principals.len())],
                    hosts[next(hosts.len())],
                    ops[next(ops.len())],
                    if next(4) == 0 { Deny } else { Allow },
                ));
            }
            let c = cache(&list);
            for who in ["alice", "bob", "carol", "dave"] {
                for kind in ["User", "Group"] {
                    let p = KafkaPrincipal {
                        principal_type: kind.into(),
                        name: who.into(),
                    };
                    for host in [lo(), "10.0.0.1".parse().unwrap()] {
                        for &op in &ops[..7] {
                            for ty in types {
                                for name in ["t", "test", "testing", "orders", "y"] {
                                    assert_eq!(
                                        c.decide(&p, host, op, ty, name),
                                        reference(c.bindings(), &p, host, op, ty, name),
                                        "round {round}: {p} {host} {op:?} {ty:?} {name} {list:?}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn principal_types_and_the_wildcard_principal_are_kept_apart() {
        let alice = KafkaPrincipal::user("alice");
        let group_alice = KafkaPrincipal {
            principal_type: "Group".into(),
            name: "alice".into(),
        };
        let c = cache(&[
            (Topic, "t", Literal, "Group:alice", "*", Write, Allow),
            (Topic, "*", Literal, "User:reader1", "*", Read, Allow),
            (Topic, "*", Literal, "User:reader2", "*", Read, Allow),
            (Topic, "u", Literal, "User:*", "*", Read, Allow),
            (Topic, "u", Literal, "Group:*", "*", Write, Allow),
        ]);
        assert_eq!(
            c.decide(&group_alice, lo(), Write, Topic, "t"),
            Decision::Allowed
        );
        assert_eq!(
            c.decide(&alice, lo(), Write, Topic, "t"),
            Decision::NotAllowed
        );
        // Entries of other principals on `*` still count as ACLs on every topic.
        assert_eq!(
            c.decide(&alice, lo(), Read, Topic, "v"),
            Decision::NotAllowed
        );
        assert_eq!(
            c.decide(&KafkaPrincipal::user("reader2"), lo(), Describe, Topic, "v"),
            Decision::Allowed
        );
        // `User:*` is everyone; `Group:*` is only the principal named `*`.
        assert_eq!(c.decide(&alice, lo(), Read, Topic, "u"), Decision::Allowed);
        assert_eq!(
            c.decide(&alice, lo(), Write, Topic, "u"),
            Decision::NotAllowed
        );
        assert_eq!(
            c.decide(&group_alice, lo(), Write, Topic, "u"),
            Decision::NotAllowed
        );
    }
}
