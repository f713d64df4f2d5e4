//! The Kafka API functions other front ends call in-process (the web
//! console and the HTTP routes): each takes the same request type its Kafka
//! API decodes and returns the same response, through the same handler, so
//! a change made over HTTP behaves exactly as one made by a Kafka client.
//! Produce has its own domain-level entry, [`Broker::produce`]. Each takes
//! the caller's context: [`RequestContext::internal`] (the authorizer allows
//! everything) or [`RequestContext::signed_in`] (a console user, checked as
//! the Kafka API checks a client).

use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, DeleteRecordsRequest, DeleteRecordsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use super::{Broker, RequestContext};

/// The DeleteTopics version the facade speaks (topics by name).
const DELETE_TOPICS_VERSION: i16 = 5;

impl Broker {
    /// The cluster id (Metadata, DescribeCluster).
    pub fn cluster_id(&self) -> String {
        self.metadata.cluster_id()
    }

    /// IncrementalAlterConfigs (topics; the broker's configs are read-only).
    pub async fn incremental_alter_configs(
        &self,
        ctx: &RequestContext,
        request: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        super::configs::incremental_alter(self, ctx, request).await
    }

    /// DeleteTopics, topics named in `topic_names`.
    pub async fn delete_topics(
        &self,
        ctx: &RequestContext,
        request: DeleteTopicsRequest,
    ) -> DeleteTopicsResponse {
        super::admin::delete_topics(self, ctx, DELETE_TOPICS_VERSION, request).await
    }

    /// CreatePartitions.
    pub async fn create_partitions(
        &self,
        ctx: &RequestContext,
        request: CreatePartitionsRequest,
    ) -> CreatePartitionsResponse {
        super::admin::create_partitions(self, ctx, request).await
    }

    /// DeleteRecords.
    pub async fn delete_records(
        &self,
        ctx: &RequestContext,
        request: DeleteRecordsRequest,
    ) -> DeleteRecordsResponse {
        super::delete_records::delete_records(self, ctx, request).await
    }
}
