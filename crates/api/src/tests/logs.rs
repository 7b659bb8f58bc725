//! What a request logs: its request ID on every line, the cause of a 500, a handler's panic.

use super::*;

thread_local! {
    /// Where the log lines of this thread go, while a test captures them.
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// A writer for a process-wide subscriber that routes lines to the current thread's capture.
/// A global subscriber (not `set_default`) keeps callsite interest stable while other tests
/// run on other threads.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(out) = c.borrow().as_ref() {
                out.lock().expect("lock").extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `request` logs (the text format), with its answer.
async fn logged(request: impl Future<Output = Answer>) -> (Answer, String) {
    fn subscriber() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .finish()
    }
    static GLOBAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let global =
        *GLOBAL.get_or_init(|| tracing::subscriber::set_global_default(subscriber()).is_ok());
    // If another test installed a global subscriber first, fall back to a scoped one.
    let _scoped = (!global).then(|| {
        let guard = tracing::subscriber::set_default(subscriber());
        tracing::callsite::rebuild_interest_cache();
        guard
    });
    let out = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|c| *c.borrow_mut() = Some(out.clone()));
    // The current-thread runtime of #[tokio::test] polls the whole request on this thread.
    let answer = request.await;
    CAPTURE.with(|c| *c.borrow_mut() = None);
    let logs = String::from_utf8(out.lock().expect("lock").clone()).expect("utf-8");
    (answer, logs)
}

#[tokio::test]
async fn log_lines_of_a_request_carry_its_id() {
    let (a, logs) = logged(post_json(
        Arc::new(Fake::default()),
        "/v1/terminatejob",
        json!({"jobId": "j", "reason": "r"}),
    ))
    .await;
    let id = request_id(&a).to_string();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("inside the service")),
        "{logs}"
    );
    assert!(
        lines.iter().any(|l| l.contains("request completed")),
        "{logs}"
    );
    for line in lines {
        assert!(line.contains(&id), "{line}");
        assert!(line.contains("operation=\"TerminateJob\""), "{line}");
    }
}

#[tokio::test]
async fn a_server_error_logs_its_cause_and_does_not_send_it() {
    let fake = Fake::failing(|| {
        ServiceError::server(
            "could not record the termination of job j",
            std::io::Error::other("etcdserver: request timed out"),
        )
    });
    let (a, logs) = logged(post_json(
        fake,
        "/v1/terminatejob",
        json!({"jobId": "j", "reason": "r"}),
    ))
    .await;
    let message = a.error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException");
    assert_eq!(message, "could not record the termination of job j");
    let line = logs
        .lines()
        .find(|l| l.contains("request failed"))
        .unwrap_or_else(|| panic!("no failure logged: {logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("could not record the termination of job j"),
        "{line}"
    );
    assert!(line.contains("etcdserver: request timed out"), "{line}");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_is_logged_as_an_error() {
    let fake = Fake::failing(|| -> ServiceError { panic!("the fake service panics") });
    let (a, logs) = logged(post_json(fake, "/v1/describejobs", json!({"jobs": ["j"]}))).await;
    let message = a.error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException");
    assert_eq!(message, "internal error", "the panic's text is not sent");
    request_id(&a);
    let line = logs
        .lines()
        .find(|l| l.contains("a handler panicked"))
        .unwrap_or_else(|| panic!("no panic logged: {logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("the fake service panics"), "{line}");
    // The server goes on.
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/describejobs",
        json!({"jobs": ["j"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}
