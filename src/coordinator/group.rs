//! One consumer group's membership state machine, as Kafka's `GroupMetadata`
//! and `GroupCoordinator` define it: Empty → PreparingRebalance →
//! CompletingRebalance → Stable (→ PreparingRebalance …), Dead once deleted.
//!
//! Everything here is synchronous and takes `now` (ms) as a parameter: the
//! coordinator calls it under its lock and persists what it returns; tests
//! drive time by hand. Long-polling JoinGroup and SyncGroup requests wait on
//! oneshot channels whose senders live in the [`Member`]; a completed
//! rebalance answers them all.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::records::{GroupValue, MemberValue};
use super::CoordinatorError as E;

/// Kafka's group states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members; may still hold offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignments.
    Stable,
    /// Deleted; about to disappear.
    Dead,
}

impl GroupState {
    /// The state string DescribeGroups and ListGroups answer.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// What a JoinGroup gets back.
#[derive(Clone, Debug, Default)]
pub struct JoinResult {
    /// Kafka error, `None` for success.
    pub error: Option<E>,
    /// The member id (assigned or the caller's).
    pub member_id: String,
    /// Generation, -1 on error.
    pub generation: i32,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol_name: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// All members with their metadata (only for the leader).
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    /// A failed join.
    pub fn error(member_id: &str, error: E) -> JoinResult {
        JoinResult {
            error: Some(error),
            member_id: member_id.to_string(),
            generation: -1,
            ..Default::default()
        }
    }
}

/// What a SyncGroup gets back.
#[derive(Clone, Debug, Default)]
pub struct SyncResult {
    /// Kafka error, `None` for success.
    pub error: Option<E>,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol_name: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

impl SyncResult {
    /// A failed sync.
    pub fn error(error: E) -> SyncResult {
        SyncResult {
            error: Some(error),
            ..Default::default()
        }
    }
}

/// One member of a group.
#[derive(Debug)]
pub struct Member {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Client id of its last join.
    pub client_id: String,
    /// Client host of its last join.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Supported protocols in preference order: (name, metadata).
    pub protocols: Vec<(String, Bytes)>,
    /// Current assignment.
    pub assignment: Bytes,
    /// Last heartbeat (or join/sync) time.
    pub last_heartbeat_ms: i64,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// The member's metadata for `protocol`, empty if it does not support it.
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    fn answer_join(&mut self, result: JoinResult) {
        if let Some(tx) = self.join_waiter.take() {
            let _ = tx.send(result);
        }
    }

    fn answer_sync(&mut self, result: SyncResult) {
        if let Some(tx) = self.sync_waiter.take() {
            let _ = tx.send(result);
        }
    }
}

/// A JoinGroup as the state machine sees it.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// Member id, "" for a new member.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Protocol type.
    pub protocol_type: String,
    /// Protocols in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+ without a static id: a new member must rejoin with the id it is given.
    pub require_known_member_id: bool,
}

/// How a JoinGroup is answered.
pub enum JoinOutcome {
    /// Now.
    Now(JoinResult),
    /// When the rebalance completes.
    Wait(oneshot::Receiver<JoinResult>),
    /// Now, and the group metadata must be persisted (static member replaced while Stable).
    NowAndStore(JoinResult),
}

/// How a SyncGroup is answered.
pub enum SyncOutcome {
    /// Now.
    Now(SyncResult),
    /// When the leader's assignment has been persisted.
    Wait(oneshot::Receiver<SyncResult>),
    /// The leader's assignment: persist it, then call [`Group::complete_sync`].
    Store(oneshot::Receiver<SyncResult>, HashMap<String, Bytes>),
}

/// Group-level settings from the broker config.
#[derive(Clone, Copy, Debug)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`.
    pub max_size: i32,
}

/// The initial delayed join of an empty group (Kafka's `InitialDelayedJoin`).
#[derive(Clone, Copy, Debug)]
struct InitialDelay {
    remaining_ms: i64,
    new_members_added: bool,
}

/// One group.
#[derive(Debug)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Current state.
    pub state: GroupState,
    /// When the current state began (ms).
    pub state_timestamp: Option<i64>,
    /// Generation.
    pub generation: i32,
    /// Protocol type of the members.
    pub protocol_type: Option<String>,
    /// Selected protocol of the current generation.
    pub protocol_name: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members by id (ordered for stable answers).
    pub members: BTreeMap<String, Member>,
    /// Static members: instance id → member id.
    pub static_members: HashMap<String, String>,
    /// Members told MEMBER_ID_REQUIRED: member id → expiry (ms).
    pending_members: HashMap<String, i64>,
    /// When the current join phase ends.
    join_deadline_ms: i64,
    initial_delay: Option<InitialDelay>,
    /// When members that have not sent SyncGroup are dropped.
    sync_deadline_ms: i64,
    config: GroupConfig,
}

impl Group {
    /// A new, empty group.
    pub fn new(id: &str, config: GroupConfig, now: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_timestamp: Some(now),
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            join_deadline_ms: 0,
            initial_delay: None,
            sync_deadline_ms: 0,
            config,
        }
    }

    /// A group as loaded from `__consumer_offsets`: Empty without members,
    /// else Stable with the stored members (their sessions start at `now`).
    pub fn from_value(id: &str, value: GroupValue, config: GroupConfig, now: i64) -> Group {
        let mut g = Group::new(id, config, now);
        g.generation = value.generation;
        g.protocol_type = Some(value.protocol_type).filter(|s| !s.is_empty());
        g.protocol_name = value.protocol;
        g.leader = value.leader;
        g.state_timestamp = Some(value.current_state_timestamp).filter(|t| *t >= 0);
        let protocol = g.protocol_name.clone().unwrap_or_default();
        for m in value.members {
            if let Some(instance) = &m.group_instance_id {
                g.static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                Member {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocols: vec![(protocol.clone(), m.subscription)],
                    assignment: m.assignment,
                    last_heartbeat_ms: now,
                    join_waiter: None,
                    sync_waiter: None,
                },
            );
        }
        g.state = if g.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        g
    }

    /// The group metadata value to persist.
    pub fn to_value(&self) -> GroupValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp.unwrap_or(-1),
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn transition(&mut self, state: GroupState, now: i64) {
        self.state = state;
        self.state_timestamp = Some(now);
    }

    /// Whether the group has this member.
    pub fn has(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    /// Kafka's `validateCurrentMember`: a static member's instance id must
    /// map to this member id (else FENCED_INSTANCE_ID; an unknown instance id
    /// is UNKNOWN_MEMBER_ID), and the member must exist. The fencing check
    /// comes first, so the old incarnation of a replaced static member learns
    /// that it is fenced rather than unknown (and stops instead of rejoining).
    fn validate_current_member(&self, member_id: &str, instance: Option<&str>) -> Result<(), E> {
        if let Some(i) = instance {
            match self.static_members.get(i) {
                Some(known) if known != member_id => return Err(E::FencedInstanceId),
                Some(_) => {}
                None => return Err(E::UnknownMemberId),
            }
        }
        if !self.has(member_id) {
            return Err(E::UnknownMemberId);
        }
        Ok(())
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> Vec<String> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let mut candidates: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in members {
            candidates.retain(|c| m.protocols.iter().any(|(n, _)| n == c));
        }
        candidates
    }

    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            let candidates = self.candidate_protocols();
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|(n, _)| candidates.contains(n))
        }
    }

    /// Kafka's vote: each member votes for its most preferred candidate.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == name) {
                    v.1 += 1;
                }
            }
        }
        let max = votes.iter().map(|(_, n)| *n).max()?;
        votes.into_iter().find(|(_, n)| *n == max).map(|(c, _)| c)
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// JoinGroup (Kafka's `handleJoinGroup` after the coordinator's checks).
    pub fn join(&mut self, req: JoinRequest, now: i64) -> JoinOutcome {
        if self.state == GroupState::Dead {
            return JoinOutcome::Now(JoinResult::error(
                &req.member_id,
                E::CoordinatorNotAvailable,
            ));
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return JoinOutcome::Now(JoinResult::error(
                &req.member_id,
                E::InconsistentGroupProtocol,
            ));
        }
        if req.member_id.is_empty() {
            self.join_unknown(req, now)
        } else {
            self.join_known(req, now)
        }
    }

    fn full(&self) -> bool {
        self.members.len() + self.pending_members.len() >= self.config.max_size.max(1) as usize
    }

    fn join_unknown(&mut self, req: JoinRequest, now: i64) -> JoinOutcome {
        let new_id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                return self.replace_static_member(&instance, &old_id, new_id, req, now);
            }
        }
        if self.full() {
            return JoinOutcome::Now(JoinResult::error("", E::GroupMaxSizeReached));
        }
        if req.require_known_member_id {
            self.pending_members
                .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
            return JoinOutcome::Now(JoinResult::error(&new_id, E::MemberIdRequired));
        }
        self.add_member_and_rebalance(new_id, req, now)
    }

    fn join_known(&mut self, req: JoinRequest, now: i64) -> JoinOutcome {
        let member_id = req.member_id.clone();
        if self.pending_members.remove(&member_id).is_some() {
            return self.add_member_and_rebalance(member_id, req, now);
        }
        if let Some(instance) = &req.group_instance_id {
            match self.static_members.get(instance) {
                Some(known) if known != &member_id => {
                    return JoinOutcome::Now(JoinResult::error(&member_id, E::FencedInstanceId))
                }
                None => return JoinOutcome::Now(JoinResult::error(&member_id, E::UnknownMemberId)),
                _ => {}
            }
        }
        if !self.has(&member_id) {
            return JoinOutcome::Now(JoinResult::error(&member_id, E::UnknownMemberId));
        }
        match self.state {
            GroupState::PreparingRebalance => {
                let rx = self.update_member(&member_id, &req, now);
                self.try_complete_join(now);
                rx
            }
            GroupState::CompletingRebalance => {
                let same = self
                    .members
                    .get(&member_id)
                    .is_some_and(|m| m.matches(&req.protocols));
                if same {
                    // A retried JoinGroup: answer with the current generation.
                    JoinOutcome::Now(self.current_join_result(&member_id))
                } else {
                    let rx = self.update_member(&member_id, &req, now);
                    self.prepare_rebalance(now);
                    rx
                }
            }
            GroupState::Stable => {
                let is_leader = self.leader.as_deref() == Some(member_id.as_str());
                let same = self
                    .members
                    .get(&member_id)
                    .is_some_and(|m| m.matches(&req.protocols));
                if is_leader || !same {
                    let rx = self.update_member(&member_id, &req, now);
                    self.prepare_rebalance(now);
                    rx
                } else {
                    if let Some(m) = self.members.get_mut(&member_id) {
                        m.last_heartbeat_ms = now;
                    }
                    JoinOutcome::Now(self.current_join_result(&member_id))
                }
            }
            GroupState::Empty | GroupState::Dead => {
                JoinOutcome::Now(JoinResult::error(&member_id, E::UnknownMemberId))
            }
        }
    }

    fn current_join_result(&self, member_id: &str) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        m.metadata_for(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            member_id: member_id.to_string(),
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            members,
        }
    }

    fn update_member(&mut self, member_id: &str, req: &JoinRequest, now: i64) -> JoinOutcome {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(member_id) {
            m.protocols = req.protocols.clone();
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.session_timeout_ms = req.session_timeout_ms;
            m.client_id = req.client_id.clone();
            m.client_host = req.client_host.clone();
            m.last_heartbeat_ms = now;
            m.answer_join(JoinResult::error(member_id, E::UnknownMemberId));
            m.join_waiter = Some(tx);
        }
        JoinOutcome::Wait(rx)
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        req: JoinRequest,
        now: i64,
    ) -> JoinOutcome {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            self.static_members
                .insert(instance.clone(), member_id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        self.members.insert(
            member_id.clone(),
            Member {
                member_id,
                group_instance_id: req.group_instance_id,
                client_id: req.client_id,
                client_host: req.client_host,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                session_timeout_ms: req.session_timeout_ms,
                protocols: req.protocols,
                assignment: Bytes::new(),
                last_heartbeat_ms: now,
                join_waiter: Some(tx),
                sync_waiter: None,
            },
        );
        if let Some(delay) = self.initial_delay.as_mut() {
            delay.new_members_added = true;
        }
        self.maybe_prepare_rebalance(now);
        self.try_complete_join(now);
        JoinOutcome::Wait(rx)
    }

    fn replace_static_member(
        &mut self,
        instance: &str,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        now: i64,
    ) -> JoinOutcome {
        let Some(mut member) = self.members.remove(old_id) else {
            self.static_members.remove(instance);
            return self.add_member_and_rebalance(new_id, req, now);
        };
        // The old incarnation's pending requests are fenced.
        member.answer_join(JoinResult::error(old_id, E::FencedInstanceId));
        member.answer_sync(SyncResult::error(E::FencedInstanceId));
        let current_leader = self.leader.clone().unwrap_or_default();
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        member.member_id = new_id.clone();
        member.protocols = req.protocols.clone();
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_timeout_ms = req.session_timeout_ms;
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.last_heartbeat_ms = now;
        self.members.insert(new_id.clone(), member);
        self.static_members
            .insert(instance.to_string(), new_id.clone());
        match self.state {
            GroupState::Stable => {
                let unchanged = self.select_protocol() == self.protocol_name;
                if unchanged {
                    // No rebalance: answer with the old leader id so the
                    // member does not run an assignment a Stable group would
                    // not broadcast; it syncs and gets its old assignment.
                    JoinOutcome::NowAndStore(JoinResult {
                        error: None,
                        member_id: new_id,
                        generation: self.generation,
                        protocol_type: self.protocol_type.clone(),
                        protocol_name: self.protocol_name.clone(),
                        leader: current_leader,
                        members: Vec::new(),
                    })
                } else {
                    let rx = self.set_join_waiter(&new_id, now);
                    self.prepare_rebalance(now);
                    rx
                }
            }
            GroupState::CompletingRebalance => {
                let rx = self.set_join_waiter(&new_id, now);
                self.prepare_rebalance(now);
                rx
            }
            _ => {
                let rx = self.set_join_waiter(&new_id, now);
                self.maybe_prepare_rebalance(now);
                self.try_complete_join(now);
                rx
            }
        }
    }

    fn set_join_waiter(&mut self, member_id: &str, now: i64) -> JoinOutcome {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(member_id) {
            m.join_waiter = Some(tx);
            m.last_heartbeat_ms = now;
        }
        JoinOutcome::Wait(rx)
    }

    fn maybe_prepare_rebalance(&mut self, now: i64) {
        if matches!(
            self.state,
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
        ) {
            self.prepare_rebalance(now);
        }
    }

    fn prepare_rebalance(&mut self, now: i64) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(E::RebalanceInProgress));
            }
        }
        let rebalance_timeout = self.max_rebalance_timeout();
        let delay = i64::from(self.config.initial_rebalance_delay_ms);
        if self.state == GroupState::Empty && delay > 0 {
            let first = delay.min(rebalance_timeout.max(1));
            self.join_deadline_ms = now + first;
            self.initial_delay = Some(InitialDelay {
                remaining_ms: (rebalance_timeout - first).max(0),
                new_members_added: false,
            });
        } else {
            self.join_deadline_ms = now + rebalance_timeout;
            self.initial_delay = None;
        }
        self.transition(GroupState::PreparingRebalance, now);
        tracing::info!(group = %self.id, generation = self.generation, "preparing to rebalance");
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(Member::awaiting_join)
    }

    /// Completes the join phase if every member has rejoined or the deadline
    /// passed. Returns true when the group became Empty (to be persisted).
    pub fn try_complete_join(&mut self, now: i64) -> bool {
        if self.state != GroupState::PreparingRebalance {
            return false;
        }
        if let Some(delay) = self.initial_delay {
            if now < self.join_deadline_ms {
                return false;
            }
            if delay.new_members_added && delay.remaining_ms > 0 {
                let step =
                    i64::from(self.config.initial_rebalance_delay_ms).min(delay.remaining_ms);
                self.join_deadline_ms = now + step;
                self.initial_delay = Some(InitialDelay {
                    remaining_ms: delay.remaining_ms - step,
                    new_members_added: false,
                });
                return false;
            }
            self.initial_delay = None;
        } else if !self.all_members_joined() && now < self.join_deadline_ms {
            return false;
        }
        // Dynamic members that did not rejoin are dropped; static ones stay.
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        if !self.members.is_empty() {
            let leader_joined = self
                .leader
                .as_ref()
                .and_then(|l| self.members.get(l))
                .is_some_and(Member::awaiting_join);
            if !leader_joined {
                self.leader = self
                    .members
                    .values()
                    .find(|m| m.awaiting_join())
                    .map(|m| m.member_id.clone());
                if self.leader.is_none() {
                    // Only static members that have not rejoined: wait again.
                    self.join_deadline_ms = now + self.max_rebalance_timeout();
                    return false;
                }
            }
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(GroupState::Empty, now);
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return true;
        }
        self.protocol_name = self.select_protocol();
        self.transition(GroupState::CompletingRebalance, now);
        self.sync_deadline_ms = now + self.max_rebalance_timeout();
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), protocol = ?self.protocol_name, "rebalance: new generation");
        for id in self.join_answer_order() {
            let result = self.current_join_result(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_heartbeat_ms = now;
                m.answer_join(result);
            }
        }
        false
    }

    /// The order completed JoinGroups are answered in: followers first, the
    /// leader last. A follower answers with its SyncGroup at once while the
    /// leader must run the assignment first; answered first, the followers'
    /// SyncGroups reach the coordinator before a fast leader can sync, revoke
    /// and rejoin, which would send them back to JoinGroup with
    /// REBALANCE_IN_PROGRESS (Kafka's order is a hash map's, and its slower
    /// leader path hides the race).
    fn join_answer_order(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.members.keys().cloned().collect();
        ids.sort_by_key(|id| self.leader.as_deref() == Some(id.as_str()));
        ids
    }

    fn remove_member(&mut self, member_id: &str) {
        if let Some(mut m) = self.members.remove(member_id) {
            m.answer_join(JoinResult::error(member_id, E::UnknownMemberId));
            m.answer_sync(SyncResult::error(E::UnknownMemberId));
            if let Some(instance) = &m.group_instance_id {
                if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                    self.static_members.remove(instance);
                }
            }
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
    }

    /// Removes a member (leave, expiry) and rebalances as Kafka does.
    /// Returns true when the group became Empty (to be persisted).
    pub fn remove_member_and_update(&mut self, member_id: &str, now: i64) -> bool {
        self.remove_member(member_id);
        match self.state {
            GroupState::Dead | GroupState::Empty => false,
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now);
                self.try_complete_join(now)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
        }
    }

    /// SyncGroup (after the coordinator's checks).
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: i64,
    ) -> SyncOutcome {
        if self.state == GroupState::Dead {
            return SyncOutcome::Now(SyncResult::error(E::CoordinatorNotAvailable));
        }
        if let Err(e) = self.validate_current_member(member_id, instance) {
            return SyncOutcome::Now(SyncResult::error(e));
        }
        if generation != self.generation {
            return SyncOutcome::Now(SyncResult::error(E::IllegalGeneration));
        }
        if protocol_type.is_some_and(|p| self.protocol_type.as_deref() != Some(p))
            || protocol_name.is_some_and(|p| self.protocol_name.as_deref() != Some(p))
        {
            return SyncOutcome::Now(SyncResult::error(E::InconsistentGroupProtocol));
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                SyncOutcome::Now(SyncResult::error(E::UnknownMemberId))
            }
            GroupState::PreparingRebalance => {
                SyncOutcome::Now(SyncResult::error(E::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat_ms = now;
                    m.answer_sync(SyncResult::error(E::RebalanceInProgress));
                    m.sync_waiter = Some(tx);
                }
                if self.leader.as_deref() == Some(member_id) {
                    let map: HashMap<String, Bytes> = assignments.into_iter().collect();
                    SyncOutcome::Store(rx, map)
                } else {
                    SyncOutcome::Wait(rx)
                }
            }
            GroupState::Stable => {
                let assignment = self
                    .members
                    .get_mut(member_id)
                    .map(|m| {
                        m.last_heartbeat_ms = now;
                        m.assignment.clone()
                    })
                    .unwrap_or_default();
                SyncOutcome::Now(SyncResult {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                })
            }
        }
    }

    /// The group value with the leader's assignments applied, for persisting
    /// before [`Group::complete_sync`].
    pub fn value_with_assignments(&self, assignments: &HashMap<String, Bytes>) -> GroupValue {
        let mut v = self.to_value();
        for m in &mut v.members {
            m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
        }
        v
    }

    /// After the leader's assignment was persisted (or failed to be): the
    /// group becomes Stable and every waiting SyncGroup is answered.
    pub fn complete_sync(
        &mut self,
        generation: i32,
        assignments: HashMap<String, Bytes>,
        stored: Result<(), E>,
        now: i64,
    ) {
        if self.state != GroupState::CompletingRebalance || self.generation != generation {
            return;
        }
        match stored {
            Ok(()) => {
                for m in self.members.values_mut() {
                    m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
                }
                self.transition(GroupState::Stable, now);
                let pt = self.protocol_type.clone();
                let pn = self.protocol_name.clone();
                for m in self.members.values_mut() {
                    let assignment = m.assignment.clone();
                    m.answer_sync(SyncResult {
                        error: None,
                        protocol_type: pt.clone(),
                        protocol_name: pn.clone(),
                        assignment,
                    });
                }
                tracing::info!(group = %self.id, generation, "group is stable");
            }
            Err(e) => {
                for m in self.members.values_mut() {
                    m.assignment = Bytes::new();
                    m.answer_sync(SyncResult::error(e.clone()));
                }
                self.prepare_rebalance(now);
            }
        }
    }

    /// Heartbeat (after the coordinator's checks).
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        now: i64,
    ) -> Result<(), E> {
        if self.state == GroupState::Dead {
            return Err(E::CoordinatorNotAvailable);
        }
        self.validate_current_member(member_id, instance)?;
        if generation != self.generation {
            return Err(E::IllegalGeneration);
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat_ms = now;
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => Err(E::UnknownMemberId),
            GroupState::PreparingRebalance => Err(E::RebalanceInProgress),
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
        }
    }

    /// LeaveGroup of one member, by member id and/or instance id. Returns
    /// whether the group became Empty (to be persisted).
    pub fn leave(&mut self, member_id: &str, instance: Option<&str>, now: i64) -> Result<bool, E> {
        let target = match instance {
            Some(i) => match self.static_members.get(i) {
                Some(known) if !member_id.is_empty() && known != member_id => {
                    return Err(E::FencedInstanceId)
                }
                Some(known) => known.clone(),
                None => return Err(E::UnknownMemberId),
            },
            None => member_id.to_string(),
        };
        if self.pending_members.remove(&target).is_some() {
            return Ok(self.try_complete_join(now));
        }
        if !self.has(&target) {
            return Err(E::UnknownMemberId);
        }
        tracing::info!(group = %self.id, member = %target, "member left");
        Ok(self.remove_member_and_update(&target, now))
    }

    /// Offset commit checks, in the order of Kafka's `validateOffsetCommit`
    /// and `doCommitOffsets`: generation -1 commits freely into an Empty
    /// group; a member commit is checked for fencing, membership and
    /// generation (ILLEGAL_GENERATION for a stale one, whatever the state);
    /// a valid one is accepted in Stable and PreparingRebalance (the
    /// heartbeat tells the member of the rebalance) and refused with
    /// REBALANCE_IN_PROGRESS in CompletingRebalance. A commit without member
    /// id and generation into a non-empty group is UNKNOWN_MEMBER_ID. On
    /// success the commit also counts as a heartbeat.
    pub fn check_commit(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        now: i64,
    ) -> Result<(), E> {
        if self.state == GroupState::Dead {
            return Err(E::CoordinatorNotAvailable);
        }
        if generation < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance.is_some() {
            self.validate_current_member(member_id, instance)?;
            if generation != self.generation {
                return Err(E::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            return Err(E::UnknownMemberId);
        }
        match self.state {
            GroupState::CompletingRebalance => Err(E::RebalanceInProgress),
            GroupState::Stable | GroupState::PreparingRebalance => {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat_ms = now;
                }
                Ok(())
            }
            GroupState::Empty | GroupState::Dead => Ok(()),
        }
    }

    /// Session and rebalance timers: expires members whose session passed,
    /// members told MEMBER_ID_REQUIRED that never came back, members that did
    /// not sync in time, and completes a join phase whose deadline passed.
    /// Returns true when the group became Empty (to be persisted).
    pub fn tick(&mut self, now: i64) -> bool {
        self.pending_members.retain(|_, deadline| *deadline > now);
        let mut became_empty = false;
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now > m.last_heartbeat_ms + i64::from(m.session_timeout_ms)
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired");
            became_empty |= self.remove_member_and_update(&id, now);
        }
        if self.state == GroupState::CompletingRebalance && now >= self.sync_deadline_ms {
            let unsynced: Vec<String> = self
                .members
                .values()
                .filter(|m| m.sync_waiter.is_none())
                .map(|m| m.member_id.clone())
                .collect();
            if !unsynced.is_empty() {
                for id in &unsynced {
                    tracing::info!(group = %self.id, member = %id, "member did not sync in time");
                    self.remove_member(id);
                }
                self.prepare_rebalance(now);
            }
        }
        became_empty |= self.try_complete_join(now);
        became_empty
    }

    /// Answers every waiting request (shutdown, deletion).
    pub fn fail_all_waiters(&mut self, error: E) {
        for m in self.members.values_mut() {
            m.answer_join(JoinResult::error(&m.member_id.clone(), error.clone()));
            m.answer_sync(SyncResult::error(error.clone()));
        }
    }

    /// Topics the members subscribe to (consumer protocol metadata, for OffsetDelete).
    pub fn subscribed_topics(&self) -> Option<Vec<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = Vec::new();
        for m in self.members.values() {
            topics.extend(parse_subscription_topics(&m.metadata_for(protocol))?);
        }
        Some(topics)
    }

    /// Whether the group holds nothing worth keeping as a group.
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
    }

    /// Whether members told MEMBER_ID_REQUIRED are still expected.
    pub fn has_pending(&self) -> bool {
        !self.pending_members.is_empty()
    }

    #[cfg(test)]
    fn pending_count(&self) -> usize {
        self.pending_members.len()
    }
}

/// The topics of a ConsumerProtocolSubscription (version i16, then an int32
/// array of int16 strings, all versions).
pub fn parse_subscription_topics(buf: &[u8]) -> Option<Vec<String>> {
    let get = |at: usize, n: usize| buf.get(at..at.checked_add(n)?);
    let mut pos = 2;
    let count = i32::from_be_bytes(get(pos, 4)?.try_into().ok()?);
    pos += 4;
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(get(pos, 2)?.try_into().ok()?);
        pos += 2;
        let s = get(pos, usize::try_from(len).ok()?)?;
        pos += s.len();
        topics.push(String::from_utf8(s.to_vec()).ok()?);
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: GroupConfig = GroupConfig {
        initial_rebalance_delay_ms: 0,
        max_size: 10,
    };

    fn req(member: &str, instance: Option<&str>, meta: &'static [u8]) -> JoinRequest {
        JoinRequest {
            member_id: member.into(),
            group_instance_id: instance.map(String::from),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 6000,
            rebalance_timeout_ms: 10000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(meta))],
            require_known_member_id: false,
        }
    }

    fn wait(o: JoinOutcome) -> oneshot::Receiver<JoinResult> {
        match o {
            JoinOutcome::Wait(rx) => rx,
            _ => panic!("expected to wait"),
        }
    }

    fn now_result(o: JoinOutcome) -> JoinResult {
        match o {
            JoinOutcome::Now(r) | JoinOutcome::NowAndStore(r) => r,
            JoinOutcome::Wait(_) => panic!("expected an immediate answer"),
        }
    }

    /// Joins two members and completes the rebalance; returns (leader, follower).
    fn stable_group(g: &mut Group) -> (String, String) {
        let mut a = wait(g.join(req("", None, b"a"), 0));
        let ra = a.try_recv().unwrap();
        assert_eq!(ra.generation, 1);
        assert_eq!(g.state, GroupState::CompletingRebalance);
        // B joins: rebalance; A must rejoin.
        let mut b = wait(g.join(req("", None, b"b"), 1));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert!(b.try_recv().is_err());
        let mut a2 = wait(g.join(req(&ra.member_id, None, b"a"), 2));
        let ra2 = a2.try_recv().unwrap();
        let rb = b.try_recv().unwrap();
        assert_eq!(ra2.generation, 2);
        assert_eq!(rb.generation, 2);
        assert_eq!(ra2.leader, ra.member_id);
        assert_eq!(ra2.members.len(), 2);
        assert!(rb.members.is_empty());
        let assignments = vec![
            (ra.member_id.clone(), Bytes::from_static(b"A")),
            (rb.member_id.clone(), Bytes::from_static(b"B")),
        ];
        let follower = match g.sync(&rb.member_id, None, 2, None, None, vec![], 3) {
            SyncOutcome::Wait(rx) => rx,
            _ => panic!("follower waits"),
        };
        let (mut leader_rx, map) = match g.sync(&ra.member_id, None, 2, None, None, assignments, 3)
        {
            SyncOutcome::Store(rx, map) => (rx, map),
            _ => panic!("leader stores"),
        };
        g.complete_sync(2, map, Ok(()), 4);
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(&leader_rx.try_recv().unwrap().assignment[..], b"A");
        let mut follower = follower;
        assert_eq!(&follower.try_recv().unwrap().assignment[..], b"B");
        (ra.member_id, rb.member_id)
    }

    /// Kafka 3.5's `validateOffsetCommit`/`doCommitOffsets`, state by state.
    #[test]
    fn offset_commit_rules_follow_kafka() {
        // Empty: a generation of -1 commits; a member id must be known.
        let mut g = Group::new("g", CFG, 0);
        assert_eq!(g.check_commit("", None, -1, 0), Ok(()));
        assert_eq!(g.check_commit("m", None, -1, 0), Ok(()));
        assert_eq!(g.check_commit("m", None, 0, 0), Err(E::UnknownMemberId));
        // CompletingRebalance: the current generation is told to rejoin, a stale one is illegal.
        let mut joined = wait(g.join(req("", None, b"a"), 0));
        let first = joined.try_recv().unwrap();
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(
            g.check_commit(&first.member_id, None, first.generation, 1),
            Err(E::RebalanceInProgress)
        );
        assert_eq!(
            g.check_commit(&first.member_id, None, first.generation - 1, 1),
            Err(E::IllegalGeneration)
        );
        assert_eq!(g.check_commit("", None, -1, 1), Err(E::UnknownMemberId));
        // Stable and PreparingRebalance: the current generation commits.
        let mut g = Group::new("g", CFG, 0);
        let (leader, follower) = stable_group(&mut g);
        assert_eq!(g.check_commit(&follower, None, 2, 5), Ok(()));
        assert_eq!(
            g.check_commit(&follower, None, 1, 5),
            Err(E::IllegalGeneration)
        );
        let _third = wait(g.join(req("", None, b"c"), 6));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.check_commit(&leader, None, 2, 7), Ok(()));
        assert_eq!(
            g.check_commit(&leader, None, 1, 7),
            Err(E::IllegalGeneration)
        );
        assert_eq!(
            g.check_commit("nobody", None, 2, 7),
            Err(E::UnknownMemberId)
        );
        assert_eq!(
            g.check_commit(&leader, Some("unknown-instance"), 2, 7),
            Err(E::UnknownMemberId)
        );

        // Through a whole rebalance of one group: Stable, PreparingRebalance
        // (the leader rejoined), CompletingRebalance (generation 3).
        let mut g = Group::new("g", CFG, 0);
        let (leader, follower) = stable_group(&mut g);
        // Stable: current generation commits; a stale one is ILLEGAL_GENERATION.
        assert_eq!(g.check_commit(&follower, None, 2, 5), Ok(()));
        assert_eq!(
            g.check_commit(&follower, None, 1, 5),
            Err(E::IllegalGeneration)
        );
        // PreparingRebalance (the leader rejoined): the current generation
        // still commits, a stale one does not.
        let _l = wait(g.join(req(&leader, None, b"a"), 6));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.check_commit(&follower, None, 2, 7), Ok(()));
        assert_eq!(
            g.check_commit(&follower, None, 1, 7),
            Err(E::IllegalGeneration)
        );
        // No member id, no generation, non-empty group: UNKNOWN_MEMBER_ID.
        assert_eq!(g.check_commit("", None, -1, 7), Err(E::UnknownMemberId));
        assert_eq!(
            g.check_commit("nobody", None, 2, 7),
            Err(E::UnknownMemberId)
        );
        // CompletingRebalance (generation 3): the current generation is
        // refused with REBALANCE_IN_PROGRESS, the old one (2) with
        // ILLEGAL_GENERATION.
        let _f = wait(g.join(req(&follower, None, b"b"), 8));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(g.generation, 3);
        assert_eq!(
            g.check_commit(&follower, None, 3, 9),
            Err(E::RebalanceInProgress)
        );
        assert_eq!(
            g.check_commit(&follower, None, 2, 9),
            Err(E::IllegalGeneration)
        );
        assert_eq!(g.check_commit("", None, -1, 9), Err(E::UnknownMemberId));
    }

    #[test]
    fn join_sync_and_generation_fencing() {
        let mut g = Group::new("g", CFG, 0);
        let (leader, follower) = stable_group(&mut g);
        assert_eq!(g.heartbeat(&follower, None, 2, 5), Ok(()));
        assert_eq!(
            g.heartbeat(&follower, None, 1, 5),
            Err(E::IllegalGeneration)
        );
        assert_eq!(g.heartbeat("nobody", None, 2, 5), Err(E::UnknownMemberId));
        assert_eq!(g.check_commit(&leader, None, 2, 5), Ok(()));
        assert_eq!(
            g.check_commit(&leader, None, 1, 5),
            Err(E::IllegalGeneration)
        );
        assert_eq!(g.check_commit("", None, -1, 5), Err(E::UnknownMemberId));
        // A follower rejoining with the same metadata in Stable changes nothing.
        let r = now_result(g.join(req(&follower, None, b"b"), 6));
        assert_eq!(r.generation, 2);
        assert_eq!(g.state, GroupState::Stable);
        // The leader rejoining triggers a rebalance; the follower's heartbeat says so.
        let _rx = wait(g.join(req(&leader, None, b"a"), 7));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(
            g.heartbeat(&follower, None, 2, 8),
            Err(E::RebalanceInProgress)
        );
    }

    #[test]
    fn session_expiry_removes_member_and_rebalances() {
        let mut g = Group::new("g", CFG, 0);
        let (leader, follower) = stable_group(&mut g);
        // Only the leader heartbeats.
        assert_eq!(g.heartbeat(&leader, None, 2, 5000), Ok(()));
        assert!(!g.tick(6000));
        assert!(g.has(&follower));
        assert!(!g.tick(6005));
        assert!(!g.has(&follower));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        let mut rx = wait(g.join(req(&leader, None, b"a"), 6010));
        let r = rx.try_recv().unwrap();
        assert_eq!(r.generation, 3);
        assert_eq!(r.members.len(), 1);
        // The leader leaves: the group becomes Empty.
        assert_eq!(g.leave(&leader, None, 6020), Ok(true));
        assert_eq!(g.state, GroupState::Empty);
        assert_eq!(g.check_commit("", None, -1, 6030), Ok(()));
    }

    #[test]
    fn member_id_required_and_protocol_checks() {
        let mut g = Group::new("g", CFG, 0);
        let mut r = req("", None, b"a");
        r.require_known_member_id = true;
        let first = now_result(g.join(r.clone(), 0));
        assert_eq!(first.error, Some(E::MemberIdRequired));
        assert_eq!(g.pending_count(), 1);
        r.member_id = first.member_id.clone();
        let mut rx = wait(g.join(r, 1));
        assert_eq!(rx.try_recv().unwrap().member_id, first.member_id);
        let mut other = req("", None, b"x");
        other.protocol_type = "connect".into();
        assert_eq!(
            now_result(g.join(other, 2)).error,
            Some(E::InconsistentGroupProtocol)
        );
        let mut other = req("", None, b"x");
        other.protocols = vec![("roundrobin".into(), Bytes::new())];
        assert_eq!(
            now_result(g.join(other, 2)).error,
            Some(E::InconsistentGroupProtocol)
        );
    }

    #[test]
    fn group_max_size_is_enforced() {
        let mut g = Group::new(
            "g",
            GroupConfig {
                initial_rebalance_delay_ms: 0,
                max_size: 1,
            },
            0,
        );
        let _a = wait(g.join(req("", None, b"a"), 0));
        assert_eq!(
            now_result(g.join(req("", None, b"b"), 1)).error,
            Some(E::GroupMaxSizeReached)
        );
    }

    #[test]
    fn initial_rebalance_delay_waits_for_more_members() {
        let cfg = GroupConfig {
            initial_rebalance_delay_ms: 100,
            max_size: 10,
        };
        let mut g = Group::new("g", cfg, 0);
        let mut a = wait(g.join(req("", None, b"a"), 0));
        assert!(a.try_recv().is_err());
        g.tick(50);
        let mut b = wait(g.join(req("", None, b"b"), 60));
        g.tick(100); // new member added: delay extended
        assert!(a.try_recv().is_err());
        g.tick(200);
        assert_eq!(a.try_recv().unwrap().generation, 1);
        assert_eq!(b.try_recv().unwrap().generation, 1);
    }

    #[test]
    fn static_member_rejoin_does_not_rebalance() {
        let mut g = Group::new("g", CFG, 0);
        let mut a = wait(g.join(req("", Some("i1"), b"a"), 0));
        let ra = a.try_recv().unwrap();
        let (mut rx, map) = match g.sync(
            &ra.member_id,
            Some("i1"),
            1,
            None,
            None,
            vec![(ra.member_id.clone(), Bytes::from_static(b"P0"))],
            1,
        ) {
            SyncOutcome::Store(rx, map) => (rx, map),
            _ => panic!(),
        };
        g.complete_sync(1, map, Ok(()), 2);
        assert!(rx.try_recv().unwrap().error.is_none());
        // Restart: unknown member id, same instance id.
        let r = match g.join(req("", Some("i1"), b"a"), 3) {
            JoinOutcome::NowAndStore(r) => r,
            _ => panic!("no rebalance expected"),
        };
        assert_ne!(r.member_id, ra.member_id);
        assert_eq!(r.generation, 1);
        assert_eq!(g.state, GroupState::Stable);
        // The old incarnation is fenced: FENCED_INSTANCE_ID (not
        // UNKNOWN_MEMBER_ID, which would make it rejoin) on every API.
        assert_eq!(
            g.heartbeat(&ra.member_id, Some("i1"), 1, 4),
            Err(E::FencedInstanceId)
        );
        assert_eq!(
            g.check_commit(&ra.member_id, Some("i1"), 1, 4),
            Err(E::FencedInstanceId)
        );
        match g.sync(&ra.member_id, Some("i1"), 1, None, None, vec![], 4) {
            SyncOutcome::Now(s) => assert_eq!(s.error, Some(E::FencedInstanceId)),
            _ => panic!("fenced sync answers now"),
        }
        assert_eq!(
            g.leave(&ra.member_id, Some("i1"), 4),
            Err(E::FencedInstanceId)
        );
        // An instance id the group does not know is an unknown member.
        assert_eq!(
            g.heartbeat(&r.member_id, Some("i2"), 1, 4),
            Err(E::UnknownMemberId)
        );
        assert_eq!(
            now_result(g.join(req(&ra.member_id, Some("i1"), b"a"), 4)).error,
            Some(E::FencedInstanceId)
        );
        match g.sync(&r.member_id, Some("i1"), 1, None, None, vec![], 5) {
            SyncOutcome::Now(s) => assert_eq!(&s.assignment[..], b"P0"),
            _ => panic!(),
        }
    }

    #[test]
    fn followers_are_answered_before_the_leader() {
        let mut g = Group::new("g", CFG, 0);
        let (leader, follower) = stable_group(&mut g);
        assert_eq!(
            g.join_answer_order(),
            vec![follower.clone(), leader.clone()]
        );
        // Whatever the ids sort as, the leader comes last.
        g.leader = Some(follower.clone());
        assert_eq!(g.join_answer_order(), vec![leader, follower]);
    }

    #[test]
    fn subscription_topics_parse() {
        let mut b = vec![0, 1, 0, 0, 0, 2];
        for t in ["a", "bc"] {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            parse_subscription_topics(&b),
            Some(vec!["a".into(), "bc".into()])
        );
        assert_eq!(parse_subscription_topics(&b[..7]), None);
    }
}
