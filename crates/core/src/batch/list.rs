//! ListJobs: validation of the query, filtering, ordering (newest first) and paging.
//!
//! Paging is keyset paging over the order (createdAt descending, array index ascending, jobId
//! ascending): the opaque `nextToken` encodes the last job returned, so pages stay correct
//! while jobs come and go between calls, and the last page carries no token.

use std::cmp::Ordering;

use super::BatchState;
use super::detail::JobSummary;
use super::queue::queue_name;
use super::validate::{Error, Result};

/// ListJobs as received, before validation (the wire type's fields, unchecked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    pub job_queue: Option<String>,
    pub array_job_id: Option<String>,
    pub multi_node_job_id: Option<String>,
    pub job_status: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub filters: Vec<ListFilter>,
}

/// One `filters[]` entry, unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub name: String,
    pub values: Vec<String>,
}

/// Which jobs are listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListScope {
    /// The jobs of a queue, by name (an ARN is reduced to its name).
    JobQueue(String),
    /// The children of an array job.
    ArrayJob(String),
}

/// How the jobs in scope are narrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListSelection {
    Status(BatchState),
    /// `JOB_NAME`: case-insensitive; a trailing `*` makes it a prefix match. Stored lowercase.
    JobName {
        pattern: String,
        prefix: bool,
    },
    /// `BEFORE_CREATED_AT`: createdAt strictly before this epoch-ms instant.
    CreatedBefore(i64),
    /// `AFTER_CREATED_AT`: createdAt strictly after this epoch-ms instant.
    CreatedAfter(i64),
}

/// A validated ListJobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub scope: ListScope,
    pub selection: ListSelection,
    /// 1 to 100; 100 when not given.
    pub max_results: usize,
    after: Option<Cursor>,
}

/// The sort key of the last job of the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cursor {
    created_at: i64,
    index: i64,
    job_id: String,
}

/// One page of ListJobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    pub jobs: Vec<JobSummary>,
    /// Absent on the last page.
    pub next_token: Option<String>,
}

const MAX_RESULTS: i64 = 100;

impl ListQuery {
    /// Checks the rules of ListJobs:
    /// - exactly one of `jobQueue` and `arrayJobId` (`multiNodeJobId` is refused: Kubernetes
    ///   Jobs have no multi-node parallel form);
    /// - `jobStatus`, RUNNING when absent;
    /// - at most one filter, which then replaces `jobStatus` (as in AWS). Filters do not apply
    ///   to the children of an array job, where `jobStatus` is used;
    /// - `maxResults` 1 to 100; `nextToken` as returned by a previous page.
    pub fn new(params: ListParams) -> Result<Self> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        if nonempty(params.multi_node_job_id).is_some() {
            return Err(Error::Invalid {
                field: "multiNodeJobId",
                message: "multi-node parallel jobs do not exist on Kubernetes; use jobQueue or \
                          arrayJobId"
                    .to_owned(),
            });
        }
        let scope = match (nonempty(params.job_queue), nonempty(params.array_job_id)) {
            (Some(queue), None) => ListScope::JobQueue(queue_name(&queue).to_owned()),
            (None, Some(parent)) => ListScope::ArrayJob(parent),
            (Some(_), Some(_)) => {
                return Err(Error::Invalid {
                    field: "jobQueue",
                    message: "give only one of jobQueue and arrayJobId".to_owned(),
                });
            }
            (None, None) => {
                return Err(Error::Invalid {
                    field: "jobQueue",
                    message: "one of jobQueue and arrayJobId is required".to_owned(),
                });
            }
        };
        let status = match nonempty(params.job_status) {
            Some(s) => s.parse()?,
            None => BatchState::Running,
        };
        let selection = match (&scope, params.filters.as_slice()) {
            (ListScope::ArrayJob(_), _) | (ListScope::JobQueue(_), []) => {
                ListSelection::Status(status)
            }
            (ListScope::JobQueue(_), [filter]) => parse_filter(filter)?,
            (ListScope::JobQueue(_), [_, _, ..]) => {
                return Err(Error::TooMany {
                    field: "filters",
                    max: 1,
                    actual: params.filters.len(),
                });
            }
        };
        let max_results = match params.max_results {
            None => MAX_RESULTS,
            Some(n @ 1..=MAX_RESULTS) => n,
            Some(n) => {
                return Err(Error::Invalid {
                    field: "maxResults",
                    message: format!("must be 1 to {MAX_RESULTS}, but it is {n}"),
                });
            }
        };
        let after = match nonempty(params.next_token) {
            Some(token) => Some(Cursor::decode(&token).ok_or_else(|| Error::Invalid {
                field: "nextToken",
                message: "is not a token returned by ListJobs".to_owned(),
            })?),
            None => None,
        };
        Ok(ListQuery {
            scope,
            selection,
            max_results: usize::try_from(max_results).unwrap_or(100),
            after,
        })
    }

    /// Whether a job in scope passes the selection.
    pub fn matches(&self, job: &JobSummary) -> bool {
        match &self.selection {
            ListSelection::Status(status) => job.status == *status,
            ListSelection::JobName { pattern, prefix } => {
                let name = job.job_name.to_lowercase();
                if *prefix {
                    name.starts_with(pattern.as_str())
                } else {
                    name == *pattern
                }
            }
            ListSelection::CreatedBefore(t) => job.created_at < *t,
            ListSelection::CreatedAfter(t) => job.created_at > *t,
        }
    }
}

fn parse_filter(filter: &ListFilter) -> Result<ListSelection> {
    let value = match filter.values.as_slice() {
        [value] if !value.is_empty() => value.as_str(),
        _ => {
            return Err(Error::Invalid {
                field: "filters",
                message: format!("filter {} takes exactly one non-empty value", filter.name),
            });
        }
    };
    let epoch_ms = |value: &str| {
        value.parse::<i64>().map_err(|_| Error::Invalid {
            field: "filters",
            message: format!(
                "filter {} takes a time in milliseconds since the epoch, not {value:?}",
                filter.name
            ),
        })
    };
    match filter.name.as_str() {
        "JOB_NAME" => {
            let lower = value.to_lowercase();
            Ok(match lower.strip_suffix('*') {
                Some(prefix) => ListSelection::JobName {
                    pattern: prefix.to_owned(),
                    prefix: true,
                },
                None => ListSelection::JobName {
                    pattern: lower,
                    prefix: false,
                },
            })
        }
        "BEFORE_CREATED_AT" => Ok(ListSelection::CreatedBefore(epoch_ms(value)?)),
        "AFTER_CREATED_AT" => Ok(ListSelection::CreatedAfter(epoch_ms(value)?)),
        "JOB_DEFINITION" | "SHARE_IDENTIFIER" => Err(Error::Invalid {
            field: "filters",
            message: format!(
                "filter {} is not supported: Kubernetes Jobs have none",
                filter.name
            ),
        }),
        other => Err(Error::Invalid {
            field: "filters",
            message: format!(
                "unknown filter {other:?}; expected JOB_NAME, BEFORE_CREATED_AT or \
                 AFTER_CREATED_AT"
            ),
        }),
    }
}

impl Cursor {
    /// Newest first; children by index; then by ID so the order is total.
    fn cmp_key(&self, other: &Cursor) -> Ordering {
        other
            .created_at
            .cmp(&self.created_at)
            .then(self.index.cmp(&other.index))
            .then_with(|| self.job_id.cmp(&other.job_id))
    }

    fn encode(&self) -> String {
        let raw = format!("v1\n{}\n{}\n{}", self.created_at, self.index, self.job_id);
        hex::encode(raw)
    }

    fn decode(token: &str) -> Option<Cursor> {
        let bytes = hex::decode(token).ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let mut parts = raw.splitn(4, '\n');
        if parts.next()? != "v1" {
            return None;
        }
        Some(Cursor {
            created_at: parts.next()?.parse().ok()?,
            index: parts.next()?.parse().ok()?,
            job_id: parts.next()?.to_owned(),
        })
    }
}

impl From<ListKey> for Cursor {
    fn from(key: ListKey) -> Cursor {
        Cursor {
            created_at: key.created_at,
            index: key.index.map_or(-1, i64::from),
            job_id: key.job_id,
        }
    }
}

/// Filters the jobs in scope by the query's selection, orders them newest first, and cuts
/// the page after the token's position. The caller supplies every job in the query's
/// [`ListScope`] (e.g. the summaries of the queue's jobs, or of the array's children).
pub fn paginate(jobs: impl IntoIterator<Item = JobSummary>, query: &ListQuery) -> ListPage {
    paginate_by(jobs, ListKey::of, Some, query)
}

/// Where a job falls in ListJobs' order: what its summary's `createdAt`, array index and
/// `jobId` will be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListKey {
    /// Epoch milliseconds.
    pub created_at: i64,
    /// The array index of a child; `None` for any other job.
    pub index: Option<i32>,
    pub job_id: String,
}

impl ListKey {
    fn of(job: &JobSummary) -> ListKey {
        ListKey {
            created_at: job.created_at,
            index: job.array_properties.as_ref().and_then(|a| a.index),
            job_id: job.job_id.clone(),
        }
    }
}

/// [`paginate`] for a caller whose summaries are costly to build: the jobs are ordered by
/// `key` (which must be what their summaries will say), and summaries are built only in that
/// order until the page is full, so a page of 100 out of a 1,000-job queue builds about 100.
/// `summary` may return `None` for a job that is not listed after all.
pub fn paginate_by<T>(
    jobs: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> ListKey,
    mut summary: impl FnMut(T) -> Option<JobSummary>,
    query: &ListQuery,
) -> ListPage {
    let mut keyed: Vec<(Cursor, T)> = jobs
        .into_iter()
        .map(|job| (Cursor::from(key(&job)), job))
        .filter(|(cursor, _)| {
            query
                .after
                .as_ref()
                .is_none_or(|after| cursor.cmp_key(after) == Ordering::Greater)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| a.cmp_key(b));
    let mut page = Vec::new();
    let mut last = None;
    let mut more = false;
    for (cursor, job) in keyed {
        let Some(job) = summary(job).filter(|job| query.matches(job)) else {
            continue;
        };
        debug_assert_eq!(
            cursor,
            Cursor::from(ListKey::of(&job)),
            "a key out of order"
        );
        if page.len() == query.max_results {
            more = true;
            break;
        }
        page.push(job);
        last = Some(cursor);
    }
    ListPage {
        jobs: page,
        next_token: last.filter(|_| more).map(|cursor| cursor.encode()),
    }
}
