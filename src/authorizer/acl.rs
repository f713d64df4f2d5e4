//! Kafka's ACL vocabulary (`org.apache.kafka.common.acl` and `.resource`):
//! resource types, operations, permission and pattern types with their wire
//! codes and their names in the three spellings Kafka uses (the wire enum's
//! `TOPIC`, the znode path's and JSON's `Topic`, the tools' `Topic`/`topic`
//! accepted in any case), resource patterns, access control entries, and the
//! filters of DescribeAcls and DeleteAcls.

use std::fmt;
use std::net::IpAddr;

use crate::principal::KafkaPrincipal;

/// The resource name of the cluster (`Resource.CLUSTER_NAME`).
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The wildcard resource name (`ResourcePattern.WILDCARD_RESOURCE`).
pub const WILDCARD_RESOURCE: &str = "*";
/// The wildcard host (`AclEntry.WildcardHost`).
pub const WILDCARD_HOST: &str = "*";

/// Kafka's `ResourceType` (only the specific ones; ANY is a filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

impl ResourceType {
    /// Every specific resource type.
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
        ResourceType::DelegationToken,
        ResourceType::User,
    ];

    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Group => 3,
            ResourceType::Cluster => 4,
            ResourceType::TransactionalId => 5,
            ResourceType::DelegationToken => 6,
            ResourceType::User => 7,
        }
    }

    /// The type with this wire code.
    pub fn from_code(code: i8) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Index into per-type tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Kafka's Java enum name (`TOPIC`): change notifications and tool output.
    pub fn enum_name(self) -> &'static str {
        match self {
            ResourceType::Topic => "TOPIC",
            ResourceType::Group => "GROUP",
            ResourceType::Cluster => "CLUSTER",
            ResourceType::TransactionalId => "TRANSACTIONAL_ID",
            ResourceType::DelegationToken => "DELEGATION_TOKEN",
            ResourceType::User => "USER",
        }
    }

    /// `SecurityUtils.resourceTypeName` (`Topic`): znode paths and log lines.
    pub fn pascal_name(self) -> &'static str {
        match self {
            ResourceType::Topic => "Topic",
            ResourceType::Group => "Group",
            ResourceType::Cluster => "Cluster",
            ResourceType::TransactionalId => "TransactionalId",
            ResourceType::DelegationToken => "DelegationToken",
            ResourceType::User => "User",
        }
    }

    /// Parses any of Kafka's spellings (`TOPIC`, `Topic`, `topic`,
    /// `TransactionalId`, `TRANSACTIONAL_ID`), as `ResourceType.fromString`
    /// and `SecurityUtils.resourceType` do together.
    pub fn parse(s: &str) -> Option<ResourceType> {
        ResourceType::ALL
            .into_iter()
            .find(|t| loose_eq(s, t.enum_name()))
    }

    /// The operations this resource type has (`AclEntry.supportedOperations`),
    /// for authorized-operations answers.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
        }
    }
}

/// Equal ignoring case and underscores (`IdempotentWrite` = `IDEMPOTENT_WRITE`).
fn loose_eq(a: &str, b: &str) -> bool {
    let mut a = a.bytes().filter(|&c| c != b'_' && c != b'-');
    let mut b = b.bytes().filter(|&c| c != b'_' && c != b'-');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
            _ => return false,
        }
    }
}

/// Kafka's `AclOperation` (the specific ones; ANY is a filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

impl AclOperation {
    /// Every specific operation.
    pub const EVERY: [AclOperation; 13] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
    ];

    /// The wire code (also the bit in authorized-operations fields).
    pub fn code(self) -> i8 {
        self as i8 + 2
    }

    /// The operation with this wire code.
    pub fn from_code(code: i8) -> Option<AclOperation> {
        AclOperation::EVERY.into_iter().find(|o| o.code() == code)
    }

    /// Kafka's Java enum name (`IDEMPOTENT_WRITE`), for tool output.
    pub fn enum_name(self) -> &'static str {
        match self {
            AclOperation::All => "ALL",
            AclOperation::Read => "READ",
            AclOperation::Write => "WRITE",
            AclOperation::Create => "CREATE",
            AclOperation::Delete => "DELETE",
            AclOperation::Alter => "ALTER",
            AclOperation::Describe => "DESCRIBE",
            AclOperation::ClusterAction => "CLUSTER_ACTION",
            AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
            AclOperation::AlterConfigs => "ALTER_CONFIGS",
            AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
            AclOperation::CreateTokens => "CREATE_TOKENS",
            AclOperation::DescribeTokens => "DESCRIBE_TOKENS",
        }
    }

    /// `SecurityUtils.operationName` (`IdempotentWrite`): znode JSON and log lines.
    pub fn pascal_name(self) -> &'static str {
        match self {
            AclOperation::All => "All",
            AclOperation::Read => "Read",
            AclOperation::Write => "Write",
            AclOperation::Create => "Create",
            AclOperation::Delete => "Delete",
            AclOperation::Alter => "Alter",
            AclOperation::Describe => "Describe",
            AclOperation::ClusterAction => "ClusterAction",
            AclOperation::DescribeConfigs => "DescribeConfigs",
            AclOperation::AlterConfigs => "AlterConfigs",
            AclOperation::IdempotentWrite => "IdempotentWrite",
            AclOperation::CreateTokens => "CreateTokens",
            AclOperation::DescribeTokens => "DescribeTokens",
        }
    }

    /// Parses any of Kafka's spellings.
    pub fn parse(s: &str) -> Option<AclOperation> {
        AclOperation::EVERY
            .into_iter()
            .find(|o| loose_eq(s, o.enum_name()))
    }

    /// Whether an ALLOW entry for `self` grants `wanted`: AclAuthorizer's
    /// implied operations (DESCRIBE by READ, WRITE, DELETE, ALTER;
    /// DESCRIBE_CONFIGS by ALTER_CONFIGS; ALL implies everything).
    pub fn allow_implies(self, wanted: AclOperation) -> bool {
        use AclOperation::*;
        self == wanted
            || self == All
            || (wanted == Describe && matches!(self, Read | Write | Delete | Alter))
            || (wanted == DescribeConfigs && self == AlterConfigs)
    }

    /// Whether a DENY entry for `self` forbids `wanted`: only the operation
    /// itself or ALL (a denied READ leaves DESCRIBE alone, as in Kafka).
    pub fn deny_covers(self, wanted: AclOperation) -> bool {
        self == wanted || self == AclOperation::All
    }
}

/// ALLOW or DENY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Deny,
    Allow,
}

impl Permission {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            Permission::Deny => 2,
            Permission::Allow => 3,
        }
    }
    /// From the wire code.
    pub fn from_code(code: i8) -> Option<Permission> {
        match code {
            2 => Some(Permission::Deny),
            3 => Some(Permission::Allow),
            _ => None,
        }
    }
    /// `Allow`/`Deny`, as in znodes.
    pub fn pascal_name(self) -> &'static str {
        match self {
            Permission::Deny => "Deny",
            Permission::Allow => "Allow",
        }
    }
    /// `ALLOW`/`DENY`, as the tool prints.
    pub fn enum_name(self) -> &'static str {
        match self {
            Permission::Deny => "DENY",
            Permission::Allow => "ALLOW",
        }
    }
    /// Any case.
    pub fn parse(s: &str) -> Option<Permission> {
        [Permission::Deny, Permission::Allow]
            .into_iter()
            .find(|p| s.eq_ignore_ascii_case(p.enum_name()))
    }
}

/// LITERAL or PREFIXED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatternType {
    Literal,
    Prefixed,
}

impl PatternType {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }
    /// From the wire code.
    pub fn from_code(code: i8) -> Option<PatternType> {
        match code {
            3 => Some(PatternType::Literal),
            4 => Some(PatternType::Prefixed),
            _ => None,
        }
    }
    /// `LITERAL`/`PREFIXED`.
    pub fn enum_name(self) -> &'static str {
        match self {
            PatternType::Literal => "LITERAL",
            PatternType::Prefixed => "PREFIXED",
        }
    }
    /// Any case.
    pub fn parse(s: &str) -> Option<PatternType> {
        [PatternType::Literal, PatternType::Prefixed]
            .into_iter()
            .find(|p| s.eq_ignore_ascii_case(p.enum_name()))
    }
}

/// A resource pattern (`ResourcePattern`): type, name, pattern type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl fmt::Display for ResourcePattern {
    /// Kafka's `ResourcePattern.toString`, as `kafka-acls --list` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type.enum_name(),
            self.name,
            self.pattern_type.enum_name()
        )
    }
}

/// An access control entry (Kafka's `AccessControlEntry`/`AclEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// An IP address as the client connects from, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: Permission,
}

impl fmt::Display for AccessControlEntry {
    /// Kafka's `AccessControlEntry.toString` as the tool prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal,
            self.host,
            self.operation.enum_name(),
            self.permission.enum_name()
        )
    }
}

/// A resource pattern with one entry (`AclBinding`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

/// Why an ACL cannot be created (CreateAcls' INVALID_REQUEST and friends).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAcl {
    #[error("unknown resource type code {0}")]
    ResourceType(i8),
    #[error("unknown or non-specific pattern type code {0}")]
    PatternType(i8),
    #[error("unknown operation code {0}")]
    Operation(i8),
    #[error("unknown permission type code {0}")]
    Permission(i8),
    #[error("{0}")]
    Principal(String),
    #[error("resource name must not be empty")]
    EmptyName,
    #[error("a cluster resource must be named {CLUSTER_NAME} (got {0:?})")]
    ClusterName(String),
    #[error("operation {op} is not supported on resource type {ty}")]
    Unsupported { op: &'static str, ty: &'static str },
}

impl AclBinding {
    /// Builds and checks a binding from wire codes, as Kafka's
    /// `AclControlManager.validateNewAcl`/`AclAuthorizer` do.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<AclBinding, InvalidAcl> {
        let resource_type = ResourceType::from_code(resource_type)
            .ok_or(InvalidAcl::ResourceType(resource_type))?;
        let pattern_type =
            PatternType::from_code(pattern_type).ok_or(InvalidAcl::PatternType(pattern_type))?;
        let operation =
            AclOperation::from_code(operation).ok_or(InvalidAcl::Operation(operation))?;
        let permission =
            Permission::from_code(permission).ok_or(InvalidAcl::Permission(permission))?;
        principal
            .parse::<KafkaPrincipal>()
            .map_err(|e| InvalidAcl::Principal(e.to_string()))?;
        if name.is_empty() {
            return Err(InvalidAcl::EmptyName);
        }
        if resource_type == ResourceType::Cluster && name != CLUSTER_NAME {
            return Err(InvalidAcl::ClusterName(name.to_string()));
        }
        Ok(AclBinding {
            pattern: ResourcePattern {
                resource_type,
                name: name.to_string(),
                pattern_type,
            },
            entry: AccessControlEntry {
                principal: principal.to_string(),
                host: host.to_string(),
                operation,
                permission,
            },
        })
    }
}

impl AclBinding {
    /// Whether the operation is one the resource type has (the tool's check,
    /// `AclCommand.validateOperation`; the broker accepts any).
    pub fn check_operation(&self) -> Result<(), InvalidAcl> {
        let (op, ty) = (self.entry.operation, self.pattern.resource_type);
        if op == AclOperation::All || ty.supported_operations().contains(&op) {
            Ok(())
        } else {
            Err(InvalidAcl::Unsupported {
                op: op.pascal_name(),
                ty: ty.pascal_name(),
            })
        }
    }
}

/// A pattern type in a filter: ANY, MATCH or one specific type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternFilter {
    Any,
    Match,
    Exactly(PatternType),
}

/// A DescribeAcls/DeleteAcls filter (`AclBindingFilter`); `None` fields
/// match anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclBindingFilter {
    pub resource_type: Option<ResourceType>,
    pub name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<Permission>,
}

impl AclBindingFilter {
    /// From the wire codes; `Err` names what is unknown (INVALID_REQUEST).
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<AclBindingFilter, InvalidAcl> {
        const ANY: i8 = 1;
        const MATCH: i8 = 2;
        let resource_type = match resource_type {
            ANY => None,
            c => Some(ResourceType::from_code(c).ok_or(InvalidAcl::ResourceType(c))?),
        };
        let pattern = match pattern_type {
            ANY => PatternFilter::Any,
            MATCH => PatternFilter::Match,
            c => {
                PatternFilter::Exactly(PatternType::from_code(c).ok_or(InvalidAcl::PatternType(c))?)
            }
        };
        let operation = match operation {
            ANY => None,
            c => Some(AclOperation::from_code(c).ok_or(InvalidAcl::Operation(c))?),
        };
        let permission = match permission {
            ANY => None,
            c => Some(Permission::from_code(c).ok_or(InvalidAcl::Permission(c))?),
        };
        Ok(AclBindingFilter {
            resource_type,
            name: name.map(str::to_string),
            pattern,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation,
            permission,
        })
    }

    /// Whether the filter matches `binding` (`AclBindingFilter.matches`).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        let p = &binding.pattern;
        let e = &binding.entry;
        if self.resource_type.is_some_and(|t| t != p.resource_type) {
            return false;
        }
        let name_ok = match (&self.pattern, &self.name) {
            (PatternFilter::Any, None) | (PatternFilter::Match, None) => true,
            (PatternFilter::Exactly(t), None) => *t == p.pattern_type,
            (PatternFilter::Any, Some(n)) => *n == p.name,
            (PatternFilter::Exactly(t), Some(n)) => *t == p.pattern_type && *n == p.name,
            // MATCH: every pattern that would apply to a resource of this name.
            (PatternFilter::Match, Some(n)) => match p.pattern_type {
                PatternType::Literal => p.name == *n || p.name == WILDCARD_RESOURCE,
                PatternType::Prefixed => n.starts_with(p.name.as_str()),
            },
        };
        name_ok
            && self.principal.as_ref().is_none_or(|x| *x == e.principal)
            && self.host.as_ref().is_none_or(|x| *x == e.host)
            && self.operation.is_none_or(|o| o == e.operation)
            && self.permission.is_none_or(|x| x == e.permission)
    }
}

/// An entry's host, parsed once for matching without allocation: `*`, an
/// address, or a name (which, as in Kafka, never equals a client address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostMatch {
    Any,
    Ip(IpAddr),
    Never,
}

impl HostMatch {
    pub(crate) fn parse(host: &str) -> HostMatch {
        if host == WILDCARD_HOST {
            return HostMatch::Any;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => HostMatch::Ip(ip.to_canonical()),
            Err(_) => HostMatch::Never,
        }
    }

    pub(crate) fn matches(self, ip: IpAddr) -> bool {
        match self {
            HostMatch::Any => true,
            HostMatch::Ip(h) => h == ip,
            HostMatch::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_kafkas() {
        assert_eq!(AclOperation::Read.code(), 3);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::DescribeTokens.code(), 14);
        assert_eq!(
            AclOperation::parse("IdempotentWrite"),
            Some(AclOperation::IdempotentWrite)
        );
        assert_eq!(
            AclOperation::parse("describe_configs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            ResourceType::parse("TransactionalId"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(ResourceType::parse("TOPIC"), Some(ResourceType::Topic));
        assert_eq!(ResourceType::Cluster.code(), 4);
        assert_eq!(PatternType::from_code(4), Some(PatternType::Prefixed));
        for op in AclOperation::EVERY {
            assert_eq!(AclOperation::from_code(op.code()), Some(op));
            assert_eq!(AclOperation::parse(op.pascal_name()), Some(op));
        }
    }

    #[test]
    fn implications_are_acl_authorizers() {
        use AclOperation::*;
        for op in [Read, Write, Delete, Alter] {
            assert!(op.allow_implies(Describe));
            assert!(!op.deny_covers(Describe));
        }
        assert!(!Create.allow_implies(Describe));
        assert!(AlterConfigs.allow_implies(DescribeConfigs));
        assert!(!DescribeConfigs.allow_implies(AlterConfigs));
        assert!(All.allow_implies(IdempotentWrite));
        assert!(All.deny_covers(Read));
        assert!(!Read.allow_implies(Write));
    }

    #[test]
    fn bindings_are_validated() {
        let ok = AclBinding::from_wire(2, "t", 3, "User:alice", "*", 4, 3).unwrap();
        assert_eq!(ok.entry.operation, AclOperation::Write);
        assert!(AclBinding::from_wire(4, "other", 3, "User:a", "*", 7, 3).is_err());
        assert!(AclBinding::from_wire(2, "t", 1, "User:a", "*", 4, 3).is_err());
        assert!(AclBinding::from_wire(2, "t", 3, "alice", "*", 4, 3).is_err());
        let write_group = AclBinding::from_wire(3, "g", 3, "User:a", "*", 4, 3).unwrap();
        assert!(write_group.check_operation().is_err());
        assert!(ok.check_operation().is_ok());
    }

    #[test]
    fn filters_match_like_kafka() {
        let b = AclBinding::from_wire(2, "pay", 4, "User:a", "*", 3, 3).unwrap();
        let f = |name: Option<&str>, pt: i8| {
            AclBindingFilter::from_wire(1, name, pt, None, None, 1, 1).unwrap()
        };
        assert!(f(None, 1).matches(&b));
        assert!(f(Some("payments"), 2).matches(&b));
        assert!(!f(Some("payments"), 1).matches(&b));
        assert!(f(Some("pay"), 4).matches(&b));
        assert!(!f(Some("pay"), 3).matches(&b));
    }

    #[test]
    fn hosts_compare_as_addresses() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(HostMatch::parse("*").matches(lo));
        assert!(HostMatch::parse("127.0.0.1").matches(lo));
        assert!(!HostMatch::parse("127.0.0.2").matches(lo));
        assert!(!HostMatch::parse("localhost").matches(lo));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(HostMatch::parse("::ffff:127.0.0.1").matches(mapped.to_canonical()));
    }
}
