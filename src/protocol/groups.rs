//! The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
//! DeleteGroups and OffsetDelete. Each handler translates between the wire
//! structs and [`crate::coordinator::GroupCoordinator`], and sets
//! version-gated fields only for the versions that carry them.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, ProtocolError, Reply};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, ResourceType};
use crate::coordinator::group::JoinRequest;
use crate::coordinator::records::OffsetValue;
use crate::coordinator::CommitPartition;
use crate::coordinator::{CoordinatorError, GroupCoordinator};

const GROUP_KEY: i8 = 0;
/// "Not requested" for authorized operations.
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A partition's result: done, or the error code.
type PartitionOutcome = (i32, Result<(), i16>);

const GROUP_DENIED: i16 = ResponseError::GroupAuthorizationFailed.code();
const TOPIC_DENIED: i16 = ResponseError::TopicAuthorizationFailed.code();

/// The OffsetCommit/OffsetDelete checks: `group_check` on the group (else
/// every partition GROUP_AUTHORIZATION_FAILED), READ on each topic (else its
/// partitions TOPIC_AUTHORIZATION_FAILED). Returns the topics allowed and,
/// per refused topic, its partitions with the error.
#[allow(clippy::type_complexity)]
fn split_by_authorized<P>(
    broker: &Broker,
    ctx: &RequestContext,
    (group_check, topic_check): (Check, Check),
    group: &str,
    topics: Vec<(String, Vec<P>)>,
    index: impl Fn(&P) -> i32,
) -> (Vec<(String, Vec<P>)>, Vec<(String, Vec<(i32, i16)>)>) {
    let group_ok = broker.authorize(ctx, group_check, group);
    let mut allowed = Vec::with_capacity(topics.len());
    let mut refused = Vec::new();
    for (name, parts) in topics {
        let error = if !group_ok {
            GROUP_DENIED
        } else if !broker.authorize(ctx, topic_check, &name) {
            TOPIC_DENIED
        } else {
            allowed.push((name, parts));
            continue;
        };
        refused.push((name, parts.iter().map(|p| (index(p), error)).collect()));
    }
    (allowed, refused)
}

/// Refused topics as OffsetCommit answers them.
fn refused_commits(refused: Vec<(String, Vec<(i32, i16)>)>) -> Vec<OffsetCommitResponseTopic> {
    refused
        .into_iter()
        .map(|(t, ps)| {
            OffsetCommitResponseTopic::default()
                .with_name(TopicName(s(&t)))
                .with_partitions(
                    ps.into_iter()
                        .map(|(p, e)| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(e)
                        })
                        .collect(),
                )
        })
        .collect()
}

fn code(r: &Result<(), CoordinatorError>) -> i16 {
    match r {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

fn coordinator(broker: &Broker) -> &GroupCoordinator {
    &broker.coordinator
}

pub(super) async fn find_coordinator(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let keys: Vec<StrBytes> = if version >= 4 {
        request.coordinator_keys.clone()
    } else {
        vec![request.key.clone()]
    };
    let mut results = Vec::with_capacity(keys.len());
    for key in keys {
        let result = if request.key_type == GROUP_KEY {
            if broker.authorize(ctx, Check::FindCoordinatorGroup, key.as_str()) {
                coordinator(broker)
                    .ensure_offsets_topic()
                    .await
                    .map_err(|e| (e.code(), e.to_string()))
            } else {
                Err((GROUP_DENIED, "Group authorization failed.".to_string()))
            }
        } else if !broker.authorize(ctx, Check::FindCoordinatorTransaction, key.as_str()) {
            Err((
                ResponseError::TransactionalIdAuthorizationFailed.code(),
                "Transactional Id authorization failed.".to_string(),
            ))
        } else {
            // Transactions are not coordinated here yet.
            let e = CoordinatorError::CoordinatorNotAvailable;
            Err((e.code(), e.to_string()))
        };
        results.push((key, result));
    }
    let node = BrokerId(broker.config.broker_id);
    let host = s(&ctx.advertised.host);
    let port = i32::from(ctx.advertised.port);
    if version >= 4 {
        let coordinators = results
            .into_iter()
            .map(|(key, r)| {
                let c = Coordinator::default().with_key(key);
                match r {
                    Ok(()) => c
                        .with_node_id(node)
                        .with_host(host.clone())
                        .with_port(port)
                        .with_error_message(None),
                    Err((code, message)) => c
                        .with_node_id(BrokerId(-1))
                        .with_port(-1)
                        .with_error_code(code)
                        .with_error_message(Some(s(&message))),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let mut response = FindCoordinatorResponse::default();
    let unavailable = CoordinatorError::CoordinatorNotAvailable;
    let result = results.into_iter().next().map_or(
        Err((unavailable.code(), unavailable.to_string())),
        |(_, r)| r,
    );
    match result {
        Ok(()) => {
            response = response.with_node_id(node).with_host(host).with_port(port);
            if version >= 1 {
                response = response.with_error_message(None);
            }
        }
        Err((code, message)) => {
            response = response
                .with_error_code(code)
                .with_node_id(BrokerId(-1))
                .with_port(-1);
            if version >= 1 {
                response = response.with_error_message(Some(s(&message)));
            }
        }
    }
    response
}

pub(super) async fn join_group(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    client_id: String,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    if !broker.authorize(ctx, Check::JoinGroup, request.group_id.0.as_str()) {
        let response = JoinGroupResponse::default()
            .with_error_code(GROUP_DENIED)
            .with_generation_id(-1)
            .with_member_id(request.member_id);
        return if version >= 7 {
            response.with_protocol_name(None)
        } else {
            response.with_protocol_name(Some(s("")))
        };
    }
    let req = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        client_id,
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        // Copied: a slice would keep the whole request frame, and its
        // queued.max.request.bytes credit, alive as long as the member.
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), Bytes::copy_from_slice(&p.metadata)))
            .collect(),
        require_known_member_id: version >= 4 && request.group_instance_id.is_none(),
    };
    let r = coordinator(broker)
        .join_group(request.group_id.0.as_str(), req)
        .await;
    let mut response = JoinGroupResponse::default()
        .with_error_code(r.error.as_ref().map_or(0, CoordinatorError::code))
        .with_generation_id(r.generation)
        .with_leader(s(&r.leader))
        .with_member_id(s(&r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    let m = JoinGroupResponseMember::default()
                        .with_member_id(s(&id))
                        .with_metadata(metadata);
                    if version >= 5 {
                        m.with_group_instance_id(instance.as_deref().map(s))
                    } else {
                        m
                    }
                })
                .collect(),
        );
    if version >= 7 {
        response = response
            .with_protocol_type(r.protocol_type.as_deref().map(s))
            .with_protocol_name(r.protocol_name.as_deref().map(s));
    } else {
        response = response.with_protocol_name(Some(s(r.protocol_name.as_deref().unwrap_or(""))));
    }
    response
}

pub(super) async fn sync_group(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    if !broker.authorize(ctx, Check::SyncGroup, request.group_id.0.as_str()) {
        return SyncGroupResponse::default().with_error_code(GROUP_DENIED);
    }
    // Copied, as the JoinGroup metadata: kept as long as the generation.
    let assignments: Vec<(String, Bytes)> = request
        .assignments
        .iter()
        .map(|a| {
            (
                a.member_id.to_string(),
                Bytes::copy_from_slice(&a.assignment),
            )
        })
        .collect();
    let r = coordinator(broker)
        .sync_group(
            request.group_id.0.as_str(),
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            request.generation_id,
            request.protocol_type.as_deref(),
            request.protocol_name.as_deref(),
            assignments,
        )
        .await;
    let response = SyncGroupResponse::default()
        .with_error_code(r.error.as_ref().map_or(0, CoordinatorError::code))
        .with_assignment(r.assignment);
    if version >= 5 {
        response
            .with_protocol_type(r.protocol_type.as_deref().map(s))
            .with_protocol_name(r.protocol_name.as_deref().map(s))
    } else {
        response
    }
}

pub(super) async fn heartbeat(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    if !broker.authorize(ctx, Check::Heartbeat, request.group_id.0.as_str()) {
        return HeartbeatResponse::default().with_error_code(GROUP_DENIED);
    }
    let r = coordinator(broker).heartbeat(
        request.group_id.0.as_str(),
        request.member_id.as_str(),
        request.group_instance_id.as_deref(),
        request.generation_id,
    );
    HeartbeatResponse::default().with_error_code(code(&r))
}

pub(super) async fn leave_group(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    if !broker.authorize(ctx, Check::LeaveGroup, request.group_id.0.as_str()) {
        return LeaveGroupResponse::default().with_error_code(GROUP_DENIED);
    }
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let result = coordinator(broker)
        .leave_group(request.group_id.0.as_str(), &members)
        .await;
    match result {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) if version >= 3 => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(results)
                .map(|((member_id, instance), r)| {
                    MemberResponse::default()
                        .with_member_id(s(&member_id))
                        .with_group_instance_id(instance.as_deref().map(s))
                        .with_error_code(code(&r))
                })
                .collect(),
        ),
        Ok(results) => {
            LeaveGroupResponse::default().with_error_code(results.first().map_or(0, code))
        }
    }
}

pub(super) async fn offset_commit(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let topics: Vec<(String, Vec<CommitPartition>)> = request
        .topics
        .iter()
        .map(|t| {
            let parts = t
                .partitions
                .iter()
                .map(|p| CommitPartition {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    commit_timestamp: -1,
                })
                .collect();
            (t.name.0.to_string(), parts)
        })
        .collect();
    let checks = (Check::OffsetCommitGroup, Check::OffsetCommitTopic);
    let group = request.group_id.0.as_str();
    let (topics, refused) =
        split_by_authorized(broker, ctx, checks, group, topics, |p| p.partition);
    let results = if topics.is_empty() {
        Vec::new()
    } else {
        coordinator(broker)
            .commit_offsets(
                group,
                request.generation_id_or_member_epoch,
                request.member_id.as_str(),
                request.group_instance_id.as_deref(),
                topics,
            )
            .await
    };
    let mut response = commit_response(results);
    response.topics.extend(refused_commits(refused));
    response
}

/// The OffsetCommit answer to the coordinator's per-partition results.
fn commit_response(results: crate::coordinator::PartitionResults) -> OffsetCommitResponse {
    OffsetCommitResponse::default().with_topics(
        results
            .into_iter()
            .map(|(t, ps)| {
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(s(&t)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, r)| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_error_code(code(&r))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

type Fetched = Result<Vec<(String, Vec<(i32, Option<OffsetValue>)>)>, i16>;

/// One group's OffsetFetch with Kafka's checks: DESCRIBE on the group (else
/// GROUP_AUTHORIZATION_FAILED), DESCRIBE on each topic named (else its
/// partitions TOPIC_AUTHORIZATION_FAILED, the second element), and an
/// all-partitions fetch leaves the topics it may not describe out.
#[allow(clippy::type_complexity)]
fn fetch_authorized(
    broker: &Broker,
    ctx: &RequestContext,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> (Fetched, Vec<(String, Vec<(i32, i16)>)>) {
    if !broker.authorize(ctx, Check::OffsetFetchGroup, group) {
        return (Err(GROUP_DENIED), Vec::new());
    }
    let c = coordinator(broker);
    match topics {
        None => {
            let fetched = c.fetch_offsets(group, None).map(|all| {
                all.into_iter()
                    .filter(|(t, _)| broker.authorize_filter(ctx, Check::OffsetFetchTopic, t))
                    .collect()
            });
            (fetched.map_err(|e| e.code()), Vec::new())
        }
        Some(list) => {
            let (allowed, refused): (Vec<_>, Vec<_>) = list
                .into_iter()
                .partition(|(t, _)| broker.authorize(ctx, Check::OffsetFetchTopic, t));
            let refused = refused
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, TOPIC_DENIED)).collect()))
                .collect();
            let fetched = if allowed.is_empty() {
                Ok(Vec::new())
            } else {
                c.fetch_offsets(group, Some(allowed)).map_err(|e| e.code())
            };
            (fetched, refused)
        }
    }
}

pub(super) async fn offset_fetch(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    // require_stable: with no transactional offsets there is never a pending
    // (unstable) offset, so it changes nothing.
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|g| {
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let (fetched, refused) =
                    fetch_authorized(broker, ctx, g.group_id.0.as_str(), topics);
                let mut group = group_v8(g.group_id.clone(), fetched);
                group.topics.extend(refused.into_iter().map(|(t, ps)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(TopicName(s(&t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, e)| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(-1)
                                        .with_committed_leader_epoch(-1)
                                        .with_metadata(Some(s("")))
                                        .with_error_code(e)
                                })
                                .collect(),
                        )
                }));
                group
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let topics = request.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
            .collect::<Vec<_>>()
    });
    let (fetched, refused) =
        fetch_authorized(broker, ctx, request.group_id.0.as_str(), topics.clone());
    let (topics_out, error) = match fetched {
        Ok(list) => (list, 0),
        Err(code) => (
            topics
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, None)).collect()))
                .collect(),
            code,
        ),
    };
    let partition_error = if version < 2 { error } else { 0 };
    let with_errors = topics_out
        .into_iter()
        .map(|(t, ps)| {
            let ps: Vec<(i32, Option<OffsetValue>, i16)> = ps
                .into_iter()
                .map(|(p, v)| (p, v, partition_error))
                .collect();
            (t, ps)
        })
        .chain(refused.into_iter().map(|(t, ps)| {
            let ps: Vec<(i32, Option<OffsetValue>, i16)> =
                ps.into_iter().map(|(p, e)| (p, None, e)).collect();
            (t, ps)
        }));
    let response = OffsetFetchResponse::default().with_topics(
        with_errors
            .map(|(t, ps)| {
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(s(&t)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, v, e)| {
                                let (offset, epoch, meta) = match v {
                                    Some(v) => (v.offset, v.leader_epoch, v.metadata),
                                    None => (-1, -1, String::new()),
                                };
                                let part = OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(offset)
                                    .with_metadata(Some(s(&meta)))
                                    .with_error_code(e);
                                if version >= 5 {
                                    part.with_committed_leader_epoch(epoch)
                                } else {
                                    part
                                }
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    if version >= 2 {
        response.with_error_code(error)
    } else {
        response
    }
}

fn group_v8(group_id: GroupId, fetched: Fetched) -> OffsetFetchResponseGroup {
    match fetched {
        Err(code) => OffsetFetchResponseGroup::default()
            .with_group_id(group_id)
            .with_error_code(code),
        Ok(list) => OffsetFetchResponseGroup::default()
            .with_group_id(group_id)
            .with_topics(
                list.into_iter()
                    .map(|(t, ps)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(s(&t)))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|(p, v)| {
                                        let (offset, epoch, meta) = match v {
                                            Some(v) => (v.offset, v.leader_epoch, v.metadata),
                                            None => (-1, -1, String::new()),
                                        };
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(offset)
                                            .with_committed_leader_epoch(epoch)
                                            .with_metadata(Some(s(&meta)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
    }
}

pub(super) async fn describe_groups(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let c = coordinator(broker);
    let with_ops = request.include_authorized_operations;
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            let base = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED);
            if !broker.authorize(ctx, Check::DescribeGroups, id.0.as_str()) {
                return base.with_error_code(GROUP_DENIED);
            }
            let base = if with_ops {
                base.with_authorized_operations(broker.authorized_operations(
                    ctx,
                    ResourceType::Group,
                    id.0.as_str(),
                ))
            } else {
                base
            };
            match c.describe_group(id.0.as_str()) {
                Err(e) => base.with_error_code(e.code()),
                Ok(g) => base
                    .with_group_state(s(&g.state))
                    .with_protocol_type(s(&g.protocol_type))
                    .with_protocol_data(s(&g.protocol))
                    .with_members(
                        g.members
                            .into_iter()
                            .map(|m| {
                                let d = DescribedGroupMember::default()
                                    .with_member_id(s(&m.member_id))
                                    .with_client_id(s(&m.client_id))
                                    .with_client_host(s(&m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment);
                                if version >= 4 {
                                    d.with_group_instance_id(m.group_instance_id.as_deref().map(s))
                                } else {
                                    d
                                }
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(super) async fn list_groups(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    // DESCRIBE on the cluster lists every group; else only those the
    // principal may DESCRIBE.
    let all = broker.authorize_filter(
        ctx,
        Check::ListGroupsCluster,
        crate::authorizer::CLUSTER_NAME,
    );
    let states: Vec<String> = if version >= 4 {
        request
            .states_filter
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        Vec::new()
    };
    match coordinator(broker).list_groups(&states) {
        Err(e) => ListGroupsResponse::default().with_error_code(e.code()),
        Ok(groups) => ListGroupsResponse::default().with_groups(
            groups
                .into_iter()
                .filter(|(id, _, _)| {
                    all || broker.authorize_filter(ctx, Check::ListGroupsGroup, id)
                })
                .map(|(id, protocol_type, state)| {
                    let g = ListedGroup::default()
                        .with_group_id(GroupId(s(&id)))
                        .with_protocol_type(s(&protocol_type));
                    if version >= 4 {
                        g.with_group_state(s(&state))
                    } else {
                        g
                    }
                })
                .collect(),
        ),
    }
}

pub(super) async fn delete_groups(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for id in request.groups_names {
        let error = if broker.authorize(ctx, Check::DeleteGroups, id.0.as_str()) {
            code(&coordinator(broker).delete_group(id.0.as_str()).await)
        } else {
            GROUP_DENIED
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(error),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}

pub(super) async fn offset_delete(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group = request.group_id.0.as_str();
    // Kafka: DELETE on the group answers the whole request; READ on each topic.
    if !broker.authorize(ctx, Check::OffsetDeleteGroup, group) {
        return OffsetDeleteResponse::default().with_error_code(GROUP_DENIED);
    }
    let topics: Vec<(String, Vec<i32>)> = request
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let checks = (Check::OffsetDeleteGroup, Check::OffsetDeleteTopic);
    let (topics, refused) = split_by_authorized(broker, ctx, checks, group, topics, |p| *p);
    let deleted = if topics.is_empty() && !refused.is_empty() {
        Ok(Vec::new())
    } else {
        coordinator(broker).delete_offsets(group, topics).await
    };
    let refused = refused.into_iter().map(|(t, ps)| {
        (
            t,
            ps.into_iter().map(|(p, e)| (p, Err(e))).collect::<Vec<_>>(),
        )
    });
    match deleted {
        Err(e) => OffsetDeleteResponse::default().with_error_code(e.code()),
        Ok(results) => OffsetDeleteResponse::default().with_topics(
            results
                .into_iter()
                .map(|(t, ps)| {
                    (
                        t,
                        ps.into_iter()
                            .map(|(p, r)| (p, r.map_err(|e| e.code())))
                            .collect(),
                    )
                })
                .chain(refused)
                .map(|(t, ps): (String, Vec<PartitionOutcome>)| {
                    OffsetDeleteResponseTopic::default()
                        .with_name(TopicName(s(&t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, r)| {
                                    OffsetDeleteResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_error_code(r.err().unwrap_or(0))
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
    }
}

/// FindCoordinator (API 10).
pub(super) struct FindCoordinator;

impl Api for FindCoordinator {
    const KEY: ApiKey = ApiKey::FindCoordinator;
    type Request = FindCoordinatorRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: FindCoordinatorRequest,
    ) -> Answer<Response<Self>> {
        find_coordinator(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// JoinGroup (API 11).
pub(super) struct JoinGroup;

impl Api for JoinGroup {
    const KEY: ApiKey = ApiKey::JoinGroup;
    type Request = JoinGroupRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 9;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: JoinGroupRequest,
    ) -> Answer<Response<Self>> {
        join_group(
            broker,
            call.ctx,
            call.version,
            call.client_id.to_string(),
            request,
        )
        .await
        .into()
    }
}

/// SyncGroup (API 14).
pub(super) struct SyncGroup;

impl Api for SyncGroup {
    const KEY: ApiKey = ApiKey::SyncGroup;
    type Request = SyncGroupRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: SyncGroupRequest,
    ) -> Answer<Response<Self>> {
        sync_group(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// Heartbeat (API 12).
pub(super) struct Heartbeat;

impl Api for Heartbeat {
    const KEY: ApiKey = ApiKey::Heartbeat;
    type Request = HeartbeatRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: HeartbeatRequest,
    ) -> Answer<Response<Self>> {
        heartbeat(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// LeaveGroup (API 13).
pub(super) struct LeaveGroup;

impl Api for LeaveGroup {
    const KEY: ApiKey = ApiKey::LeaveGroup;
    type Request = LeaveGroupRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: LeaveGroupRequest,
    ) -> Answer<Response<Self>> {
        leave_group(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// OffsetCommit (API 8).
pub(super) struct OffsetCommit;

impl Api for OffsetCommit {
    const KEY: ApiKey = ApiKey::OffsetCommit;
    type Request = OffsetCommitRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 8;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: OffsetCommitRequest,
    ) -> Answer<Response<Self>> {
        offset_commit(broker, call.ctx, call.version, request)
            .await
            .into()
    }

    /// v0 (no generation or member) and v1 (a commit timestamp per
    /// partition); the answer's layout is v2's.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let mut c =
            legacy::offset_commit_v0(version, &body).map_err(|e| e.at(Self::KEY, version))?;
        let checks = (Check::OffsetCommitGroup, Check::OffsetCommitTopic);
        let (allowed, refused) =
            split_by_authorized(broker, call.ctx, checks, &c.group_id, c.topics, |p| p.0);
        c.topics = allowed;
        let refused = refused_commits(refused);
        if version == 0 && broker.metadata.keeps_consumer_offsets() {
            let mut response = commit_to_zookeeper(broker, c).await;
            response.topics.extend(refused);
            let out = legacy::encode_as(Self::KEY, call.correlation_id, version, 2, 0, &response)?;
            return Ok(Reply::Now(Some(out)));
        }
        let topics: Vec<(String, Vec<CommitPartition>)> = c
            .topics
            .into_iter()
            .map(|(name, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|(partition, offset, timestamp, metadata)| CommitPartition {
                        partition,
                        offset,
                        leader_epoch: -1,
                        metadata,
                        commit_timestamp: timestamp,
                    })
                    .collect();
                (name, partitions)
            })
            .collect();
        let results = if topics.is_empty() && !refused.is_empty() {
            Vec::new()
        } else {
            coordinator(broker)
                .commit_offsets(&c.group_id, c.generation_id, &c.member_id, None, topics)
                .await
        };
        let mut response = commit_response(results);
        response.topics.extend(refused);
        let out = legacy::encode_as(Self::KEY, call.correlation_id, version, 2, 0, &response)?;
        Ok(Reply::Now(Some(out)))
    }
}

/// OffsetCommit v0 in ZooKeeper mode, as Kafka 3.5's
/// `commitOffsetsToZookeeper`: no group checks; each offset of an existing
/// partition goes to `/consumers/<group>/offsets/<topic>/<partition>`.
async fn commit_to_zookeeper(broker: &Broker, c: legacy::OffsetCommitV0) -> OffsetCommitResponse {
    let max_metadata = usize::try_from(broker.config.offset_metadata_max_bytes).unwrap_or(0);
    let mut topics = Vec::with_capacity(c.topics.len());
    for (name, partitions) in c.topics {
        let known = broker.replica_manager.topic(&name);
        let mut results = Vec::with_capacity(partitions.len());
        for (partition, offset, _timestamp, metadata) in partitions {
            let error = if known
                .as_ref()
                .and_then(|t| t.partition(partition))
                .is_none()
            {
                ResponseError::UnknownTopicOrPartition.code()
            } else if metadata.is_some_and(|m| m.len() > max_metadata) {
                ResponseError::OffsetMetadataTooLarge.code()
            } else {
                match broker
                    .metadata
                    .commit_consumer_offset(&c.group_id, &name, partition, offset)
                    .await
                {
                    Ok(()) => 0,
                    Err(e) => {
                        tracing::warn!(group = %c.group_id, topic = %name, partition, error = %e, "OffsetCommit v0 to ZooKeeper failed");
                        ResponseError::UnknownServerError.code()
                    }
                }
            };
            results.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(error),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(TopicName(s(&name)))
                .with_partitions(results),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

/// OffsetFetch v0 in ZooKeeper mode, as Kafka 3.5's `getConsumerOffset`
/// path: offset -1 and no error where none was committed.
async fn fetch_from_zookeeper(
    broker: &Broker,
    ctx: &RequestContext,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let group = request.group_id.0.as_str();
    let group_ok = broker.authorize(ctx, Check::OffsetFetchGroup, group);
    let mut topics = Vec::new();
    for t in request.topics.unwrap_or_default() {
        let denied = if !group_ok {
            Some(GROUP_DENIED)
        } else if !broker.authorize(ctx, Check::OffsetFetchTopic, t.name.0.as_str()) {
            Some(TOPIC_DENIED)
        } else {
            None
        };
        let mut partitions = Vec::with_capacity(t.partition_indexes.len());
        for p in t.partition_indexes {
            let (offset, error) = match denied {
                Some(code) => (-1, code),
                None => match broker
                    .metadata
                    .consumer_offset(group, t.name.0.as_str(), p)
                    .await
                {
                    Ok(found) => (found.unwrap_or(-1), 0),
                    Err(e) => {
                        tracing::warn!(group, topic = %t.name.0, partition = p, error = %e, "OffsetFetch v0 from ZooKeeper failed");
                        (-1, ResponseError::UnknownServerError.code())
                    }
                },
            };
            partitions.push(
                OffsetFetchResponsePartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(offset)
                    .with_metadata(Some(s("")))
                    .with_error_code(error),
            );
        }
        topics.push(
            OffsetFetchResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    OffsetFetchResponse::default().with_topics(topics)
}

/// OffsetFetch (API 9).
pub(super) struct OffsetFetch;

impl Api for OffsetFetch {
    const KEY: ApiKey = ApiKey::OffsetFetch;
    type Request = OffsetFetchRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 8;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: OffsetFetchRequest,
    ) -> Answer<Response<Self>> {
        offset_fetch(broker, call.ctx, call.version, request)
            .await
            .into()
    }

    /// v0's body and answer are v1's; v0 reads what v0 committed: in
    /// ZooKeeper mode from ZooKeeper, in standalone mode the offsets log.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let request: OffsetFetchRequest = legacy::decode_as(Self::KEY, version, 1, body)?;
        let response = if broker.metadata.keeps_consumer_offsets() {
            fetch_from_zookeeper(broker, call.ctx, request).await
        } else {
            offset_fetch(broker, call.ctx, version, request).await
        };
        let out = legacy::encode_as(Self::KEY, call.correlation_id, version, 1, 0, &response)?;
        Ok(Reply::Now(Some(out)))
    }
}

/// DescribeGroups (API 15).
pub(super) struct DescribeGroups;

impl Api for DescribeGroups {
    const KEY: ApiKey = ApiKey::DescribeGroups;
    type Request = DescribeGroupsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeGroupsRequest,
    ) -> Answer<Response<Self>> {
        describe_groups(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// ListGroups (API 16).
pub(super) struct ListGroups;

impl Api for ListGroups {
    const KEY: ApiKey = ApiKey::ListGroups;
    type Request = ListGroupsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ListGroupsRequest,
    ) -> Answer<Response<Self>> {
        list_groups(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// DeleteGroups (API 42).
pub(super) struct DeleteGroups;

impl Api for DeleteGroups {
    const KEY: ApiKey = ApiKey::DeleteGroups;
    type Request = DeleteGroupsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DeleteGroupsRequest,
    ) -> Answer<Response<Self>> {
        delete_groups(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}

/// OffsetDelete (API 47).
pub(super) struct OffsetDelete;

impl Api for OffsetDelete {
    const KEY: ApiKey = ApiKey::OffsetDelete;
    type Request = OffsetDeleteRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: OffsetDeleteRequest,
    ) -> Answer<Response<Self>> {
        offset_delete(broker, call.ctx, call.version, request)
            .await
            .into()
    }
}
