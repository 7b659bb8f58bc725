//! The [`JobService`] on Kubernetes: lookups come from the [`Index`], and a TerminateJob or
//! CancelJob answers 200 only once its JobTermination record exists in the API server.

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use crate::api::{
    DescribeJobQueuesRequest, JobService, RequestContext, ServiceError, SubmitJobResponse,
};
use crate::batch::{
    self, DefinitionContent, DefinitionQuery, DefinitionRef, DescribeCommand, DetailContext,
    JobDefinition, JobDetail, JobQueueDetail, JobSummary, ListKey, ListPage, ListQuery, ListScope,
    Queues, SubmitCommand, TerminateCommand, TerminateKind, TerminationPhase,
};
use crate::controller::FIELD_MANAGER;
use crate::index::{ALL_NAMESPACES, Index, JobEntry, Lookup, Miss, Misses, views};
use crate::record::{
    JOB_QUEUE_LABEL, JOB_UID_LABEL, JobTermination, JobTerminationSpec, SUBMISSION_ANNOTATION,
};
use k8s_openapi::api::batch::v1::Job;

/// Settings of the API's answers.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// For job ARNs.
    pub region: String,
    pub account_id: String,
    /// Answer ClientException for an unknown job ID, instead of AWS's 200.
    pub strict_unknown_jobs: bool,
    /// The configured job queues (`--job-queues`); SubmitJob maps other names to namespaces.
    pub queues: Queues,
    /// Where JobDefinition objects live.
    pub job_definition_namespace: String,
}

mod definitions;
mod submit;

pub use submit::{build_job, job_id};

pub struct KubeJobService {
    client: Client,
    index: Index,
    misses: Misses,
    settings: ServiceSettings,
}

pub use crate::index::job_queue;

/// A job outside the caller's namespaces is refused, as IAM refuses a resource outside a
/// policy, rather than hidden as an unknown one would be.
fn outside(ctx: &RequestContext, id: &str) -> ServiceError {
    ServiceError::AccessDenied(format!(
        "User: {} is not authorized to perform: batch:{} on job {id}: \
         the job is outside the namespaces of this access key",
        ctx.caller.name(),
        ctx.operation.as_str()
    ))
}

fn record_name(job_uid: &str) -> String {
    job_uid.to_string()
}

impl KubeJobService {
    pub fn new(client: Client, index: Index, settings: ServiceSettings) -> Self {
        Self {
            misses: Misses::new(client.clone(), index.clone()),
            client,
            index,
            settings,
        }
    }

    /// Fails with a retryable 500 naming them when some of the caller's namespaces are not
    /// whole in the caches (a watch listing, failing or forbidden): then `what` (a job ID
    /// not found, a queue's page) cannot be answered truthfully. Callers whose namespaces are
    /// all whole are unaffected.
    fn whole_for(&self, ctx: &RequestContext, what: &str) -> Result<(), ServiceError> {
        let incomplete = self
            .index
            .incomplete_namespaces(|ns| ctx.caller.may_touch(ns));
        if incomplete.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = incomplete
            .iter()
            .map(|ns| match ns.as_str() {
                ALL_NAMESPACES => "all namespaces".to_string(),
                ns => format!("namespace {ns}"),
            })
            .collect();
        Err(ServiceError::Server {
            message: format!(
                "{what}: the service's view of {} is incomplete (its watch is starting, failing \
                 or forbidden); retry",
                names.join(", ")
            ),
            source: None,
        })
    }

    /// For a job ID the caches miss: the job after all, when the API server has it and the
    /// Job watch was behind; `None` when it is unknown (see [`Misses`]).
    async fn confirm_missing(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Option<JobEntry>, ServiceError> {
        self.whole_for(ctx, &format!("job {id} is not in the caches"))?;
        let explicit = match &ctx.caller.namespaces {
            batch_terminator_core::auth::Scope::All => None,
            batch_terminator_core::auth::Scope::Only(namespaces) => Some(namespaces),
        };
        let miss = self
            .misses
            .confirm(id, |ns| ctx.caller.may_touch(ns), explicit)
            .await
            .map_err(|e| {
                ServiceError::server(
                    format!("could not confirm that job {id} is unknown; retry"),
                    e,
                )
            })?;
        match miss {
            Miss::Absent => Ok(None),
            Miss::Arrived => self.lookup(ctx, id),
            Miss::Lagging(namespaces) => Err(ServiceError::Server {
                message: format!(
                    "job {id} exists (in {}) but the service's caches have not caught up with it \
                     yet; retry",
                    namespaces.join(", ")
                ),
                source: None,
            }),
        }
    }

    /// The job `id` names among the caller's namespaces (see [`Index::lookup`]).
    fn lookup(&self, ctx: &RequestContext, id: &str) -> Result<Option<JobEntry>, ServiceError> {
        match self.index.lookup(id, |ns| ctx.caller.may_touch(ns)) {
            Lookup::Found(entry) => Ok(Some(entry)),
            Lookup::NotFound => Ok(None),
            Lookup::Outside => Err(outside(ctx, id)),
            Lookup::Ambiguous(namespaces) => Err(ServiceError::Client(format!(
                "job ID {id} is the {} label of Jobs in several namespaces ({}); \
                 address one of them by its uid",
                crate::record::JOB_ID_LABEL,
                namespaces.join(", ")
            ))),
        }
    }

    fn context(&self, job_id: &str, queue: String) -> DetailContext {
        DetailContext {
            region: self.settings.region.clone(),
            account: self.settings.account_id.clone(),
            job_id: job_id.to_string(),
            job_queue: queue,
        }
    }

    /// The Batch queue of a job whose queue label says `queue`: a configured queue's name
    /// when `queue` is its Kueue LocalQueue in `namespace` (Kueue's label wins over ours on a
    /// Job), else `queue`.
    fn batch_queue(&self, namespace: &str, queue: String) -> String {
        match self.settings.queues.by_local_queue(namespace, &queue) {
            Some(config) => config.name.clone(),
            None => queue,
        }
    }

    /// The jobs of a queue: those labelled with its name and, for a configured queue with a
    /// Kueue LocalQueue, those of that LocalQueue in its namespace.
    fn queue_entries(&self, queue: &str) -> Vec<JobEntry> {
        let mut entries = self.index.queue(queue);
        if let Some(config) = self.settings.queues.get(queue)
            && let Some(local_queue) = config.kueue_local_queue.as_deref()
            && local_queue != queue
        {
            entries.extend(
                self.index
                    .queue(local_queue)
                    .into_iter()
                    .filter(|e| e.namespace().as_deref() == Some(config.namespace.as_str())),
            );
        }
        entries
    }

    /// DescribeJobs' answer for one entry. `child` selects one index of an array job.
    fn detail(&self, id: &str, entry: &JobEntry, child: Option<u32>) -> Option<JobDetail> {
        let mut detail = views::entry_detail(
            entry,
            id,
            child,
            &self.settings.region,
            &self.settings.account_id,
        )?;
        // AWS answers the queue's ARN.
        let queue = self.batch_queue(&entry.namespace().unwrap_or_default(), detail.job_queue);
        detail.job_queue =
            batch::job_queue_arn(&self.settings.region, &self.settings.account_id, &queue);
        Some(match entry.job.as_deref().and_then(submission) {
            Some(submission) => detail.with_submission(&submission),
            None => detail,
        })
    }

    /// One page of a queue's jobs in the caller's namespaces. Only the jobs that can make the
    /// page get a summary built, in list order (see [`batch::paginate_by`]).
    fn queue_page(&self, ctx: &RequestContext, queue: &str, query: &ListQuery) -> ListPage {
        let visible = self.queue_entries(queue).into_iter().filter_map(|entry| {
            let (id, namespace, created) = match (entry.job.as_deref(), entry.record.as_deref()) {
                (Some(job), _) => (
                    crate::index::job_id(job)?,
                    job.namespace()?,
                    job.creation_timestamp()
                        .as_ref()
                        .map(|t| t.0)
                        .unwrap_or_default(),
                ),
                // Jobs deleted by a cancel live on in their records.
                (None, Some(record)) => (
                    record.spec.job_id.clone(),
                    record.namespace()?,
                    record.spec.job_created_at,
                ),
                (None, None) => return None,
            };
            let key = ListKey {
                created_at: created.as_millisecond(),
                index: None,
                job_id: id,
            };
            ctx.caller.may_touch(&namespace).then_some((key, entry))
        });
        batch::paginate_by(
            visible,
            |(key, _)| key.clone(),
            |(key, entry)| Some(self.detail(&key.job_id, &entry, None)?.summary()),
            query,
        )
    }

    /// The summaries of an array job's children; an array job outside the caller's
    /// namespaces is refused.
    fn children(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<JobSummary>, ServiceError> {
        Ok(match self.lookup(ctx, parent)? {
            Some(JobEntry {
                job: Some(job),
                pods,
                record,
            }) => {
                let pods: Vec<batch::PodView> = pods.iter().map(|p| views::pod_view(p)).collect();
                let termination = record
                    .as_deref()
                    .map(|r| views::termination_view(r, Some(&job)));
                let queue = self.batch_queue(&job.namespace().unwrap_or_default(), job_queue(&job));
                let ctx = self.context(parent, queue);
                batch::array_children(&views::job_view(&job), &pods, termination.as_ref(), &ctx)
                    .iter()
                    .map(JobDetail::summary)
                    .collect()
            }
            Some(JobEntry { job: None, .. }) => Vec::new(),
            None => {
                self.whole_for(ctx, &format!("array job {parent} is not in the caches"))?;
                Vec::new()
            }
        })
    }
}

/// What SubmitJob recorded on a Job it created; `None` for other Jobs (or an annotation
/// that does not parse, which is logged).
fn submission(job: &Job) -> Option<batch::Submission> {
    let text = job.annotations().get(SUBMISSION_ANNOTATION)?;
    serde_json::from_str(text)
        .inspect_err(|error| {
            tracing::warn!(job = job.name_any(), %error, "unreadable submission annotation")
        })
        .ok()
}

/// A CancelJob's record that changed nothing (the job had started).
fn is_noop_cancel(record: &JobTermination) -> bool {
    let status = record.status.as_ref();
    record.spec.operation == TerminateKind::Cancel
        && status.and_then(|s| s.phase) == Some(TerminationPhase::NoChange)
}

/// A JSON patch that turns a no-op CancelJob's record into this TerminateJob, guarded by tests
/// of the record's uid and operation: of two racing TerminateJobs the first reason stands.
fn terminate_patch(
    record: &JobTermination,
    command: &TerminateCommand,
    request_id: &str,
) -> serde_json::Value {
    serde_json::json!([
        {"op": "test", "path": "/metadata/uid", "value": record.uid()},
        {"op": "test", "path": "/spec/operation", "value": TerminateKind::Cancel},
        {"op": "replace", "path": "/spec/operation", "value": TerminateKind::Terminate},
        {"op": "replace", "path": "/spec/reason", "value": command.reason()},
        {"op": "replace", "path": "/spec/requestedAt", "value": Timestamp::now()},
        {"op": "add", "path": "/spec/requestId", "value": request_id},
    ])
}

impl KubeJobService {
    /// Turns the record of a CancelJob that changed nothing into this TerminateJob. Its
    /// generation moves, so the controller decides again.
    async fn upgrade_to_terminate(
        &self,
        ctx: &RequestContext,
        record: &JobTermination,
        command: &TerminateCommand,
    ) -> Result<(), ServiceError> {
        let ns = record.namespace().unwrap_or_default();
        let api: Api<JobTermination> = Api::namespaced(self.client.clone(), &ns);
        let patch = terminate_patch(record, command, &ctx.request_id.0.to_string());
        let patch: json_patch::Patch = serde_json::from_value(patch)
            .map_err(|e| ServiceError::server("building the record patch", e))?;
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api
            .patch(&record.name_any(), &params, &Patch::<()>::Json(patch))
            .await
        {
            Ok(_) => {
                tracing::info!("a CancelJob changed nothing; terminating now");
                Ok(())
            }
            // Another TerminateJob came first (the test failed): its reason stands.
            Err(kube::Error::Api(status)) if status.code == 422 => Ok(()),
            Err(error) => Err(ServiceError::server(
                format!(
                    "could not record the termination of job {}",
                    command.job_id()
                ),
                error,
            )),
        }
    }
}

impl JobService for KubeJobService {
    #[tracing::instrument(skip_all, fields(job_id = command.job_id(), operation = command.kind().operation()))]
    async fn terminate(
        &self,
        ctx: RequestContext,
        command: TerminateCommand,
    ) -> Result<(), ServiceError> {
        if let Some(error) = command.array_child_error() {
            return Err(error.into());
        }
        let id = command.job_id();
        let found = match self.lookup(&ctx, id)? {
            Some(entry) => Some(entry),
            // A Job created a moment ago may not be in the caches yet: a 200 could be a lie.
            None => self.confirm_missing(&ctx, id).await?,
        };
        let Some(entry) = found else {
            if self.settings.strict_unknown_jobs {
                return Err(ServiceError::Client(format!("job {id} not found")));
            }
            tracing::info!("unknown job ID; nothing to do");
            return Ok(());
        };
        // A record already exists: the first request stands (also after a cancel deleted the
        // Job), except that a TerminateJob after a CancelJob that changed nothing terminates.
        if let Some(record) = entry.record.as_deref() {
            if is_noop_cancel(record) && command.kind() == TerminateKind::Terminate {
                return self.upgrade_to_terminate(&ctx, record, &command).await;
            }
            tracing::info!("already requested; the first reason stands");
            return Ok(());
        }
        let Some(job) = entry.job.as_deref() else {
            return Ok(());
        };
        let state = views::batch_state(job, entry.pods.iter().map(|p| p.as_ref()));
        if batch::decide_state(state, command.kind())
            .action()
            .is_none()
        {
            tracing::info!(%state, "nothing to do in this state");
            return Ok(());
        }
        let (Some(uid), Some(ns)) = (job.uid(), job.namespace()) else {
            return Err(ServiceError::Server {
                message: format!("Job for {id} has no uid or namespace"),
                source: None,
            });
        };
        let mut record = JobTermination::new(
            &record_name(&uid),
            JobTerminationSpec {
                job_id: id.to_string(),
                job_name: job.name_any(),
                job_uid: uid.clone(),
                job_created_at: job
                    .creation_timestamp()
                    .as_ref()
                    .map(|t| t.0)
                    .unwrap_or_else(Timestamp::now),
                operation: command.kind(),
                reason: command.reason().to_string(),
                requested_at: Timestamp::now(),
                request_id: Some(ctx.request_id.0.to_string()),
            },
        );
        record.metadata.namespace = Some(ns.clone());
        // The queue label lets ListJobs find the job under its queue after a cancel deleted it.
        record.metadata.labels = Some(
            [
                (JOB_UID_LABEL.to_string(), uid),
                (JOB_QUEUE_LABEL.to_string(), job_queue(job)),
            ]
            .into(),
        );
        let api: Api<JobTermination> = Api::namespaced(self.client.clone(), &ns);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api.create(&params, &record).await {
            Ok(_) => {
                tracing::info!(%state, "termination recorded");
                Ok(())
            }
            Err(error) if crate::controller::actions::is_already_exists(&error) => {
                tracing::info!("already requested; the first reason stands");
                Ok(())
            }
            Err(error) => Err(ServiceError::server(
                format!("could not record the termination of job {id}"),
                error,
            )),
        }
    }

    async fn describe(
        &self,
        ctx: RequestContext,
        command: DescribeCommand,
    ) -> Result<Vec<JobDetail>, ServiceError> {
        let mut out = Vec::new();
        for id in command.job_ids() {
            let (parent, child) = match batch::split_array_child(id) {
                Some((parent, index)) => (parent, Some(index)),
                None => (id.as_str(), None),
            };
            match self.lookup(&ctx, parent)? {
                Some(entry) => out.extend(self.detail(parent, &entry, child)),
                // Left out, as AWS leaves an unknown ID out, only if the caches are whole.
                None => self.whole_for(&ctx, &format!("job {parent} is not in the caches"))?,
            }
        }
        Ok(out)
    }

    async fn list(&self, ctx: RequestContext, query: ListQuery) -> Result<ListPage, ServiceError> {
        Ok(match &query.scope {
            ListScope::JobQueue(queue) => {
                // Any namespace may hold jobs of any queue.
                self.whole_for(&ctx, &format!("the jobs of queue {queue}"))?;
                self.queue_page(&ctx, queue, &query)
            }
            ListScope::ArrayJob(parent) => batch::paginate(self.children(&ctx, parent)?, &query),
        })
    }

    #[tracing::instrument(skip_all, fields(job_name = command.job_name, job_queue = command.job_queue))]
    async fn submit(
        &self,
        ctx: RequestContext,
        command: SubmitCommand,
    ) -> Result<SubmitJobResponse, ServiceError> {
        self.submit_job(ctx, command).await
    }

    async fn register_definition(
        &self,
        _ctx: RequestContext,
        name: String,
        content: DefinitionContent,
    ) -> Result<JobDefinition, ServiceError> {
        self.register(name, content).await
    }

    async fn describe_definitions(
        &self,
        _ctx: RequestContext,
        query: DefinitionQuery,
    ) -> Result<(Vec<JobDefinition>, Option<String>), ServiceError> {
        self.describe_definitions_page(query).await
    }

    async fn deregister_definition(
        &self,
        _ctx: RequestContext,
        definition: DefinitionRef,
    ) -> Result<(), ServiceError> {
        self.deregister(definition).await
    }

    async fn describe_queues(
        &self,
        ctx: RequestContext,
        request: DescribeJobQueuesRequest,
    ) -> Result<(Vec<JobQueueDetail>, Option<String>), ServiceError> {
        self.queues_page(&ctx, request)
    }
}
