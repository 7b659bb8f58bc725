//! The no-cluster demo (`serve --sim`): two Jobs in an embedded kubesim cluster, one running
//! and one queued, and the commands that terminate them.

use std::future::Future;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::batch::{QueueConfig, QueueState, Queues};
use crate::config::ServeArgs;
use crate::serve::{Error, Result, Server, Settings, install_crd};

pub const NAMESPACE: &str = "demo";
/// (Batch job ID, Job name, suspended)
pub const JOBS: [(&str, &str, bool); 2] = [
    ("demo-running", "nightly-etl", false),
    ("demo-queued", "weekly-report", true),
];

/// `serve --sim`: starts the embedded cluster, installs the CRD, runs the service against it,
/// seeds the demo Jobs and prints how to use them, then serves until `stop`.
pub async fn serve(
    args: &ServeArgs,
    settings: Settings,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    // The embedded cluster lives as long as the service.
    let sim = kubesim::start(kubesim::Config::default().control_plane(true))
        .await
        .map_err(Error::Sim)?;
    let url = sim.url().parse().map_err(|e| Error::SimUrl(Box::new(e)))?;
    let client = Client::try_from(kube::Config::new(url)).map_err(Error::Client)?;
    install_crd(&client).await.map_err(Error::InstallCrd)?;
    if let Some(path) = &args.sim_kubeconfig {
        sim.write_kubeconfig(path).map_err(Error::Sim)?;
    }
    let server = Server::start(client.clone(), demo_settings(settings)).await?;
    seed(&client).await.map_err(Error::Demo)?;
    println!(
        "{}",
        instructions(
            &server.api_url(),
            &sim.url(),
            args.sim_kubeconfig.as_deref()
        )
    );
    server.serve_until(stop).await;
    Ok(())
}

/// Without `--job-queues`, the demo has one queue, `demo`, in its namespace; job definitions
/// live there too unless `--job-definition-namespace` names another namespace.
fn demo_settings(mut settings: Settings) -> Settings {
    if settings.service.queues.is_empty()
        && let Ok(queues) = Queues::new(vec![QueueConfig {
            name: NAMESPACE.into(),
            namespace: NAMESPACE.into(),
            kueue_local_queue: None,
            priority: 1,
            state: QueueState::Enabled,
        }])
    {
        settings.service.queues = queues;
    }
    if settings.service.job_definition_namespace == "default" {
        settings.service.job_definition_namespace = NAMESPACE.into();
    }
    settings
}

/// Creates the demo namespace and Jobs. An existing one is left as it is.
pub async fn seed(client: &Client) -> Result<(), kube::Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))
        .map_err(kube::Error::SerdeError)?;
    ignore_exists(namespaces.create(&PostParams::default(), &ns).await)?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    for (id, name, suspend) in JOBS {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {crate::record::JOB_ID_LABEL: id}},
            "spec": {
                "suspend": suspend,
                "backoffLimit": 2,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]
                }}
            }
        }))
        .map_err(kube::Error::SerdeError)?;
        let created = ignore_exists(jobs.create(&PostParams::default(), &job).await)?;
        if let Some(job) = created {
            tracing::info!(job = job.name_any(), id, "demo job created");
        }
    }
    Ok(())
}

fn ignore_exists<T>(result: Result<T, kube::Error>) -> Result<Option<T>, kube::Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the demo prints once it is serving.
pub fn instructions(endpoint: &str, cluster: &str, kubeconfig: Option<&std::path::Path>) -> String {
    let kubectl = match kubeconfig {
        Some(path) => format!(
            "  kubectl --kubeconfig {} -n {NAMESPACE} get jobs,pods,events\n",
            path.display()
        ),
        None => "  (pass --sim-kubeconfig PATH to point kubectl at the cluster)\n".to_string(),
    };
    format!(
        "batch-terminator is serving the AWS Batch API at {endpoint}\n\
         against an embedded kubesim cluster at {cluster}, with two Jobs in namespace {NAMESPACE}:\n\
         demo-running (RUNNING) and demo-queued (RUNNABLE).\n\n\
         Terminate the running one and cancel the queued one:\n\
         \x20 curl -s -X POST {endpoint}/v1/terminatejob -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"jobId\": \"demo-running\", \"reason\": \"stopped from the demo\"}}'\n\
         \x20 curl -s -X POST {endpoint}/v1/canceljob -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"jobId\": \"demo-queued\", \"reason\": \"not needed this week\"}}'\n\
         Then see them FAILED, with your reasons:\n\
         \x20 curl -s -X POST {endpoint}/v1/describejobs -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"jobs\": [\"demo-running\", \"demo-queued\"]}}'\n\n\
         With aws-cli (any credentials; the demo does not check signatures):\n\
         \x20 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo aws batch describe-jobs \\\n\
         \x20   --endpoint-url {endpoint} --region us-east-1 --jobs demo-running demo-queued\n\n\
         And in the cluster:\n{kubectl}\n\
         Ctrl-C stops the demo."
    )
}
