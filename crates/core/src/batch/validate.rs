//! Validation of requests. Every AWS client but boto3/aws-cli sends whatever it is given, so
//! the server checks every field itself, and each error names the field (its wire name).

use super::TerminateKind;

/// AWS documents `reason` as at most 1024 characters.
pub const MAX_REASON_CHARS: usize = 1024;
/// DescribeJobs takes at most 100 job IDs.
pub const MAX_DESCRIBE_JOBS: usize = 100;
/// TerminateJobs and CancelJobs take at most 50 jobs.
pub const MAX_BULK_JOBS: usize = 50;

/// A request that breaks the API's rules. `Display` is the message sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{field} is required")]
    Required { field: &'static str },
    #[error("{field} must be {min} to {max} characters long, but it is {actual}")]
    Length {
        field: &'static str,
        min: usize,
        max: usize,
        actual: usize,
    },
    #[error("{field} may list at most {max} items, but it lists {actual}")]
    TooMany {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Kubernetes cannot fail one index of an Indexed Job from outside.
    #[error(
        "{job_id} is a child of the array job {parent}; Kubernetes cannot stop one index of an \
         Indexed Job from outside, so terminate or cancel the array job {parent} instead"
    )]
    ArrayChild { job_id: String, parent: String },
}

impl Error {
    /// The wire name of the offending field.
    pub fn field(&self) -> &'static str {
        match self {
            Error::Required { field }
            | Error::Length { field, .. }
            | Error::TooMany { field, .. }
            | Error::Invalid { field, .. } => field,
            Error::ArrayChild { .. } => "jobId",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A validated TerminateJob or CancelJob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminateCommand {
    kind: TerminateKind,
    job_id: String,
    reason: String,
}

impl TerminateCommand {
    /// Checks `jobId` (non-empty) and `reason` (1 to 1024 characters, not bytes).
    pub fn new(kind: TerminateKind, job_id: String, reason: String) -> Result<Self> {
        if job_id.is_empty() {
            return Err(Error::Required { field: "jobId" });
        }
        if reason.is_empty() {
            return Err(Error::Required { field: "reason" });
        }
        let chars = reason.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(Error::Length {
                field: "reason",
                min: 1,
                max: MAX_REASON_CHARS,
                actual: chars,
            });
        }
        Ok(TerminateCommand {
            kind,
            job_id,
            reason,
        })
    }

    pub fn kind(&self) -> TerminateKind {
        self.kind
    }

    /// The Batch job ID as sent (`<id>` or `<array-id>:<index>`).
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The error to answer when the ID names a child of an array job: Kubernetes cannot
    /// fail one index from outside. Call it once the parent is known to be an array job.
    pub fn array_child_error(&self) -> Option<Error> {
        split_array_child(&self.job_id).map(|(parent, _)| Error::ArrayChild {
            job_id: self.job_id.clone(),
            parent: parent.to_owned(),
        })
    }
}

/// A validated DescribeJobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeCommand {
    job_ids: Vec<String>,
}

impl DescribeCommand {
    /// At most 100 IDs, none empty. Duplicates are dropped (first occurrence kept), as each job
    /// is described once. An empty list is valid and describes nothing.
    pub fn new(job_ids: Vec<String>) -> Result<Self> {
        if job_ids.len() > MAX_DESCRIBE_JOBS {
            return Err(Error::TooMany {
                field: "jobs",
                max: MAX_DESCRIBE_JOBS,
                actual: job_ids.len(),
            });
        }
        if let Some(i) = job_ids.iter().position(String::is_empty) {
            return Err(Error::Invalid {
                field: "jobs",
                message: format!("job ID at position {i} is empty"),
            });
        }
        let mut seen = std::collections::HashSet::new();
        let job_ids = job_ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        Ok(DescribeCommand { job_ids })
    }

    pub fn job_ids(&self) -> &[String] {
        &self.job_ids
    }

    pub fn into_job_ids(self) -> Vec<String> {
        self.job_ids
    }
}

/// One entry of a TerminateJobs or CancelJobs request: the job ID as sent (echoed in the
/// answer), and its validated command or why it is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkEntry {
    pub job_id: String,
    pub command: Result<TerminateCommand>,
}

/// Validates a bulk request. The request as a whole fails when it lists no job, more than
/// [`MAX_BULK_JOBS`], or the same job ID twice (as SQS's batch operations refuse
/// non-distinct entries); each entry is then validated on its own, so one bad entry does not
/// fail the others. `entries` are `(jobId, reason)` pairs, `""` for missing fields.
pub fn bulk_commands(
    kind: TerminateKind,
    entries: Vec<(String, String)>,
) -> Result<Vec<BulkEntry>> {
    if entries.is_empty() {
        return Err(Error::Required { field: "jobs" });
    }
    if entries.len() > MAX_BULK_JOBS {
        return Err(Error::TooMany {
            field: "jobs",
            max: MAX_BULK_JOBS,
            actual: entries.len(),
        });
    }
    let mut seen = std::collections::HashMap::new();
    for (i, (job_id, _)) in entries.iter().enumerate() {
        if job_id.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(job_id.as_str(), i) {
            return Err(Error::Invalid {
                field: "jobs",
                message: format!("job ID {job_id} is listed twice (positions {first} and {i})"),
            });
        }
    }
    Ok(entries
        .into_iter()
        .map(|(job_id, reason)| BulkEntry {
            command: TerminateCommand::new(kind, job_id.clone(), reason),
            job_id,
        })
        .collect())
}

/// Splits an array child ID `<parent>:<index>`. Job IDs are label values or uids, and
/// neither may contain `:`, so the split is unambiguous.
pub fn split_array_child(job_id: &str) -> Option<(&str, u32)> {
    let (parent, index) = job_id.rsplit_once(':')?;
    if parent.is_empty() || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, index.parse().ok()?))
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character boundary.
/// An Event note is limited to 1024 bytes, but a reason may be 1024 characters.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
