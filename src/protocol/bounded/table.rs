//! The schema table: Kafka 3.5's request messages (Kafka's
//! `clients/src/main/resources/common/message/*Request.json`), one row per
//! field: name, type, versions present, versions nullable, tag. Each struct
//! names the kafka-protocol type it decodes into, whose `size_of` is what one
//! array element of it costs.
//!
//! Written from Kafka's schemas and checked against kafka-protocol by
//! `tests::every_table_version_matches_kafka_protocol`; a field added to a
//! schema here needs no code in the walker.

use std::mem::size_of;

use kafka_protocol::messages as m;
use kafka_protocol::messages::ApiKey;

use super::{f, Elem, MessageSchema, Schema, Ty, NONE, UP};
use Ty::{Array, Bool, Bytes as Byt, Records, Str, Uuid, F64, I16, I32, I64, I8};

const fn arr(s: &'static Schema) -> Ty {
    Array(Elem::Struct(s))
}
const ARR_I32: Ty = Array(Elem::I32);
const ARR_STR: Ty = Array(Elem::Str);

pub(super) static HEADER_SCHEMA: Schema = Schema {
    name: "RequestHeader",
    mem: size_of::<m::RequestHeader>(),
    fields: &[],
};

/// `schema! { NAME: kafka_protocol::Type = [fields] }`: one struct's row.
macro_rules! schema {
    ($static:ident : $ty:ty = [$($field:expr),* $(,)?]) => {
        static $static: Schema = Schema {
            name: stringify!($ty),
            mem: size_of::<$ty>(),
            fields: &[$($field),*],
        };
    };
}

// Produce (0): v0-9, flexible 9+.
schema! { PRODUCE_PARTITION: m::produce_request::PartitionProduceData = [
    f("Index", I32, 0, UP),
    f("Records", Records, 0, UP).null(0, UP),
] }
schema! { PRODUCE_TOPIC: m::produce_request::TopicProduceData = [
    f("Name", Str, 0, UP),
    f("PartitionData", arr(&PRODUCE_PARTITION), 0, UP),
] }
schema! { PRODUCE: m::ProduceRequest = [
    f("TransactionalId", Str, 3, UP).null(0, UP),
    f("Acks", I16, 0, UP),
    f("TimeoutMs", I32, 0, UP),
    f("TopicData", arr(&PRODUCE_TOPIC), 0, UP),
] }

// Fetch (1): v0-15, flexible 12+.
schema! { FETCH_REPLICA_STATE: m::fetch_request::ReplicaState = [
    f("ReplicaId", I32, 15, UP), f("ReplicaEpoch", I64, 15, UP),
] }
schema! { FETCH_PARTITION: m::fetch_request::FetchPartition = [
    f("Partition", I32, 0, UP),
    f("CurrentLeaderEpoch", I32, 9, UP),
    f("FetchOffset", I64, 0, UP),
    f("LastFetchedEpoch", I32, 12, UP),
    f("LogStartOffset", I64, 5, UP),
    f("PartitionMaxBytes", I32, 0, UP),
] }
schema! { FETCH_TOPIC: m::fetch_request::FetchTopic = [
    f("Topic", Str, 0, 12),
    f("TopicId", Uuid, 13, UP),
    f("Partitions", arr(&FETCH_PARTITION), 0, UP),
] }
schema! { FETCH_FORGOTTEN: m::fetch_request::ForgottenTopic = [
    f("Topic", Str, 7, 12),
    f("TopicId", Uuid, 13, UP),
    f("Partitions", ARR_I32, 7, UP),
] }
schema! { FETCH: m::FetchRequest = [
    f("ClusterId", Str, 12, UP).null(12, UP).tag(0),
    f("ReplicaId", I32, 0, 14),
    f("ReplicaState", Ty::Struct(&FETCH_REPLICA_STATE), 15, UP).tag(1),
    f("MaxWaitMs", I32, 0, UP),
    f("MinBytes", I32, 0, UP),
    f("MaxBytes", I32, 3, UP),
    f("IsolationLevel", I8, 4, UP),
    f("SessionId", I32, 7, UP),
    f("SessionEpoch", I32, 7, UP),
    f("Topics", arr(&FETCH_TOPIC), 0, UP),
    f("ForgottenTopicsData", arr(&FETCH_FORGOTTEN), 7, UP),
    f("RackId", Str, 11, UP),
] }

// ListOffsets (2): v0-8, flexible 6+.
schema! { LIST_OFFSETS_PARTITION: m::list_offsets_request::ListOffsetsPartition = [
    f("PartitionIndex", I32, 0, UP),
    f("CurrentLeaderEpoch", I32, 4, UP),
    f("Timestamp", I64, 0, UP),
    f("MaxNumOffsets", I32, 0, 0),
] }
schema! { LIST_OFFSETS_TOPIC: m::list_offsets_request::ListOffsetsTopic = [
    f("Name", Str, 0, UP),
    f("Partitions", arr(&LIST_OFFSETS_PARTITION), 0, UP),
] }
schema! { LIST_OFFSETS: m::ListOffsetsRequest = [
    f("ReplicaId", I32, 0, UP),
    f("IsolationLevel", I8, 2, UP),
    f("Topics", arr(&LIST_OFFSETS_TOPIC), 0, UP),
] }

// Metadata (3): v0-12, flexible 9+.
schema! { METADATA_TOPIC: m::metadata_request::MetadataRequestTopic = [
    f("TopicId", Uuid, 10, UP),
    f("Name", Str, 0, UP).null(10, UP),
] }
schema! { METADATA: m::MetadataRequest = [
    f("Topics", arr(&METADATA_TOPIC), 0, UP).null(1, UP),
    f("AllowAutoTopicCreation", Bool, 4, UP),
    f("IncludeClusterAuthorizedOperations", Bool, 8, 10),
    f("IncludeTopicAuthorizedOperations", Bool, 8, UP),
] }

// OffsetCommit (8): v0-8, flexible 8+.
schema! { OFFSET_COMMIT_PARTITION: m::offset_commit_request::OffsetCommitRequestPartition = [
    f("PartitionIndex", I32, 0, UP),
    f("CommittedOffset", I64, 0, UP),
    f("CommittedLeaderEpoch", I32, 6, UP),
    f("CommitTimestamp", I64, 1, 1),
    f("CommittedMetadata", Str, 0, UP).null(0, UP),
] }
schema! { OFFSET_COMMIT_TOPIC: m::offset_commit_request::OffsetCommitRequestTopic = [
    f("Name", Str, 0, UP),
    f("Partitions", arr(&OFFSET_COMMIT_PARTITION), 0, UP),
] }
schema! { OFFSET_COMMIT: m::OffsetCommitRequest = [
    f("GroupId", Str, 0, UP),
    f("GenerationIdOrMemberEpoch", I32, 1, UP),
    f("MemberId", Str, 1, UP),
    f("GroupInstanceId", Str, 7, UP).null(7, UP),
    f("RetentionTimeMs", I64, 2, 4),
    f("Topics", arr(&OFFSET_COMMIT_TOPIC), 0, UP),
] }

// OffsetFetch (9): v0-8, flexible 6+.
schema! { OFFSET_FETCH_TOPIC: m::offset_fetch_request::OffsetFetchRequestTopic = [
    f("Name", Str, 0, 7), f("PartitionIndexes", ARR_I32, 0, 7),
] }
schema! { OFFSET_FETCH_GROUP_TOPIC: m::offset_fetch_request::OffsetFetchRequestTopics = [
    f("Name", Str, 8, UP), f("PartitionIndexes", ARR_I32, 8, UP),
] }
schema! { OFFSET_FETCH_GROUP: m::offset_fetch_request::OffsetFetchRequestGroup = [
    f("GroupId", Str, 8, UP),
    f("Topics", arr(&OFFSET_FETCH_GROUP_TOPIC), 8, UP).null(8, UP),
] }
schema! { OFFSET_FETCH: m::OffsetFetchRequest = [
    f("GroupId", Str, 0, 7),
    f("Topics", arr(&OFFSET_FETCH_TOPIC), 0, 7).null(2, 7),
    f("Groups", arr(&OFFSET_FETCH_GROUP), 8, UP),
    f("RequireStable", Bool, 7, UP),
] }

// FindCoordinator (10): v0-4, flexible 3+.
schema! { FIND_COORDINATOR: m::FindCoordinatorRequest = [
    f("Key", Str, 0, 3),
    f("KeyType", I8, 1, UP),
    f("CoordinatorKeys", ARR_STR, 4, UP),
] }

// JoinGroup (11): v0-9, flexible 6+.
schema! { JOIN_GROUP_PROTOCOL: m::join_group_request::JoinGroupRequestProtocol = [
    f("Name", Str, 0, UP), f("Metadata", Byt, 0, UP),
] }
schema! { JOIN_GROUP: m::JoinGroupRequest = [
    f("GroupId", Str, 0, UP),
    f("SessionTimeoutMs", I32, 0, UP),
    f("RebalanceTimeoutMs", I32, 1, UP),
    f("MemberId", Str, 0, UP),
    f("GroupInstanceId", Str, 5, UP).null(5, UP),
    f("ProtocolType", Str, 0, UP),
    f("Protocols", arr(&JOIN_GROUP_PROTOCOL), 0, UP),
    f("Reason", Str, 8, UP).null(8, UP),
] }

// Heartbeat (12): v0-4, flexible 4+.
schema! { HEARTBEAT: m::HeartbeatRequest = [
    f("GroupId", Str, 0, UP),
    f("GenerationId", I32, 0, UP),
    f("MemberId", Str, 0, UP),
    f("GroupInstanceId", Str, 3, UP).null(3, UP),
] }

// LeaveGroup (13): v0-5, flexible 4+.
schema! { LEAVE_GROUP_MEMBER: m::leave_group_request::MemberIdentity = [
    f("MemberId", Str, 3, UP),
    f("GroupInstanceId", Str, 3, UP).null(3, UP),
    f("Reason", Str, 5, UP).null(5, UP),
] }
schema! { LEAVE_GROUP: m::LeaveGroupRequest = [
    f("GroupId", Str, 0, UP),
    f("MemberId", Str, 0, 2),
    f("Members", arr(&LEAVE_GROUP_MEMBER), 3, UP),
] }

// SyncGroup (14): v0-5, flexible 4+.
schema! { SYNC_GROUP_ASSIGNMENT: m::sync_group_request::SyncGroupRequestAssignment = [
    f("MemberId", Str, 0, UP), f("Assignment", Byt, 0, UP),
] }
schema! { SYNC_GROUP: m::SyncGroupRequest = [
    f("GroupId", Str, 0, UP),
    f("GenerationId", I32, 0, UP),
    f("MemberId", Str, 0, UP),
    f("GroupInstanceId", Str, 3, UP).null(3, UP),
    f("ProtocolType", Str, 5, UP).null(5, UP),
    f("ProtocolName", Str, 5, UP).null(5, UP),
    f("Assignments", arr(&SYNC_GROUP_ASSIGNMENT), 0, UP),
] }

// DescribeGroups (15): v0-5, flexible 5+.
schema! { DESCRIBE_GROUPS: m::DescribeGroupsRequest = [
    f("Groups", ARR_STR, 0, UP),
    f("IncludeAuthorizedOperations", Bool, 3, UP),
] }

// ListGroups (16): v0-4, flexible 3+.
schema! { LIST_GROUPS: m::ListGroupsRequest = [
    f("StatesFilter", ARR_STR, 4, UP),
] }

// SaslHandshake (17): v0-1, never flexible.
schema! { SASL_HANDSHAKE: m::SaslHandshakeRequest = [
    f("Mechanism", Str, 0, UP),
] }

// ApiVersions (18): v0-3, flexible 3+.
schema! { API_VERSIONS: m::ApiVersionsRequest = [
    f("ClientSoftwareName", Str, 3, UP),
    f("ClientSoftwareVersion", Str, 3, UP),
] }

// CreateTopics (19): v0-7, flexible 5+.
schema! { CREATE_TOPICS_ASSIGNMENT: m::create_topics_request::CreatableReplicaAssignment = [
    f("PartitionIndex", I32, 0, UP),
    f("BrokerIds", ARR_I32, 0, UP),
] }
schema! { CREATE_TOPICS_CONFIG: m::create_topics_request::CreatableTopicConfig = [
    f("Name", Str, 0, UP), f("Value", Str, 0, UP).null(0, UP),
] }
schema! { CREATE_TOPICS_TOPIC: m::create_topics_request::CreatableTopic = [
    f("Name", Str, 0, UP),
    f("NumPartitions", I32, 0, UP),
    f("ReplicationFactor", I16, 0, UP),
    f("Assignments", arr(&CREATE_TOPICS_ASSIGNMENT), 0, UP),
    f("Configs", arr(&CREATE_TOPICS_CONFIG), 0, UP),
] }
schema! { CREATE_TOPICS: m::CreateTopicsRequest = [
    f("Topics", arr(&CREATE_TOPICS_TOPIC), 0, UP),
    f("TimeoutMs", I32, 0, UP),
    f("ValidateOnly", Bool, 1, UP),
] }

// DeleteTopics (20): v0-6, flexible 4+.
schema! { DELETE_TOPICS_STATE: m::delete_topics_request::DeleteTopicState = [
    f("Name", Str, 6, UP).null(6, UP), f("TopicId", Uuid, 6, UP),
] }
schema! { DELETE_TOPICS: m::DeleteTopicsRequest = [
    f("Topics", arr(&DELETE_TOPICS_STATE), 6, UP),
    f("TopicNames", ARR_STR, 0, 5),
    f("TimeoutMs", I32, 0, UP),
] }

// DeleteRecords (21): v0-2, flexible 2+.
schema! { DELETE_RECORDS_PARTITION: m::delete_records_request::DeleteRecordsPartition = [
    f("PartitionIndex", I32, 0, UP), f("Offset", I64, 0, UP),
] }
schema! { DELETE_RECORDS_TOPIC: m::delete_records_request::DeleteRecordsTopic = [
    f("Name", Str, 0, UP),
    f("Partitions", arr(&DELETE_RECORDS_PARTITION), 0, UP),
] }
schema! { DELETE_RECORDS: m::DeleteRecordsRequest = [
    f("Topics", arr(&DELETE_RECORDS_TOPIC), 0, UP),
    f("TimeoutMs", I32, 0, UP),
] }

// InitProducerId (22): v0-4, flexible 2+.
schema! { INIT_PRODUCER_ID: m::InitProducerIdRequest = [
    f("TransactionalId", Str, 0, UP).null(0, UP),
    f("TransactionTimeoutMs", I32, 0, UP),
    f("ProducerId", I64, 3, UP),
    f("ProducerEpoch", I16, 3, UP),
] }

// OffsetForLeaderEpoch (23): v0-4, flexible 4+.
schema! { OFFSET_FOR_LEADER_EPOCH_PARTITION: m::offset_for_leader_epoch_request::OffsetForLeaderPartition = [
    f("Partition", I32, 0, UP),
    f("CurrentLeaderEpoch", I32, 2, UP),
    f("LeaderEpoch", I32, 0, UP),
] }
schema! { OFFSET_FOR_LEADER_EPOCH_TOPIC: m::offset_for_leader_epoch_request::OffsetForLeaderTopic = [
    f("Topic", Str, 0, UP),
    f("Partitions", arr(&OFFSET_FOR_LEADER_EPOCH_PARTITION), 0, UP),
] }
schema! { OFFSET_FOR_LEADER_EPOCH: m::OffsetForLeaderEpochRequest = [
    f("ReplicaId", I32, 3, UP),
    f("Topics", arr(&OFFSET_FOR_LEADER_EPOCH_TOPIC), 0, UP),
] }

// DescribeAcls (29): v0-3, flexible 2+.
schema! { DESCRIBE_ACLS: m::DescribeAclsRequest = [
    f("ResourceTypeFilter", I8, 0, UP),
    f("ResourceNameFilter", Str, 0, UP).null(0, UP),
    f("PatternTypeFilter", I8, 1, UP),
    f("PrincipalFilter", Str, 0, UP).null(0, UP),
    f("HostFilter", Str, 0, UP).null(0, UP),
    f("Operation", I8, 0, UP),
    f("PermissionType", I8, 0, UP),
] }

// CreateAcls (30): v0-3, flexible 2+.
schema! { CREATE_ACLS_CREATION: m::create_acls_request::AclCreation = [
    f("ResourceType", I8, 0, UP),
    f("ResourceName", Str, 0, UP),
    f("ResourcePatternType", I8, 1, UP),
    f("Principal", Str, 0, UP),
    f("Host", Str, 0, UP),
    f("Operation", I8, 0, UP),
    f("PermissionType", I8, 0, UP),
] }
schema! { CREATE_ACLS: m::CreateAclsRequest = [
    f("Creations", arr(&CREATE_ACLS_CREATION), 0, UP),
] }

// DeleteAcls (31): v0-3, flexible 2+.
schema! { DELETE_ACLS_FILTER: m::delete_acls_request::DeleteAclsFilter = [
    f("ResourceTypeFilter", I8, 0, UP),
    f("ResourceNameFilter", Str, 0, UP).null(0, UP),
    f("PatternTypeFilter", I8, 1, UP),
    f("PrincipalFilter", Str, 0, UP).null(0, UP),
    f("HostFilter", Str, 0, UP).null(0, UP),
    f("Operation", I8, 0, UP),
    f("PermissionType", I8, 0, UP),
] }
schema! { DELETE_ACLS: m::DeleteAclsRequest = [
    f("Filters", arr(&DELETE_ACLS_FILTER), 0, UP),
] }

// DescribeConfigs (32): v0-4, flexible 4+.
schema! { DESCRIBE_CONFIGS_RESOURCE: m::describe_configs_request::DescribeConfigsResource = [
    f("ResourceType", I8, 0, UP),
    f("ResourceName", Str, 0, UP),
    f("ConfigurationKeys", ARR_STR, 0, UP).null(0, UP),
] }
schema! { DESCRIBE_CONFIGS: m::DescribeConfigsRequest = [
    f("Resources", arr(&DESCRIBE_CONFIGS_RESOURCE), 0, UP),
    f("IncludeSynonyms", Bool, 1, UP),
    f("IncludeDocumentation", Bool, 3, UP),
] }

// AlterConfigs (33): v0-2, flexible 2+.
schema! { ALTER_CONFIGS_CONFIG: m::alter_configs_request::AlterableConfig = [
    f("Name", Str, 0, UP), f("Value", Str, 0, UP).null(0, UP),
] }
schema! { ALTER_CONFIGS_RESOURCE: m::alter_configs_request::AlterConfigsResource = [
    f("ResourceType", I8, 0, UP),
    f("ResourceName", Str, 0, UP),
    f("Configs", arr(&ALTER_CONFIGS_CONFIG), 0, UP),
] }
schema! { ALTER_CONFIGS: m::AlterConfigsRequest = [
    f("Resources", arr(&ALTER_CONFIGS_RESOURCE), 0, UP),
    f("ValidateOnly", Bool, 0, UP),
] }

// DescribeLogDirs (35): v0-4, flexible 2+.
schema! { DESCRIBE_LOG_DIRS_TOPIC: m::describe_log_dirs_request::DescribableLogDirTopic = [
    f("Topic", Str, 0, UP), f("Partitions", ARR_I32, 0, UP),
] }
schema! { DESCRIBE_LOG_DIRS: m::DescribeLogDirsRequest = [
    f("Topics", arr(&DESCRIBE_LOG_DIRS_TOPIC), 0, UP).null(0, UP),
] }

// SaslAuthenticate (36): v0-2, flexible 2+.
schema! { SASL_AUTHENTICATE: m::SaslAuthenticateRequest = [
    f("AuthBytes", Byt, 0, UP),
] }

// CreatePartitions (37): v0-3, flexible 2+.
schema! { CREATE_PARTITIONS_ASSIGNMENT: m::create_partitions_request::CreatePartitionsAssignment = [
    f("BrokerIds", ARR_I32, 0, UP),
] }
schema! { CREATE_PARTITIONS_TOPIC: m::create_partitions_request::CreatePartitionsTopic = [
    f("Name", Str, 0, UP),
    f("Count", I32, 0, UP),
    f("Assignments", arr(&CREATE_PARTITIONS_ASSIGNMENT), 0, UP).null(0, UP),
] }
schema! { CREATE_PARTITIONS: m::CreatePartitionsRequest = [
    f("Topics", arr(&CREATE_PARTITIONS_TOPIC), 0, UP),
    f("TimeoutMs", I32, 0, UP),
    f("ValidateOnly", Bool, 0, UP),
] }

// DeleteGroups (42): v0-2, flexible 2+.
schema! { DELETE_GROUPS: m::DeleteGroupsRequest = [
    f("GroupsNames", ARR_STR, 0, UP),
] }

// ElectLeaders (43): v0-2, flexible 2+.
schema! { ELECT_LEADERS_TOPIC: m::elect_leaders_request::TopicPartitions = [
    f("Topic", Str, 0, UP), f("Partitions", ARR_I32, 0, UP),
] }
schema! { ELECT_LEADERS: m::ElectLeadersRequest = [
    f("ElectionType", I8, 1, UP),
    f("TopicPartitions", arr(&ELECT_LEADERS_TOPIC), 0, UP).null(0, UP),
    f("TimeoutMs", I32, 0, UP),
] }

// IncrementalAlterConfigs (44): v0-1, flexible 1+.
schema! { INCREMENTAL_ALTER_CONFIGS_CONFIG: m::incremental_alter_configs_request::AlterableConfig = [
    f("Name", Str, 0, UP),
    f("ConfigOperation", I8, 0, UP),
    f("Value", Str, 0, UP).null(0, UP),
] }
schema! { INCREMENTAL_ALTER_CONFIGS_RESOURCE: m::incremental_alter_configs_request::AlterConfigsResource = [
    f("ResourceType", I8, 0, UP),
    f("ResourceName", Str, 0, UP),
    f("Configs", arr(&INCREMENTAL_ALTER_CONFIGS_CONFIG), 0, UP),
] }
schema! { INCREMENTAL_ALTER_CONFIGS: m::IncrementalAlterConfigsRequest = [
    f("Resources", arr(&INCREMENTAL_ALTER_CONFIGS_RESOURCE), 0, UP),
    f("ValidateOnly", Bool, 0, UP),
] }

// AlterPartitionReassignments (45): v0, flexible 0+.
schema! { ALTER_REASSIGNMENTS_PARTITION: m::alter_partition_reassignments_request::ReassignablePartition = [
    f("PartitionIndex", I32, 0, UP),
    f("Replicas", ARR_I32, 0, UP).null(0, UP),
] }
schema! { ALTER_REASSIGNMENTS_TOPIC: m::alter_partition_reassignments_request::ReassignableTopic = [
    f("Name", Str, 0, UP),
    f("Partitions", arr(&ALTER_REASSIGNMENTS_PARTITION), 0, UP),
] }
schema! { ALTER_REASSIGNMENTS: m::AlterPartitionReassignmentsRequest = [
    f("TimeoutMs", I32, 0, UP),
    f("Topics", arr(&ALTER_REASSIGNMENTS_TOPIC), 0, UP),
] }

// ListPartitionReassignments (46): v0, flexible 0+.
schema! { LIST_REASSIGNMENTS_TOPIC: m::list_partition_reassignments_request::ListPartitionReassignmentsTopics = [
    f("Name", Str, 0, UP), f("PartitionIndexes", ARR_I32, 0, UP),
] }
schema! { LIST_REASSIGNMENTS: m::ListPartitionReassignmentsRequest = [
    f("TimeoutMs", I32, 0, UP),
    f("Topics", arr(&LIST_REASSIGNMENTS_TOPIC), 0, UP).null(0, UP),
] }

// OffsetDelete (47): v0, never flexible.
schema! { OFFSET_DELETE_PARTITION: m::offset_delete_request::OffsetDeleteRequestPartition = [
    f("PartitionIndex", I32, 0, UP),
] }
schema! { OFFSET_DELETE_TOPIC: m::offset_delete_request::OffsetDeleteRequestTopic = [
    f("Name", Str, 0, UP),
    f("Partitions", arr(&OFFSET_DELETE_PARTITION), 0, UP),
] }
schema! { OFFSET_DELETE: m::OffsetDeleteRequest = [
    f("GroupId", Str, 0, UP),
    f("Topics", arr(&OFFSET_DELETE_TOPIC), 0, UP),
] }

// DescribeClientQuotas (48): v0-1, flexible 1+.
schema! { DESCRIBE_CLIENT_QUOTAS_COMPONENT: m::describe_client_quotas_request::ComponentData = [
    f("EntityType", Str, 0, UP),
    f("MatchType", I8, 0, UP),
    f("Match", Str, 0, UP).null(0, UP),
] }
schema! { DESCRIBE_CLIENT_QUOTAS: m::DescribeClientQuotasRequest = [
    f("Components", arr(&DESCRIBE_CLIENT_QUOTAS_COMPONENT), 0, UP),
    f("Strict", Bool, 0, UP),
] }

// AlterClientQuotas (49): v0-1, flexible 1+.
schema! { ALTER_CLIENT_QUOTAS_ENTITY: m::alter_client_quotas_request::EntityData = [
    f("EntityType", Str, 0, UP),
    f("EntityName", Str, 0, UP).null(0, UP),
] }
schema! { ALTER_CLIENT_QUOTAS_OP: m::alter_client_quotas_request::OpData = [
    f("Key", Str, 0, UP),
    f("Value", F64, 0, UP),
    f("Remove", Bool, 0, UP),
] }
schema! { ALTER_CLIENT_QUOTAS_ENTRY: m::alter_client_quotas_request::EntryData = [
    f("Entity", arr(&ALTER_CLIENT_QUOTAS_ENTITY), 0, UP),
    f("Ops", arr(&ALTER_CLIENT_QUOTAS_OP), 0, UP),
] }
schema! { ALTER_CLIENT_QUOTAS: m::AlterClientQuotasRequest = [
    f("Entries", arr(&ALTER_CLIENT_QUOTAS_ENTRY), 0, UP),
    f("ValidateOnly", Bool, 0, UP),
] }

// DescribeUserScramCredentials (50): v0, flexible 0+.
schema! { DESCRIBE_SCRAM_USER: m::describe_user_scram_credentials_request::UserName = [
    f("Name", Str, 0, UP),
] }
schema! { DESCRIBE_SCRAM: m::DescribeUserScramCredentialsRequest = [
    f("Users", arr(&DESCRIBE_SCRAM_USER), 0, UP).null(0, UP),
] }

// AlterUserScramCredentials (51): v0, flexible 0+.
schema! { ALTER_SCRAM_DELETION: m::alter_user_scram_credentials_request::ScramCredentialDeletion = [
    f("Name", Str, 0, UP), f("Mechanism", I8, 0, UP),
] }
schema! { ALTER_SCRAM_UPSERTION: m::alter_user_scram_credentials_request::ScramCredentialUpsertion = [
    f("Name", Str, 0, UP),
    f("Mechanism", I8, 0, UP),
    f("Iterations", I32, 0, UP),
    f("Salt", Byt, 0, UP),
    f("SaltedPassword", Byt, 0, UP),
] }
schema! { ALTER_SCRAM: m::AlterUserScramCredentialsRequest = [
    f("Deletions", arr(&ALTER_SCRAM_DELETION), 0, UP),
    f("Upsertions", arr(&ALTER_SCRAM_UPSERTION), 0, UP),
] }

// DescribeCluster (60): v0-1 (v1 is Kafka 3.7's; kafka-protocol knows it), flexible 0+.
schema! { DESCRIBE_CLUSTER: m::DescribeClusterRequest = [
    f("IncludeClusterAuthorizedOperations", Bool, 0, UP),
    f("EndpointType", I8, 1, UP),
] }

// DescribeProducers (61): v0, flexible 0+.
schema! { DESCRIBE_PRODUCERS_TOPIC: m::describe_producers_request::TopicRequest = [
    f("Name", Str, 0, UP), f("PartitionIndexes", ARR_I32, 0, UP),
] }
schema! { DESCRIBE_PRODUCERS: m::DescribeProducersRequest = [
    f("Topics", arr(&DESCRIBE_PRODUCERS_TOPIC), 0, UP),
] }

const fn msg(
    key: ApiKey,
    min: i16,
    max: i16,
    flexible: i16,
    body: &'static Schema,
) -> MessageSchema {
    MessageSchema {
        key,
        min,
        max,
        flexible,
        body,
    }
}

/// Every request the walker knows, with Kafka 3.5's versions.
pub static MESSAGES: &[MessageSchema] = &[
    msg(ApiKey::Produce, 0, 9, 9, &PRODUCE),
    msg(ApiKey::Fetch, 0, 15, 12, &FETCH),
    msg(ApiKey::ListOffsets, 0, 8, 6, &LIST_OFFSETS),
    msg(ApiKey::Metadata, 0, 12, 9, &METADATA),
    msg(ApiKey::OffsetCommit, 0, 8, 8, &OFFSET_COMMIT),
    msg(ApiKey::OffsetFetch, 0, 8, 6, &OFFSET_FETCH),
    msg(ApiKey::FindCoordinator, 0, 4, 3, &FIND_COORDINATOR),
    msg(ApiKey::JoinGroup, 0, 9, 6, &JOIN_GROUP),
    msg(ApiKey::Heartbeat, 0, 4, 4, &HEARTBEAT),
    msg(ApiKey::LeaveGroup, 0, 5, 4, &LEAVE_GROUP),
    msg(ApiKey::SyncGroup, 0, 5, 4, &SYNC_GROUP),
    msg(ApiKey::DescribeGroups, 0, 5, 5, &DESCRIBE_GROUPS),
    msg(ApiKey::ListGroups, 0, 4, 3, &LIST_GROUPS),
    msg(ApiKey::SaslHandshake, 0, 1, NONE, &SASL_HANDSHAKE),
    msg(ApiKey::ApiVersions, 0, 3, 3, &API_VERSIONS),
    msg(ApiKey::CreateTopics, 0, 7, 5, &CREATE_TOPICS),
    msg(ApiKey::DeleteTopics, 0, 6, 4, &DELETE_TOPICS),
    msg(ApiKey::DeleteRecords, 0, 2, 2, &DELETE_RECORDS),
    msg(ApiKey::InitProducerId, 0, 4, 2, &INIT_PRODUCER_ID),
    msg(
        ApiKey::OffsetForLeaderEpoch,
        0,
        4,
        4,
        &OFFSET_FOR_LEADER_EPOCH,
    ),
    msg(ApiKey::DescribeAcls, 0, 3, 2, &DESCRIBE_ACLS),
    msg(ApiKey::CreateAcls, 0, 3, 2, &CREATE_ACLS),
    msg(ApiKey::DeleteAcls, 0, 3, 2, &DELETE_ACLS),
    msg(ApiKey::DescribeConfigs, 0, 4, 4, &DESCRIBE_CONFIGS),
    msg(ApiKey::AlterConfigs, 0, 2, 2, &ALTER_CONFIGS),
    msg(ApiKey::DescribeLogDirs, 0, 4, 2, &DESCRIBE_LOG_DIRS),
    msg(ApiKey::SaslAuthenticate, 0, 2, 2, &SASL_AUTHENTICATE),
    msg(ApiKey::CreatePartitions, 0, 3, 2, &CREATE_PARTITIONS),
    msg(ApiKey::DeleteGroups, 0, 2, 2, &DELETE_GROUPS),
    msg(ApiKey::ElectLeaders, 0, 2, 2, &ELECT_LEADERS),
    msg(
        ApiKey::IncrementalAlterConfigs,
        0,
        1,
        1,
        &INCREMENTAL_ALTER_CONFIGS,
    ),
    msg(
        ApiKey::AlterPartitionReassignments,
        0,
        0,
        0,
        &ALTER_REASSIGNMENTS,
    ),
    msg(
        ApiKey::ListPartitionReassignments,
        0,
        0,
        0,
        &LIST_REASSIGNMENTS,
    ),
    msg(ApiKey::OffsetDelete, 0, 0, NONE, &OFFSET_DELETE),
    msg(
        ApiKey::DescribeClientQuotas,
        0,
        1,
        1,
        &DESCRIBE_CLIENT_QUOTAS,
    ),
    msg(ApiKey::AlterClientQuotas, 0, 1, 1, &ALTER_CLIENT_QUOTAS),
    msg(
        ApiKey::DescribeUserScramCredentials,
        0,
        0,
        0,
        &DESCRIBE_SCRAM,
    ),
    msg(ApiKey::AlterUserScramCredentials, 0, 0, 0, &ALTER_SCRAM),
    msg(ApiKey::DescribeCluster, 0, 1, 0, &DESCRIBE_CLUSTER),
    msg(ApiKey::DescribeProducers, 0, 0, 0, &DESCRIBE_PRODUCERS),
];
