//! The ACL cache: every binding in force, indexed by resource so that one
//! authorization looks up a few hash entries and allocates nothing.
//!
//! Per resource type: the literal entries by resource name, the wildcard
//! (`*`) entries, and the prefixed entries by prefix together with the
//! distinct prefix lengths present, so a name is probed only at those
//! lengths. The cache is immutable; a change builds a new one, swapped in
//! whole by the authorizer (readers never wait).
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
use crate::principal::KafkaPrincipal;

/// One entry, pre-parsed for matching.
#[derive(Clone, Debug)]
struct Ace {
    /// `None` for the wildcard principal `User:*`.
    principal: Option<(Box<str>, Box<str>)>,
    host: HostMatch,
    operation: AclOperation,
    permission: Permission,
}

impl Ace {
    fn new(e: &AccessControlEntry) -> Ace {
        let principal = match e.principal.split_once(':') {
            Some(("User", "*")) => None,
            Some((t, n)) => Some((t.into(), n.into())),
            None => Some((e.principal.as_str().into(), "".into())),
        };
        Ace {
            principal,
            host: HostMatch::parse(&e.host),
            operation: e.operation,
            permission: e.permission,
        }
    }

    fn applies_to(&self, principal: &KafkaPrincipal, host: IpAddr) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|(t, n)| **t == *principal.principal_type && **n == *principal.name)
            && self.host.matches(host)
    }
}

#[derive(Default, Debug)]
struct TypeAcls {
    literal: HashMap<Box<str>, Vec<Ace>>,
    wildcard: Vec<Ace>,
    prefixed: HashMap<Box<str>, Vec<Ace>>,
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
            let aces: Vec<Ace> = entries.iter().map(Ace::new).collect();
            match pattern.pattern_type {
                PatternType::Literal if pattern.name == WILDCARD_RESOURCE => t.wildcard = aces,
                PatternType::Literal => {
                    t.literal.insert(pattern.name.as_str().into(), aces);
                }
                PatternType::Prefixed => {
                    t.prefixed.insert(pattern.name.as_str().into(), aces);
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

    /// The entries on every pattern matching a resource (literal name,
    /// wildcard, prefixes of the name).
    fn matching<'a>(&'a self, ty: ResourceType, name: &'a str) -> impl Iterator<Item = &'a Ace> {
        let t = &self.types[ty.index()];
        let prefixed = t
            .prefix_lens
            .iter()
            .take_while(move |&&l| l <= name.len())
            .filter_map(move |&l| name.get(..l).and_then(|p| t.prefixed.get(p)))
            .flatten();
        t.literal
            .get(name)
            .into_iter()
            .flatten()
            .chain(t.wildcard.iter())
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
        for ace in self.matching(ty, name) {
            any = true;
            if !ace.applies_to(principal, host) {
                continue;
            }
            match ace.permission {
                Permission::Deny if ace.operation.deny_covers(operation) => {
                    return Decision::Denied
                }
                Permission::Allow if ace.operation.allow_implies(operation) => allowed = true,
                _ => {}
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
        let relevant = |ace: &Ace, perm: Permission| {
            ace.permission == perm
                && ace.applies_to(principal, host)
                && ace.operation.deny_covers(operation)
        };
        let has = |aces: &[Ace], perm| aces.iter().any(|a| relevant(a, perm));
        if has(&t.wildcard, Permission::Deny) {
            return false;
        }
        if has(&t.wildcard, Permission::Allow) {
            return true;
        }
        let denied_prefix = |name: &str| {
            t.prefixed
                .iter()
                .any(|(p, aces)| name.starts_with(&**p) && has(aces, Permission::Deny))
        };
        let literal_ok = t.literal.iter().any(|(name, aces)| {
            has(aces, Permission::Allow) && !has(aces, Permission::Deny) && !denied_prefix(name)
        });
        literal_ok
            || t.prefixed
                .iter()
                .any(|(name, aces)| has(aces, Permission::Allow) && !denied_prefix(name))
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
}
