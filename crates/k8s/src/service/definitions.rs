//! RegisterJobDefinition, DescribeJobDefinitions, DeregisterJobDefinition and
//! DescribeJobQueues on Kubernetes.
//!
//! Job definitions are account-wide in AWS; here they live in one namespace (the service's
//! `--job-definition-namespace`) and every key granted these operations sees all of them.
//! They are read with a GET or a LIST per request (no watch): they are small and few.

use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

use super::KubeJobService;
use crate::api::{DescribeJobQueuesRequest, RequestContext, ServiceError};
use crate::batch::{
    self, DefinitionContent, DefinitionQuery, DefinitionRef, DefinitionStatus, JobQueueDetail,
};
use crate::controller::FIELD_MANAGER;
use crate::controller::actions::is_already_exists;
use crate::definition::{
    DEFINITION_NAME_LABEL, DEFINITION_STATUS_LABEL, JobDefinition, name_hash, object_name,
};

/// Registrations racing for one name retry this many times with the next revision.
const REGISTER_ATTEMPTS: usize = 8;

impl KubeJobService {
    fn definitions(&self) -> Api<JobDefinition> {
        Api::namespaced(self.client.clone(), &self.settings.job_definition_namespace)
    }

    /// Every revision of `name` (the label selects by hash; the spec confirms the name).
    async fn revisions(&self, name: &str) -> Result<Vec<JobDefinition>, ServiceError> {
        let params =
            ListParams::default().labels(&format!("{DEFINITION_NAME_LABEL}={}", name_hash(name)));
        let list = self
            .definitions()
            .list(&params)
            .await
            .map_err(|e| ServiceError::server("listing job definitions", e))?;
        Ok(list
            .items
            .into_iter()
            .filter(|d| d.spec.job_definition_name == name)
            .collect())
    }

    /// The revision a reference names: the latest ACTIVE one for a bare name. `None` when
    /// there is none.
    pub(super) async fn find_definition(
        &self,
        reference: &DefinitionRef,
    ) -> Result<Option<JobDefinition>, ServiceError> {
        match reference {
            DefinitionRef::Revision(name, revision) => {
                let found = self
                    .definitions()
                    .get_opt(&object_name(name, *revision))
                    .await
                    .map_err(|e| ServiceError::server("reading a job definition", e))?;
                Ok(found.filter(|d| d.spec.job_definition_name == *name))
            }
            DefinitionRef::Latest(name) => Ok(self
                .revisions(name)
                .await?
                .into_iter()
                .filter(|d| d.status() == DefinitionStatus::Active)
                .max_by_key(|d| d.spec.revision)),
        }
    }

    pub(super) async fn register(
        &self,
        name: String,
        content: DefinitionContent,
    ) -> Result<batch::JobDefinition, ServiceError> {
        let ns = &self.settings.job_definition_namespace;
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        for _ in 0..REGISTER_ATTEMPTS {
            let next = self
                .revisions(&name)
                .await?
                .iter()
                .map(|d| d.spec.revision)
                .max()
                .unwrap_or(0)
                + 1;
            let object = JobDefinition::revision(ns, &name, next, content.clone());
            match self.definitions().create(&params, &object).await {
                Ok(created) => {
                    tracing::info!(name, revision = next, "job definition registered");
                    return Ok(created.to_batch(&self.settings.region, &self.settings.account_id));
                }
                // Another registration took this revision: take the next.
                Err(error) if is_already_exists(&error) => continue,
                Err(error) => {
                    return Err(ServiceError::server(
                        "registering the job definition",
                        error,
                    ));
                }
            }
        }
        Err(ServiceError::Server {
            message: format!(
                "job definition {name}: {REGISTER_ATTEMPTS} registrations raced for its next \
             revision; retry"
            ),
            source: None,
        })
    }

    pub(super) async fn describe_definitions_page(
        &self,
        query: DefinitionQuery,
    ) -> Result<(Vec<batch::JobDefinition>, Option<String>), ServiceError> {
        let objects = match query.single_name() {
            Some(name) => self.revisions(name).await?,
            None => {
                self.definitions()
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| ServiceError::server("listing job definitions", e))?
                    .items
            }
        };
        let all = objects
            .iter()
            .map(|d| d.to_batch(&self.settings.region, &self.settings.account_id))
            .collect();
        Ok(query.page(all))
    }

    pub(super) async fn deregister(&self, reference: DefinitionRef) -> Result<(), ServiceError> {
        let Some(found) = self.find_definition(&reference).await? else {
            return Err(ServiceError::Client(format!(
                "job definition {}{} not found",
                reference.name(),
                match &reference {
                    DefinitionRef::Revision(_, r) => format!(":{r}"),
                    DefinitionRef::Latest(_) => String::new(),
                }
            )));
        };
        if found.status() == DefinitionStatus::Inactive {
            return Ok(());
        }
        let patch =
            serde_json::json!({"metadata": {"labels": {DEFINITION_STATUS_LABEL: "INACTIVE"}}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let name = object_name(&found.spec.job_definition_name, found.spec.revision);
        self.definitions()
            .patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| ServiceError::server("deregistering the job definition", e))?;
        Ok(())
    }

    /// DescribeJobQueues: the queues in the caller's namespaces.
    pub(super) fn queues_page(
        &self,
        ctx: &RequestContext,
        request: DescribeJobQueuesRequest,
    ) -> Result<(Vec<JobQueueDetail>, Option<String>), ServiceError> {
        let (page, next) = self.settings.queues.describe(
            &request.job_queues,
            request.max_results,
            request.next_token.as_deref(),
            |ns| ctx.caller.may_touch(ns),
        )?;
        Ok((
            page.into_iter()
                .map(|q| q.detail(&self.settings.region, &self.settings.account_id))
                .collect(),
            next,
        ))
    }
}
