//! Job queues: the operator's `queues:` list (a name mapped to a namespace and optionally a
//! Kueue LocalQueue), its validation, resolution of a name or ARN, and DescribeJobQueues.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::validate::{Error, Result};

/// One configured queue, as the chart's `queues:` entries are written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// The Batch queue name: 1 to 128 letters, digits, `-` and `_`.
    pub name: String,
    /// Where its jobs run.
    pub namespace: String,
    /// A Kueue LocalQueue in that namespace: submitted Jobs get `kueue.x-k8s.io/queue-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kueue_local_queue: Option<String>,
    /// Shown by DescribeJobQueues (AWS: higher runs first); 1 when not given.
    #[serde(default = "default_priority")]
    pub priority: i32,
    #[serde(default)]
    pub state: QueueState,
}

fn default_priority() -> i32 {
    1
}

/// AWS `JQState`. A DISABLED queue refuses SubmitJob, as AWS does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueueState {
    #[default]
    Enabled,
    Disabled,
}

/// Why the configured queues are refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueConfigError {
    #[error("queue {name:?}: the name must be 1 to 128 letters, digits, '-' or '_'")]
    Name { name: String },
    #[error("queue {name:?}: namespace {namespace:?} is not a Kubernetes namespace name")]
    Namespace { name: String, namespace: String },
    #[error("queue {name:?}: kueueLocalQueue {local_queue:?} is not a valid label value")]
    LocalQueue { name: String, local_queue: String },
    #[error("queue {name:?} is configured twice")]
    Duplicate { name: String },
    #[error(
        "queues {name:?} and {other:?} share the Kueue LocalQueue {local_queue:?} of one namespace"
    )]
    SharedLocalQueue {
        name: String,
        other: String,
        local_queue: String,
    },
}

/// The configured queues, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queues {
    by_name: BTreeMap<String, QueueConfig>,
}

/// `arn:aws:batch:<region>:<account>:job-queue/<name>`.
pub fn job_queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:batch:{region}:{account}:job-queue/{name}")
}

/// AWS names of queues, job definitions and jobs: letters, digits, `-` and `_`.
pub(super) fn is_aws_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A DNS-1123 label (a namespace name).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes label value: at most 63 of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
pub fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

impl Queues {
    /// Checks every entry: AWS queue names, namespace names, label-safe LocalQueue names, no
    /// name twice.
    pub fn new(configs: Vec<QueueConfig>) -> Result<Queues, QueueConfigError> {
        let mut by_name = BTreeMap::new();
        for config in configs {
            let name = config.name.clone();
            if !is_aws_name(&name, 128) {
                return Err(QueueConfigError::Name { name });
            }
            if !is_dns_label(&config.namespace) {
                return Err(QueueConfigError::Namespace {
                    name,
                    namespace: config.namespace,
                });
            }
            if let Some(local_queue) = &config.kueue_local_queue
                && (local_queue.is_empty() || !is_label_value(local_queue))
            {
                return Err(QueueConfigError::LocalQueue {
                    name,
                    local_queue: local_queue.clone(),
                });
            }
            if let Some(local_queue) = &config.kueue_local_queue
                && let Some(other) = by_name.values().find(|q: &&QueueConfig| {
                    q.namespace == config.namespace
                        && q.kueue_local_queue.as_ref() == Some(local_queue)
                })
            {
                return Err(QueueConfigError::SharedLocalQueue {
                    name,
                    other: other.name.clone(),
                    local_queue: local_queue.clone(),
                });
            }
            if by_name.insert(name.clone(), config).is_some() {
                return Err(QueueConfigError::Duplicate { name });
            }
        }
        Ok(Queues { by_name })
    }

    /// The configured queue whose Kueue LocalQueue this is in `namespace`: a Job's Kueue label
    /// names the LocalQueue, and the Batch queue is the one mapped to it.
    pub fn by_local_queue(&self, namespace: &str, local_queue: &str) -> Option<&QueueConfig> {
        self.by_name.values().find(|q| {
            q.namespace == namespace && q.kueue_local_queue.as_deref() == Some(local_queue)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// A configured queue by name or job-queue ARN.
    pub fn get(&self, name_or_arn: &str) -> Option<&QueueConfig> {
        self.by_name.get(queue_name(name_or_arn))
    }

    /// Where SubmitJob puts a job sent to `name_or_arn`: the configured queue, else (the
    /// behaviour without `queues:`) the namespace of that name, with no Kueue label.
    pub fn resolve(&self, name_or_arn: &str) -> Result<QueueConfig> {
        if let Some(config) = self.get(name_or_arn) {
            return Ok(config.clone());
        }
        let name = queue_name(name_or_arn);
        if !is_dns_label(name) {
            return Err(Error::Invalid {
                field: "jobQueue",
                message: format!(
                    "job queue {name_or_arn} not found: it is neither a configured queue nor a \
                     namespace name"
                ),
            });
        }
        Ok(QueueConfig {
            name: name.to_owned(),
            namespace: name.to_owned(),
            kueue_local_queue: None,
            priority: default_priority(),
            state: QueueState::Enabled,
        })
    }

    /// DescribeJobQueues: the named queues (names or ARNs; unknown ones left out, as AWS
    /// does), or all of them by name, one page of at most `max_results` after `next_token`.
    /// Queues whose namespace `visible` refuses are left out too.
    pub fn describe(
        &self,
        names: &[String],
        max_results: Option<i64>,
        next_token: Option<&str>,
        visible: impl Fn(&str) -> bool,
    ) -> Result<(Vec<&QueueConfig>, Option<String>)> {
        let max = match max_results {
            None => 100,
            Some(n @ 1..=100) => n as usize,
            Some(n) => {
                return Err(Error::Invalid {
                    field: "maxResults",
                    message: format!("must be 1 to 100, but it is {n}"),
                });
            }
        };
        let mut selected: Vec<&QueueConfig> = if names.is_empty() {
            self.by_name.values().collect()
        } else {
            let mut found: Vec<&QueueConfig> = names.iter().filter_map(|n| self.get(n)).collect();
            found.sort_by(|a, b| a.name.cmp(&b.name));
            found.dedup_by(|a, b| a.name == b.name);
            found
        };
        selected.retain(|q| visible(&q.namespace));
        if let Some(token) = next_token.filter(|t| !t.is_empty()) {
            let after = decode_token(token)?;
            selected.retain(|q| q.name.as_str() > after.as_str());
        }
        let next = (selected.len() > max).then(|| encode_token(&selected[max - 1].name));
        selected.truncate(max);
        Ok((selected, next))
    }
}

/// AWS `JobQueueDetail`, as DescribeJobQueues answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobQueueDetail {
    pub job_queue_name: String,
    pub job_queue_arn: String,
    pub state: QueueState,
    /// Always `VALID`: a configured queue exists as long as the service runs with it.
    pub status: String,
    pub priority: i32,
    /// One compute environment per queue: its namespace
    /// (`arn:aws:batch:<region>:<account>:compute-environment/<namespace>`).
    pub compute_environment_order: Vec<ComputeEnvironmentOrder>,
}

/// AWS `ComputeEnvironmentOrder`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeEnvironmentOrder {
    pub order: i32,
    pub compute_environment: String,
}

impl QueueConfig {
    pub fn detail(&self, region: &str, account: &str) -> JobQueueDetail {
        JobQueueDetail {
            job_queue_name: self.name.clone(),
            job_queue_arn: job_queue_arn(region, account, &self.name),
            state: self.state,
            status: "VALID".to_owned(),
            priority: self.priority,
            compute_environment_order: vec![ComputeEnvironmentOrder {
                order: 1,
                compute_environment: format!(
                    "arn:aws:batch:{region}:{account}:compute-environment/{}",
                    self.namespace
                ),
            }],
        }
    }
}

/// `arn:aws:batch:<region>:<account>:job-queue/<name>` → `<name>`; a name stays as it is.
pub fn queue_name(queue: &str) -> &str {
    match queue.strip_prefix("arn:") {
        Some(rest) => rest
            .split_once(":job-queue/")
            .map_or(queue, |(_, name)| name),
        None => queue,
    }
}

/// Page tokens of names: the last name returned, hex-encoded (opaque to clients).
pub(super) fn encode_token(last: &str) -> String {
    hex::encode(last)
}

pub(super) fn decode_token(token: &str) -> Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::Invalid {
            field: "nextToken",
            message: "not a token this service returned".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str, namespace: &str) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            namespace: namespace.into(),
            kueue_local_queue: None,
            priority: 1,
            state: QueueState::Enabled,
        }
    }

    #[test]
    fn the_chart_form_parses_with_defaults() {
        let configs: Vec<QueueConfig> = serde_json::from_str(
            r#"[{"name":"high","namespace":"team-a","kueueLocalQueue":"lq","priority":10,"state":"DISABLED"},
                {"name":"low","namespace":"team-a"}]"#,
        )
        .unwrap();
        assert_eq!(configs[0].kueue_local_queue.as_deref(), Some("lq"));
        assert_eq!(configs[0].state, QueueState::Disabled);
        assert_eq!(
            (configs[1].priority, configs[1].state),
            (1, QueueState::Enabled)
        );
        assert!(
            serde_json::from_str::<Vec<QueueConfig>>(r#"[{"name":"a","namespace":"b","x":1}]"#)
                .is_err()
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad = [
            vec![queue("", "ns")],
            vec![queue("a b", "ns")],
            vec![queue(&"q".repeat(129), "ns")],
            vec![queue("q", "Team")],
            vec![queue("q", "-ns")],
            vec![queue("q", "ns"), queue("q", "other")],
            vec![QueueConfig {
                kueue_local_queue: Some("bad/name".into()),
                ..queue("q", "ns")
            }],
            vec![
                QueueConfig {
                    kueue_local_queue: Some("lq".into()),
                    ..queue("a", "ns")
                },
                QueueConfig {
                    kueue_local_queue: Some("lq".into()),
                    ..queue("b", "ns")
                },
            ],
        ];
        for configs in bad {
            assert!(Queues::new(configs.clone()).is_err(), "{configs:?}");
        }
        assert!(Queues::new(vec![queue("Q_1-x", "ns")]).is_ok());
    }

    #[test]
    fn names_and_arns_resolve_and_unknown_names_are_namespaces() {
        let queues = Queues::new(vec![queue("high", "team-a")]).unwrap();
        let arn = job_queue_arn("us-east-1", "123456789012", "high");
        assert_eq!(arn, "arn:aws:batch:us-east-1:123456789012:job-queue/high");
        assert_eq!(queues.resolve(&arn).unwrap().namespace, "team-a");
        assert_eq!(queues.resolve("high").unwrap().namespace, "team-a");
        let fallback = queues.resolve("team-b").unwrap();
        assert_eq!(
            (fallback.name.as_str(), fallback.namespace.as_str()),
            ("team-b", "team-b")
        );
        let kueued = Queues::new(vec![
            QueueConfig {
                kueue_local_queue: Some("lq".into()),
                ..queue("a", "ns")
            },
            QueueConfig {
                kueue_local_queue: Some("lq".into()),
                ..queue("b", "other")
            },
        ])
        .unwrap();
        assert_eq!(kueued.by_local_queue("other", "lq").unwrap().name, "b");
        assert!(kueued.by_local_queue("third", "lq").is_none());
        let err = queues.resolve("Not_A_Namespace").unwrap_err();
        assert_eq!(err.field(), "jobQueue");
    }

    #[test]
    fn describe_pages_by_name_and_leaves_unknown_names_out() {
        let queues = Queues::new(vec![queue("c", "n"), queue("a", "n"), queue("b", "n")]).unwrap();
        let all = |_: &str| true;
        let (page, next) = queues.describe(&[], Some(2), None, all).unwrap();
        assert_eq!(
            page.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let (page, last) = queues.describe(&[], Some(2), next.as_deref(), all).unwrap();
        assert_eq!(
            page.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(last, None);
        let names = [
            "b".to_owned(),
            "nope".to_owned(),
            job_queue_arn("r", "a", "a"),
        ];
        let (page, _) = queues.describe(&names, None, None, all).unwrap();
        assert_eq!(
            page.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            queues
                .describe(&[], Some(0), None, all)
                .unwrap_err()
                .field(),
            "maxResults"
        );
        assert_eq!(
            queues
                .describe(&[], None, Some("zz"), all)
                .unwrap_err()
                .field(),
            "nextToken"
        );
    }
}
