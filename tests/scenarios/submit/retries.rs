//! Retries: `retryStrategy.attempts` as the backoff limit, and `evaluateOnExit` as a
//! podFailurePolicy.

use super::*;

#[tokio::test]
async fn retry_attempts_run_again_until_the_limit() {
    let env = start().await;
    let client = sdk(&env);
    register_eks(&env, &client, "flaky", 1).await;
    let out = client
        .submit_job()
        .job_name("flaky")
        .job_queue(&env.ns)
        .job_definition(def(&env, "flaky"))
        .retry_strategy(RetryStrategy::builder().attempts(2).build())
        .send()
        .await
        .expect("submit");
    let both = |d: &Value| d["attempts"].as_array().is_some_and(|a| a.len() >= 2);
    let failed = env
        .wait_described_with(out.job_id().unwrap(), "FAILED", both)
        .await;
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 2, "{failed}");
    let reason = failed["statusReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("BackoffLimitExceeded"), "{reason}");
    let job = json_of(&job_of(&env, out.job_id().unwrap()).await);
    assert_eq!(job["spec"]["backoffLimit"], 1);
}

/// `evaluateOnExit` becomes a podFailurePolicy that the Job controller applies: exit code 42
/// fails the job at its first attempt (FailJob), any other failure is retried up to the
/// attempts (Count).
#[tokio::test]
async fn evaluate_on_exit_exits_on_its_code_and_retries_the_rest() {
    let env = start().await;
    let client = sdk(&env);
    let strategy = || {
        RetryStrategy::builder()
            .attempts(3)
            .evaluate_on_exit(
                EvaluateOnExit::builder()
                    .on_exit_code("42")
                    .action(RetryAction::Exit)
                    .build(),
            )
            .evaluate_on_exit(
                EvaluateOnExit::builder()
                    .on_exit_code("*")
                    .action(RetryAction::Retry)
                    .build(),
            )
            .build()
    };
    for (name, code) in [("exits-42", 42), ("exits-1", 1)] {
        register_eks_with(&env, &client, name, code, |r| r.retry_strategy(strategy())).await;
    }
    let submit = |definition: &'static str| {
        client
            .submit_job()
            .job_name(definition)
            .job_queue(&env.ns)
            .job_definition(def(&env, definition))
            .send()
    };
    let exits = submit("exits-42").await.expect("submit");
    let retried = submit("exits-1").await.expect("submit");

    // Waits for `attempts` attempts: they come from the pod watch, which may lag the Job watch.
    let described = |id: String, attempts: usize| {
        let client = client.clone();
        async move {
            let out = client
                .describe_jobs()
                .jobs(&id)
                .send()
                .await
                .expect("describe");
            let job = out.jobs().first().cloned().expect("described");
            let exited = job
                .attempts()
                .iter()
                .filter(|a| a.container().and_then(|c| c.exit_code()).is_some());
            let settled = exited.count() >= attempts;
            (job.status() == Some(&JobStatus::Failed) && settled).then_some(job)
        }
    };
    let exited = eventually("the exit-42 job to fail", || {
        described(exits.job_id().unwrap().to_owned(), 1)
    })
    .await;
    assert_eq!(exited.attempts().len(), 1, "no retry: {exited:?}");
    let codes = |job: &aws_sdk_batch::types::JobDetail| -> Vec<Option<i32>> {
        job.attempts()
            .iter()
            .map(|a| a.container().and_then(|c| c.exit_code()))
            .collect()
    };
    assert_eq!(codes(&exited), [Some(42)]);
    let reason = exited.status_reason().unwrap_or_default();
    assert!(reason.starts_with("PodFailurePolicy"), "{reason}");
    assert!(reason.contains("exit code 42"), "{reason}");

    let failed = eventually("the exit-1 job to fail", || {
        described(retried.job_id().unwrap().to_owned(), 3)
    })
    .await;
    assert_eq!(codes(&failed), [Some(1), Some(1), Some(1)], "{failed:?}");
    let reason = failed.status_reason().unwrap_or_default();
    assert!(reason.starts_with("BackoffLimitExceeded"), "{reason}");

    let job = json_of(&job_of(&env, exits.job_id().unwrap()).await);
    assert_eq!(job["spec"]["backoffLimit"], 2);
    assert_eq!(
        job["spec"]["podFailurePolicy"]["rules"],
        json!([
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}},
        ])
    );
}
