//! SigV4 and per-namespace access, end to end with the unmodified `aws-sdk-batch` crate.

use std::time::{Duration, SystemTime};

use aws_sdk_batch::config::retry::RetryConfig;
use aws_smithy_async::time::StaticTimeSource;
use batch_terminator::auth::{Auth, Credentials};
use kube::ResourceExt;
use serde_json::json;
use test_support::eventually;

use crate::harness::{Env, code_and_message, sdk_client, settings, sim_config};

/// A client signing with this key; `at` fixes the clock it signs with. No retries, so each
/// error is the server's first answer.
fn sdk(env: &Env, key: &str, secret: &str, at: Option<SystemTime>) -> aws_sdk_batch::Client {
    sdk_client(env, key, secret, |config| {
        let config = config.retry_config(RetryConfig::disabled());
        match at {
            Some(at) => config.time_source(StaticTimeSource::new(at)),
            None => config,
        }
    })
}

/// Three keys: one for the test's namespace, one for another namespace, one that may only
/// read, everywhere. Written to a file and loaded as `--credentials-file` would load it.
fn credentials_for(ns: &str) -> Credentials {
    let yaml = format!(
        r#"
accessKeys:
  AKIDTEAM:
    secretAccessKey: "team/secret+key"
    namespaces: ["{ns}"]
    operations: ["*"]
  AKIDELSEWHERE:
    secretAccessKey: elsewhere-secret
    namespaces: [some-other-namespace]
    operations: ["*"]
  AKIDREADER:
    secretAccessKey: reader-secret
    namespaces: ["*"]
    operations: [DescribeJobs, ListJobs]
"#
    );
    let path = std::env::temp_dir().join(format!("bt-credentials-{ns}.yaml"));
    std::fs::write(&path, yaml).expect("credentials file written");
    let credentials = Credentials::load(&path).expect("credentials load");
    let _ = std::fs::remove_file(&path);
    credentials
}

#[tokio::test]
async fn sigv4_authenticates_and_scopes_keys_to_namespaces() {
    let env = Env::start_with_settings(sim_config(), |ns| {
        let mut settings = settings();
        settings.auth = Auth::sigv4(credentials_for(ns), "us-east-1");
        settings
    })
    .await;
    let job = env.create_job("signed", json!({}), json!({})).await;
    let id = job.uid().expect("uid");
    env.wait_pod_phase(&job, "Running").await;

    // The right key works: describe (once the service's caches have the job) and list its own
    // namespace.
    let team = sdk(&env, "AKIDTEAM", "team/secret+key", None);
    let described = eventually("the signed DescribeJobs to show the job", || async {
        let out = team
            .describe_jobs()
            .jobs(&id)
            .send()
            .await
            .expect("DescribeJobs with the right key");
        (!out.jobs().is_empty()).then_some(out)
    })
    .await;
    assert_eq!(described.jobs().len(), 1);
    assert_eq!(described.jobs()[0].job_id(), Some(id.as_str()));
    let listed = team
        .list_jobs()
        .job_queue(&env.ns)
        .send()
        .await
        .expect("ListJobs");
    assert!(
        listed
            .job_summary_list()
            .iter()
            .any(|j| j.job_id() == Some(id.as_str())),
        "{listed:?}"
    );

    // A wrong secret.
    let (code, message) = code_and_message!(
        sdk(&env, "AKIDTEAM", "not-the-secret", None)
            .describe_jobs()
            .jobs(&id)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidSignatureException");
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );

    // An unknown key.
    let (code, message) = code_and_message!(
        sdk(&env, "AKIDNOBODY", "whatever", None)
            .describe_jobs()
            .jobs(&id)
            .send()
            .await,
    );
    assert_eq!(code, "UnrecognizedClientException");
    assert_eq!(
        message,
        "The security token included in the request is invalid."
    );

    // A stale date: signed 20 minutes ago.
    let stale = SystemTime::now() - Duration::from_secs(20 * 60);
    let (code, message) = code_and_message!(
        sdk(&env, "AKIDTEAM", "team/secret+key", Some(stale))
            .describe_jobs()
            .jobs(&id)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidSignatureException");
    assert!(message.starts_with("Signature expired: "), "{message}");

    // A key used outside its namespaces: terminate and describe are refused, the queue
    // lists nothing of this namespace.
    let elsewhere = sdk(&env, "AKIDELSEWHERE", "elsewhere-secret", None);
    let (code, message) = code_and_message!(
        elsewhere
            .terminate_job()
            .job_id(&id)
            .reason("not mine")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("AKIDELSEWHERE"), "{message}");
    let (code, _) = code_and_message!(elsewhere.describe_jobs().jobs(&id).send().await);
    assert_eq!(code, "AccessDeniedException");
    let listed = elsewhere
        .list_jobs()
        .job_queue(&env.ns)
        .send()
        .await
        .expect("ListJobs outside the key's namespaces");
    assert!(listed.job_summary_list().is_empty(), "{listed:?}");

    // A key without the operation.
    let reader = sdk(&env, "AKIDREADER", "reader-secret", None);
    let (code, message) = code_and_message!(
        reader
            .cancel_job()
            .job_id(&id)
            .reason("read-only key")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("batch:CancelJob"), "{message}");
    reader
        .describe_jobs()
        .jobs(&id)
        .send()
        .await
        .expect("the reader describes");

    // No signature at all.
    let (status, error_type, body) = env
        .post("/v1/describejobs", &json!({"jobs": [id]}).to_string())
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        error_type.as_deref(),
        Some("MissingAuthenticationTokenException")
    );
    // The bulk operations need the grant of their single form, so the reader is refused.
    let (status, error_type, body) = env
        .post(
            "/v1/terminatejobs",
            &json!({"jobs": [{"jobId": id, "reason": "r"}]}).to_string(),
        )
        .await;
    assert_eq!(
        (status, error_type.as_deref()),
        (403, Some("MissingAuthenticationTokenException")),
        "{body}"
    );
    // The API's own description is public.
    let doc = env
        .http
        .get(format!("{}/openapi.json", env.endpoint))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(doc.status().as_u16(), 200);

    // None of the refused calls changed the job; the right key terminates it.
    assert!(
        env.jobs()
            .get("signed")
            .await
            .expect("job")
            .annotations()
            .get("batch-terminator.dev/reason")
            .is_none()
    );
    team.terminate_job()
        .job_id(&id)
        .reason("signed and allowed")
        .send()
        .await
        .expect("TerminateJob with the right key");
    env.wait_condition("signed", "Failed").await;
}

/// Two tenants, one key each. The other tenant labels its Jobs with the victim's job ID and
/// with the victim Job's uid: the victim still terminates its job by either, the other tenant
/// is refused the victim's uid, and a key that sees both namespaces gets a 400 naming them.
#[tokio::test]
async fn another_tenant_can_neither_shadow_nor_block_a_job_id() {
    let env = Env::start_with_settings(sim_config(), |ns| {
        let yaml = format!(
            r#"
accessKeys:
  AKIDVICTIM: {{secretAccessKey: victim-secret, namespaces: ["{ns}"], operations: ["*"]}}
  AKIDOTHER: {{secretAccessKey: other-secret, namespaces: ["{ns}-other"], operations: ["*"]}}
  AKIDBOTH: {{secretAccessKey: both-secret, namespaces: ["{ns}", "{ns}-other"], operations: ["*"]}}
"#
        );
        let mut settings = settings();
        settings.auth = Auth::sigv4(
            Credentials::from_yaml(&yaml).expect("credentials"),
            "us-east-1",
        );
        settings
    })
    .await;
    let other_ns = format!("{}-other", env.ns);
    env.create_namespace(&other_ns).await;
    let suspended = json!({"suspend": true});
    let label = |id: &str| json!({"batch-terminator.dev/job-id": id});
    let victim_job = env
        .create_job_in(
            &env.ns,
            "nightly",
            label("nightly"),
            suspended.clone(),
            json!({}),
        )
        .await;
    let victim_uid = victim_job.uid().expect("uid");
    let kept = env
        .create_job_in(&env.ns, "kept", label("kept"), suspended.clone(), json!({}))
        .await;
    let kept_uid = kept.uid().expect("uid");
    for (name, id) in [
        ("shadow", "nightly"),
        ("uid-shadow", victim_uid.as_str()),
        ("kept-shadow", "kept"),
    ] {
        env.create_job_in(&other_ns, name, label(id), suspended.clone(), json!({}))
            .await;
    }
    let victim = sdk(&env, "AKIDVICTIM", "victim-secret", None);
    let other = sdk(&env, "AKIDOTHER", "other-secret", None);
    let both = sdk(&env, "AKIDBOTH", "both-secret", None);

    // Each tenant sees its own job under the shared label.
    let described = victim
        .describe_jobs()
        .jobs("nightly")
        .send()
        .await
        .expect("describe");
    assert_eq!(described.jobs().len(), 1);
    assert_eq!(described.jobs()[0].job_name(), Some("nightly"));
    let described = other
        .describe_jobs()
        .jobs("nightly")
        .send()
        .await
        .expect("describe");
    assert_eq!(described.jobs()[0].job_name(), Some("shadow"));

    // The victim's uid is the victim's Job, even for the tenant that labelled a Job with it:
    // that tenant is refused, as for any job outside its namespaces.
    let (code, message) = code_and_message!(
        other
            .terminate_job()
            .job_id(&victim_uid)
            .reason("hijack")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException", "{message}");
    let described = victim
        .describe_jobs()
        .jobs(&victim_uid)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.jobs()[0].job_name(), Some("nightly"));

    // A key that sees both namespaces meets a real clash: 400 naming both, and the uid works.
    let (code, message) = code_and_message!(both.describe_jobs().jobs("kept").send().await);
    assert_eq!(code, "ClientException");
    assert!(
        message.contains(&env.ns) && message.contains(&other_ns) && message.contains("uid"),
        "{message}"
    );
    let described = both
        .describe_jobs()
        .jobs(&kept_uid)
        .send()
        .await
        .expect("by uid");
    assert_eq!(described.jobs()[0].job_name(), Some("kept"));

    // The victim terminates its job by its label; the other tenant's Jobs are untouched.
    victim
        .terminate_job()
        .job_id("nightly")
        .reason("mine to stop")
        .send()
        .await
        .expect("TerminateJob by label");
    env.wait_job_gone("nightly").await;
    let others: kube::Api<k8s_openapi::api::batch::v1::Job> =
        kube::Api::namespaced(env.client.clone(), &other_ns);
    for name in ["shadow", "uid-shadow", "kept-shadow"] {
        let job = others
            .get(name)
            .await
            .expect("the other tenant's Job is still there");
        assert!(
            !job.annotations()
                .contains_key("batch-terminator.dev/reason"),
            "{name} was touched"
        );
    }
    // The cancelled job is still described, by label and by uid, from its record.
    for id in ["nightly", victim_uid.as_str()] {
        let described = victim
            .describe_jobs()
            .jobs(id)
            .send()
            .await
            .expect("describe");
        assert_eq!(described.jobs().len(), 1, "{id}");
        assert_eq!(
            described.jobs()[0].status_reason(),
            Some("mine to stop"),
            "{id}"
        );
    }
}
