//! Logging: an `EnvFilter` and text or JSON lines.
//!
//! Lines are written by a thread of their own (tracing-appender's non-blocking writer), in
//! batches: a request formats its line into memory and goes on, instead of making a `write`
//! system call to stdout per line. The queue holds [`QUEUED_LINES`]; when it is full the
//! request path waits rather than drop a line, so no log line is ever lost.
//!
//! The JSON format flattens the fields of every enclosing span into each line, so all lines of a
//! request carry its `request_id` without a log query having to look inside nested objects.

use std::fmt::{self, Write as _};
use std::io::{BufWriter, IsTerminal};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid log filter {filter:?}")]
    Filter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("installing the global tracing subscriber")]
    Init(#[source] TryInitError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many lines may wait for the writer thread before logging waits for it.
pub const QUEUED_LINES: usize = 128_000;

/// Keeps the writer thread: dropping it writes out the queued lines. Hold it until exit.
#[must_use = "dropping the guard stops the log writer"]
#[derive(Debug)]
pub struct Guard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

/// Installs the global subscriber, writing to stdout from a writer thread. `filter` uses
/// `RUST_LOG` syntax.
pub fn init(format: LogFormat, filter: &str) -> Result<Guard> {
    let filter = parse_filter(filter)?;
    let ansi = std::io::stdout().is_terminal();
    // The writer thread flushes the buffer whenever its queue is empty, so lines still come
    // out as they happen, several to a system call under load.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUED_LINES)
        .lossy(false)
        .thread_name("log-writer")
        .finish(BufWriter::new(std::io::stdout()));
    tracing_subscriber::registry()
        .with(filter)
        .with(layer(format, writer, ansi))
        .try_init()
        .map_err(Error::Init)?;
    Ok(Guard { _writer: guard })
}

fn parse_filter(filter: &str) -> Result<EnvFilter> {
    EnvFilter::try_new(filter).map_err(|source| Error::Filter {
        filter: filter.to_owned(),
        source,
    })
}

type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync + 'static>;

fn layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(escaped_text_fields())
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
        // JsonFields stores each span's fields as a JSON object, which FlatJson merges.
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(writer)
            .boxed(),
    }
}

/// Text fields as the default format writes them (`name=value`, the message bare, strings
/// quoted), with every control character escaped: a newline in a job ID, a reason or an
/// error message cannot start a forged log line. (The JSON format is escaped by serde_json.)
fn escaped_text_fields()
-> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        if field.name() != "message" {
            write!(writer, "{}=", field.name())?;
        }
        // Formatted straight into the line, escaping on the way: no allocation per field.
        write!(Escaping(writer), "{value:?}")
    })
    .delimited(" ")
}

/// Writes through to the line with every control character escaped.
struct Escaping<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(self.0, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// One JSON object per event: `timestamp`, `level`, `target`, `span` (the innermost span's
/// name), the fields of every enclosing span from the root inwards, then the event's own fields
/// (`message` included). Inner fields win over outer ones of the same name.
struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str(&fields.fields)
                {
                    line.extend(fields);
                }
                line.insert("span".into(), span.name().into());
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        let metadata = event.metadata();
        line.insert(
            "timestamp".into(),
            jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
                .into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| value.to_string().into());
        self.0.insert(field.name().into(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    // The whole chain, so one line says why, not just the outermost context.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(error) = source {
            text.push_str(": ");
            text.push_str(&error.to_string());
            source = error.source();
        }
        self.0.insert(field.name().into(), text.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] io::Error);

    fn log_a_request(format: LogFormat) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(parse_filter("info").unwrap())
            .with(layer(format, capture.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = "req-1");
            let _entered = request.enter();
            let handler = tracing::info_span!("terminate_job", job_id = tracing::field::Empty);
            handler.in_scope(|| {
                tracing::Span::current().record("job_id", "job-7");
                tracing::info!(attempt = 2, "terminating");
                tracing::debug!("filtered out");
                let error = Outer(io::Error::other("inner"));
                tracing::warn!(error = &error as &dyn std::error::Error, "failed");
            });
            tracing::info!("done");
        });
        capture.text()
    }

    #[test]
    fn json_lines_carry_every_enclosing_span_field() {
        let text = log_a_request(LogFormat::Json);
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");

        let first = &lines[0];
        assert_eq!(first["message"], "terminating");
        assert_eq!(first["request_id"], "req-1");
        assert_eq!(first["job_id"], "job-7", "fields recorded later are kept");
        assert_eq!(first["attempt"], 2);
        assert_eq!(first["span"], "terminate_job");
        assert_eq!(first["level"], "INFO");
        // RFC 3339 in UTC with microseconds, as before the move to jiff.
        let timestamp = first["timestamp"].as_str().expect("a timestamp");
        assert_eq!(
            timestamp.len(),
            "2026-01-01T00:00:00.000000Z".len(),
            "{timestamp}"
        );
        assert!(timestamp.ends_with('Z'), "{timestamp}");
        timestamp.parse::<jiff::Timestamp>().expect("RFC 3339");
        assert!(first["target"].is_string());

        assert_eq!(lines[1]["error"], "outer: inner");
        assert_eq!(lines[1]["level"], "WARN");

        assert_eq!(lines[2]["message"], "done");
        assert_eq!(lines[2]["request_id"], "req-1");
        assert_eq!(lines[2]["span"], "request");
        assert!(lines[2].get("job_id").is_none());
    }

    #[test]
    fn text_lines_carry_the_request_id() {
        let text = log_a_request(LogFormat::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for line in lines {
            assert!(line.contains("request_id=\"req-1\""), "{line}");
        }
    }

    /// Newlines (and other control characters) from a request cannot forge a log line.
    fn log_hostile_values(format: LogFormat) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(parse_filter("info").unwrap())
            .with(layer(format, capture.clone(), false));
        let forged = "j1\nINFO batch_terminator: forged=\"yes\"\r\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", job_id = forged);
            let _entered = span.enter();
            tracing::info!(reason = forged, "terminate requested");
            tracing::info!(error = %format!("job {forged} not found"), "request rejected");
            tracing::info!("message with {forged}");
        });
        capture.text()
    }

    #[test]
    fn control_characters_are_escaped_in_both_formats() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let text = log_hostile_values(format);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{format:?}: {text}");
            assert!(
                !text.contains('\r') && !text.contains('\u{1b}'),
                "{format:?}: {text}"
            );
            for line in lines {
                assert!(line.contains("j1\\nINFO"), "{format:?}: {line}");
                if format == LogFormat::Json {
                    let parsed: Value = serde_json::from_str(line).expect("one JSON object");
                    assert!(parsed["job_id"].as_str().unwrap().contains('\n'));
                }
            }
        }
    }

    #[test]
    fn invalid_filters_are_reported() {
        let error = init(LogFormat::Text, "batch_terminator=loud").unwrap_err();
        assert!(matches!(error, Error::Filter { .. }), "{error:?}");
    }
}
