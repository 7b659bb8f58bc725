use super::*;

fn req(method: &str, path: &str, query: Option<&str>) -> RequestAttributes {
    RequestAttributes::from_http(method, path, query)
}

fn patch_job() -> RequestAttributes {
    req("PATCH", "/apis/batch/v1/namespaces/ns/jobs/x", None)
}

fn get_pod() -> RequestAttributes {
    req("GET", "/api/v1/namespaces/ns/pods/p", None)
}

fn outcomes(engine: &FaultEngine, a: &RequestAttributes, n: usize) -> Vec<bool> {
    let now = Instant::now();
    (0..n)
        .map(|_| matches!(engine.decide(a, now).outcome, Outcome::Fail(_)))
        .collect()
}

#[test]
fn no_rules_means_no_faults() {
    let e = FaultEngine::new(1);
    let d = e.decide(&patch_job(), Instant::now());
    assert_eq!(
        d,
        Decision {
            delay: Duration::ZERO,
            outcome: Outcome::Proceed
        }
    );
}

#[test]
fn fraction_is_deterministic_under_a_seed() {
    let rule = Rule::new(Effect::Error {
        code: 500,
        retry_after_seconds: None,
    })
    .fraction(0.3);
    let run = |seed| {
        let e = FaultEngine::new(seed);
        e.add(rule.clone()).unwrap();
        outcomes(&e, &patch_job(), 1000)
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    let hits = a.iter().filter(|x| **x).count();
    assert!((240..=360).contains(&hits), "{hits} hits of 1000 at 0.3");
}

#[test]
fn errors_render_as_kube_statuses() {
    let e = FaultEngine::new(0);
    e.add(
        Rule::new(Effect::Error {
            code: 429,
            retry_after_seconds: Some(3),
        })
        .verbs(&["get"]),
    )
    .unwrap();
    let Outcome::Fail(err) = e.decide(&get_pod(), Instant::now()).outcome else {
        panic!()
    };
    assert_eq!(err.code, 429);
    assert_eq!(err.retry_after_seconds, Some(3));
    assert_eq!(err.status["reason"], "TooManyRequests");
    assert_eq!(err.status["details"]["retryAfterSeconds"], 3);
    // The verb filter spares other verbs.
    assert_eq!(
        e.decide(&patch_job(), Instant::now()).outcome,
        Outcome::Proceed
    );

    let e = FaultEngine::new(0);
    e.add(
        Rule::new(Effect::Error {
            code: 500,
            retry_after_seconds: None,
        })
        .resources(&["jobs"]),
    )
    .unwrap();
    let Outcome::Fail(err) = e.decide(&patch_job(), Instant::now()).outcome else {
        panic!()
    };
    assert_eq!(
        (err.code, err.status["reason"].as_str()),
        (500, Some("InternalError"))
    );
    assert_eq!(
        e.decide(&get_pod(), Instant::now()).outcome,
        Outcome::Proceed
    );
    // Subresources are their own resource.
    let status = req("PATCH", "/apis/batch/v1/namespaces/ns/jobs/x/status", None);
    assert_eq!(e.decide(&status, Instant::now()).outcome, Outcome::Proceed);
}

#[test]
fn conflicts_hit_writes_only() {
    let e = FaultEngine::new(0);
    e.add(Rule::new(Effect::Error {
        code: 409,
        retry_after_seconds: None,
    }))
    .unwrap();
    assert_eq!(
        e.decide(&get_pod(), Instant::now()).outcome,
        Outcome::Proceed
    );
    let Outcome::Fail(err) = e.decide(&patch_job(), Instant::now()).outcome else {
        panic!()
    };
    assert_eq!(err.code, 409);
    assert_eq!(
        err.status["message"],
        "Operation cannot be fulfilled on jobs.batch \"x\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[test]
fn latency_limit_and_discovery_exemption() {
    let e = FaultEngine::new(0);
    e.add(Rule::new(Effect::Latency { millis: 250 }).limit(2))
        .unwrap();
    let now = Instant::now();
    assert_eq!(e.decide(&get_pod(), now).delay, Duration::from_millis(250));
    assert_eq!(e.decide(&get_pod(), now).delay, Duration::from_millis(250));
    assert_eq!(
        e.decide(&get_pod(), now).delay,
        Duration::ZERO,
        "limit reached"
    );
    e.add(Rule::new(Effect::Latency { millis: 250 })).unwrap();
    assert_eq!(
        e.decide(&req("GET", "/api", None), now).delay,
        Duration::ZERO
    );
}

#[test]
fn watch_faults() {
    let e = FaultEngine::new(0);
    let watch_jobs = req(
        "GET",
        "/apis/batch/v1/namespaces/ns/jobs",
        Some("watch=true"),
    );
    let watch_pods = req("GET", "/api/v1/pods", Some("watch=1"));
    e.gone_next_watches(1, Some("jobs".into()));
    assert_eq!(
        e.decide(&watch_pods, Instant::now()).outcome,
        Outcome::Proceed
    );
    assert_eq!(
        e.decide(
            &req("GET", "/apis/batch/v1/namespaces/ns/jobs", None),
            Instant::now()
        )
        .outcome,
        Outcome::Proceed
    );
    assert_eq!(
        e.decide(&watch_jobs, Instant::now()).outcome,
        Outcome::WatchGone
    );
    assert_eq!(
        e.decide(&watch_jobs, Instant::now()).outcome,
        Outcome::Proceed,
        "only the next one"
    );
    e.add(Rule::new(Effect::DropWatch { after_millis: 50 }))
        .unwrap();
    assert_eq!(
        e.decide(&get_pod(), Instant::now()).outcome,
        Outcome::Proceed
    );
    assert_eq!(
        e.decide(&watch_pods, Instant::now()).outcome,
        Outcome::DropWatchAfter(Duration::from_millis(50))
    );
    let mut rx = e.watch_drops();
    e.drop_watches();
    assert!(rx.has_changed().unwrap());
    rx.mark_unchanged();
    assert_eq!(gone_watch_event()["object"]["code"], 410);
}

#[test]
fn pause_delays_until_its_end() {
    let e = FaultEngine::new(0);
    let now = Instant::now();
    e.pause(Duration::from_millis(500), now);
    assert_eq!(
        e.decide(&get_pod(), now + Duration::from_millis(100)).delay,
        Duration::from_millis(400)
    );
    assert_eq!(
        e.decide(&req("GET", "/version", None), now).delay,
        Duration::from_millis(500)
    );
    assert_eq!(
        e.decide(&get_pod(), now + Duration::from_secs(1)).delay,
        Duration::ZERO
    );
    e.pause(Duration::from_millis(500), now);
    e.clear();
    assert_eq!(e.decide(&get_pod(), now).delay, Duration::ZERO);
}

#[test]
fn admin_json_round_trip_and_validation() {
    let body = br#"{"seed": 42, "rules": [
        {"fraction": 0.5, "verbs": ["patch"], "resources": ["jobs"], "effect": {"type": "error", "code": 500}},
        {"effect": {"type": "error", "code": 429, "retryAfterSeconds": 2}},
        {"effect": {"type": "latency", "millis": 100}},
        {"verbs": ["watch"], "effect": {"type": "dropWatch", "afterMillis": 10}}
    ]}"#;
    let c = FaultConfig::from_json(body).unwrap();
    assert_eq!(c.rules.len(), 4);
    assert_eq!(c.rules[1].fraction, 1.0);
    let e = FaultEngine::new(0);
    e.set(c.clone()).unwrap();
    assert_eq!(e.config(), c);
    assert_eq!(
        serde_json::from_value::<FaultConfig>(serde_json::to_value(&c).unwrap()).unwrap(),
        c
    );
    assert!(
        FaultConfig::from_json(br#"{"rules": [{"effect": {"type": "error", "code": 404}}]}"#)
            .is_err()
    );
    assert!(
        FaultConfig::from_json(
            br#"{"rules": [{"fraction": 2, "effect": {"type": "latency", "millis": 1}}]}"#
        )
        .is_err()
    );
    assert!(
        FaultConfig::from_json(
            br#"{"rules": [{"bogus": 1, "effect": {"type": "latency", "millis": 1}}]}"#
        )
        .is_err()
    );
}
