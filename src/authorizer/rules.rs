//! THE table of what each API checks, from Kafka 3.5's `KafkaApis`: one row
//! per (API, resource, operation), naming the error a denial answers. The
//! protocol handlers name a row ([`Check`]) when they ask the authorizer;
//! the row gives the resource type, the operation and the API of the log
//! line, so no handler spells an operation of its own.
//!
//! DescribeCluster, ApiVersions and the authorized-operations fields check
//! nothing (they only report); SaslHandshake/SaslAuthenticate are not here.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use super::acl::{AclOperation, ResourceType};

/// One check a handler makes; the row of [`RULES`] at its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    ProduceTransactionalId,
    ProduceTopic,
    FetchFollower,
    FetchTopic,
    ListOffsetsTopic,
    MetadataTopic,
    MetadataCreateCluster,
    MetadataCreateTopic,
    OffsetCommitGroup,
    OffsetCommitTopic,
    OffsetFetchGroup,
    OffsetFetchTopic,
    FindCoordinatorGroup,
    FindCoordinatorTransaction,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    DescribeGroups,
    ListGroupsCluster,
    ListGroupsGroup,
    DeleteGroups,
    OffsetDeleteGroup,
    OffsetDeleteTopic,
    CreateTopicsCluster,
    CreateTopicsTopic,
    CreateTopicsDescribeConfigs,
    DeleteTopics,
    DeleteRecords,
    CreatePartitions,
    DescribeConfigsTopic,
    DescribeConfigsBroker,
    AlterConfigsTopic,
    AlterConfigsBroker,
    IncrementalAlterConfigsTopic,
    IncrementalAlterConfigsBroker,
    InitProducerIdTransactional,
    InitProducerIdIdempotent,
    InitProducerIdAnyTopic,
    DescribeAcls,
    CreateAcls,
    DeleteAcls,
    DescribeLogDirs,
    OffsetForLeaderEpochTopic,
    OffsetForLeaderEpochFollower,
    DescribeProducers,
    ElectLeaders,
    ListPartitionReassignments,
    AlterPartitionReassignments,
    DescribeClientQuotas,
    AlterClientQuotas,
}

/// One row: the API, the resource it checks, the operation, the error a
/// denial answers (where it answers one), and when the check applies.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub check: Check,
    pub api: ApiKey,
    pub resource: ResourceType,
    pub operation: AclOperation,
    /// The error code of a denial; `None` where a denial filters (the
    /// resource is left out) or falls back to another row.
    pub denied: Option<i16>,
    pub when: &'static str,
}

const TOPIC: Option<i16> = Some(ResponseError::TopicAuthorizationFailed.code());
const GROUP: Option<i16> = Some(ResponseError::GroupAuthorizationFailed.code());
const CLUSTER: Option<i16> = Some(ResponseError::ClusterAuthorizationFailed.code());
const TXN: Option<i16> = Some(ResponseError::TransactionalIdAuthorizationFailed.code());

const fn row(
    check: Check,
    api: ApiKey,
    resource: ResourceType,
    operation: AclOperation,
    denied: Option<i16>,
    when: &'static str,
) -> Rule {
    Rule {
        check,
        api,
        resource,
        operation,
        denied,
        when,
    }
}

use AclOperation::*;
use ApiKey as K;
use Check as C;
use ResourceType::{Cluster, Group, Topic, TransactionalId};

/// API → resource → operation, in [`Check`]'s order.
pub const RULES: &[Rule] = &[
    row(
        C::ProduceTransactionalId,
        K::Produce,
        TransactionalId,
        Write,
        TXN,
        "a transactional id is given: the whole request fails",
    ),
    row(
        C::ProduceTopic,
        K::Produce,
        Topic,
        Write,
        TOPIC,
        "each topic",
    ),
    row(
        C::FetchFollower,
        K::Fetch,
        Cluster,
        ClusterAction,
        TOPIC,
        "a replica fetches (replica id >= 0): every partition TOPIC_AUTHORIZATION_FAILED",
    ),
    row(
        C::FetchTopic,
        K::Fetch,
        Topic,
        Read,
        TOPIC,
        "each topic of a consumer fetch",
    ),
    row(
        C::ListOffsetsTopic,
        K::ListOffsets,
        Topic,
        Describe,
        TOPIC,
        "each topic",
    ),
    row(
        C::MetadataTopic,
        K::Metadata,
        Topic,
        Describe,
        TOPIC,
        "each topic: left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED when named",
    ),
    row(
        C::MetadataCreateCluster,
        K::Metadata,
        Cluster,
        Create,
        None,
        "auto-creating a named topic; else the topic row below",
    ),
    row(
        C::MetadataCreateTopic,
        K::Metadata,
        Topic,
        Create,
        TOPIC,
        "auto-creating a named topic without CREATE on the cluster",
    ),
    row(
        C::OffsetCommitGroup,
        K::OffsetCommit,
        Group,
        Read,
        GROUP,
        "the group",
    ),
    row(
        C::OffsetCommitTopic,
        K::OffsetCommit,
        Topic,
        Read,
        TOPIC,
        "each topic",
    ),
    row(
        C::OffsetFetchGroup,
        K::OffsetFetch,
        Group,
        Describe,
        GROUP,
        "each group",
    ),
    row(
        C::OffsetFetchTopic,
        K::OffsetFetch,
        Topic,
        Describe,
        TOPIC,
        "each topic named; left out of an all-partitions answer",
    ),
    row(
        C::FindCoordinatorGroup,
        K::FindCoordinator,
        Group,
        Describe,
        GROUP,
        "key type GROUP",
    ),
    row(
        C::FindCoordinatorTransaction,
        K::FindCoordinator,
        TransactionalId,
        Describe,
        TXN,
        "key type TRANSACTION",
    ),
    row(C::JoinGroup, K::JoinGroup, Group, Read, GROUP, "the group"),
    row(C::SyncGroup, K::SyncGroup, Group, Read, GROUP, "the group"),
    row(C::Heartbeat, K::Heartbeat, Group, Read, GROUP, "the group"),
    row(
        C::LeaveGroup,
        K::LeaveGroup,
        Group,
        Read,
        GROUP,
        "the group",
    ),
    row(
        C::DescribeGroups,
        K::DescribeGroups,
        Group,
        Describe,
        GROUP,
        "each group",
    ),
    row(
        C::ListGroupsCluster,
        K::ListGroups,
        Cluster,
        Describe,
        None,
        "every group is listed; else the group row below",
    ),
    row(
        C::ListGroupsGroup,
        K::ListGroups,
        Group,
        Describe,
        None,
        "each group: left out unless allowed",
    ),
    row(
        C::DeleteGroups,
        K::DeleteGroups,
        Group,
        Delete,
        GROUP,
        "each group",
    ),
    row(
        C::OffsetDeleteGroup,
        K::OffsetDelete,
        Group,
        Delete,
        GROUP,
        "the group",
    ),
    row(
        C::OffsetDeleteTopic,
        K::OffsetDelete,
        Topic,
        Read,
        TOPIC,
        "each topic",
    ),
    row(
        C::CreateTopicsCluster,
        K::CreateTopics,
        Cluster,
        Create,
        None,
        "every topic; else the topic row below",
    ),
    row(
        C::CreateTopicsTopic,
        K::CreateTopics,
        Topic,
        Create,
        TOPIC,
        "each topic without CREATE on the cluster",
    ),
    row(
        C::CreateTopicsDescribeConfigs,
        K::CreateTopics,
        Topic,
        DescribeConfigs,
        TOPIC,
        "each created topic's configs in the answer (v5+; topic_config_error_code)",
    ),
    row(
        C::DeleteTopics,
        K::DeleteTopics,
        Topic,
        Delete,
        TOPIC,
        "each topic",
    ),
    row(
        C::DeleteRecords,
        K::DeleteRecords,
        Topic,
        Delete,
        TOPIC,
        "each topic",
    ),
    row(
        C::CreatePartitions,
        K::CreatePartitions,
        Topic,
        Alter,
        TOPIC,
        "each topic",
    ),
    row(
        C::DescribeConfigsTopic,
        K::DescribeConfigs,
        Topic,
        DescribeConfigs,
        TOPIC,
        "a topic resource",
    ),
    row(
        C::DescribeConfigsBroker,
        K::DescribeConfigs,
        Cluster,
        DescribeConfigs,
        CLUSTER,
        "a broker or broker-logger resource",
    ),
    row(
        C::AlterConfigsTopic,
        K::AlterConfigs,
        Topic,
        AlterConfigs,
        TOPIC,
        "a topic resource",
    ),
    row(
        C::AlterConfigsBroker,
        K::AlterConfigs,
        Cluster,
        AlterConfigs,
        CLUSTER,
        "a broker or broker-logger resource",
    ),
    row(
        C::IncrementalAlterConfigsTopic,
        K::IncrementalAlterConfigs,
        Topic,
        AlterConfigs,
        TOPIC,
        "a topic resource",
    ),
    row(
        C::IncrementalAlterConfigsBroker,
        K::IncrementalAlterConfigs,
        Cluster,
        AlterConfigs,
        CLUSTER,
        "a broker or broker-logger resource",
    ),
    row(
        C::InitProducerIdTransactional,
        K::InitProducerId,
        TransactionalId,
        Write,
        TXN,
        "a transactional id is given",
    ),
    row(
        C::InitProducerIdIdempotent,
        K::InitProducerId,
        Cluster,
        IdempotentWrite,
        None,
        "no transactional id; else the any-topic row below",
    ),
    row(
        C::InitProducerIdAnyTopic,
        K::InitProducerId,
        Topic,
        Write,
        CLUSTER,
        "no transactional id and no IDEMPOTENT_WRITE: WRITE on any topic (authorizeByResourceType)",
    ),
    row(
        C::DescribeAcls,
        K::DescribeAcls,
        Cluster,
        Describe,
        CLUSTER,
        "always",
    ),
    row(
        C::CreateAcls,
        K::CreateAcls,
        Cluster,
        Alter,
        CLUSTER,
        "always",
    ),
    row(
        C::DeleteAcls,
        K::DeleteAcls,
        Cluster,
        Alter,
        CLUSTER,
        "always",
    ),
    row(
        C::DescribeLogDirs,
        K::DescribeLogDirs,
        Cluster,
        Describe,
        CLUSTER,
        "always (an empty answer, CLUSTER_AUTHORIZATION_FAILED from v3)",
    ),
    row(
        C::OffsetForLeaderEpochTopic,
        K::OffsetForLeaderEpoch,
        Topic,
        Describe,
        TOPIC,
        "each topic without CLUSTER_ACTION (KIP-320)",
    ),
    row(
        C::OffsetForLeaderEpochFollower,
        K::OffsetForLeaderEpoch,
        Cluster,
        ClusterAction,
        None,
        "every topic (a replica's right); else the topic row above",
    ),
    row(
        C::DescribeProducers,
        K::DescribeProducers,
        Topic,
        Read,
        TOPIC,
        "each topic",
    ),
    row(
        C::ElectLeaders,
        K::ElectLeaders,
        Cluster,
        Alter,
        CLUSTER,
        "always",
    ),
    row(
        C::ListPartitionReassignments,
        K::ListPartitionReassignments,
        Cluster,
        Describe,
        CLUSTER,
        "always",
    ),
    row(
        C::AlterPartitionReassignments,
        K::AlterPartitionReassignments,
        Cluster,
        Alter,
        CLUSTER,
        "always",
    ),
    row(
        C::DescribeClientQuotas,
        K::DescribeClientQuotas,
        Cluster,
        DescribeConfigs,
        CLUSTER,
        "always",
    ),
    row(
        C::AlterClientQuotas,
        K::AlterClientQuotas,
        Cluster,
        AlterConfigs,
        CLUSTER,
        "always",
    ),
];

impl Check {
    /// Its row.
    pub fn rule(self) -> &'static Rule {
        // The order is checked by a unit test; the fallback never runs.
        RULES.get(self as usize).unwrap_or(&RULES[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_check_order() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.check as usize, i, "{:?} is out of place", r.check);
            assert!(
                r.operation == All || r.resource.supported_operations().contains(&r.operation),
                "{:?}: {:?} is not an operation of {:?}",
                r.check,
                r.operation,
                r.resource
            );
        }
        assert_eq!(RULES.len(), Check::AlterClientQuotas as usize + 1);
    }
}
