//! The scheduler's decision for one pod, after kube-scheduler 1.33's default filter plugins
//! NodeUnschedulable, TaintToleration and NodeAffinity (nodeSelector and required node
//! affinity), with its FitError message. Resources, ports, volumes and inter-pod affinity are
//! not simulated: any node that passes these filters fits, and the first one in name order wins.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodCondition, Taint, Toleration,
};

use super::clock::SimTime;
use super::events::{EventSpec, EventType};

pub const SCHEDULER_NAME: &str = "default-scheduler";

const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const ERR_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not this scheduler's pod, already bound, or being deleted.
    Skip,
    /// `spec.schedulingGates` hold the pod.
    Gated,
    Bind {
        node: String,
    },
    Unschedulable {
        message: String,
    },
}

/// Whether the default scheduler should look at this pod.
pub fn wants(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let ours = spec
        .scheduler_name
        .as_deref()
        .is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME);
    let unbound = spec.node_name.as_deref().is_none_or(str::is_empty);
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let terminal = matches!(phase, Some("Succeeded" | "Failed"));
    ours && unbound && !terminal && pod.metadata.deletion_timestamp.is_none()
}

/// Picks a node for `pod` among `nodes`.
pub fn schedule(pod: &Pod, nodes: &[Node]) -> Decision {
    if !wants(pod) {
        return Decision::Skip;
    }
    let spec = pod.spec.as_ref();
    if spec
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
    {
        return Decision::Gated;
    }
    if nodes.is_empty() {
        return Decision::Unschedulable {
            message: "no nodes available to schedule pods".to_string(),
        };
    }
    let mut sorted: Vec<&Node> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for node in sorted {
        match filter(pod, node) {
            None => {
                return Decision::Bind {
                    node: node.metadata.name.clone().unwrap_or_default(),
                };
            }
            Some(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    let n = nodes.len();
    let mut hist: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
    hist.sort();
    Decision::Unschedulable {
        message: format!(
            "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
            hist.join(", ")
        ),
    }
}

/// The first filter that rejects the node, as its FitError reason.
fn filter(pod: &Pod, node: &Node) -> Option<String> {
    let pspec = pod.spec.as_ref()?;
    let nspec = node.spec.clone().unwrap_or_default();
    let tolerations = pspec.tolerations.as_deref().unwrap_or(&[]);
    // NodeUnschedulable
    if nspec.unschedulable == Some(true) {
        let tolerated = tolerations.iter().any(|t| {
            tolerates(
                t,
                &Taint {
                    key: "node.kubernetes.io/unschedulable".to_string(),
                    value: None,
                    effect: "NoSchedule".to_string(),
                    time_added: None,
                },
            )
        });
        if !tolerated {
            return Some(ERR_UNSCHEDULABLE.to_string());
        }
    }
    // TaintToleration: NoSchedule and NoExecute taints must be tolerated.
    for taint in nspec.taints.iter().flatten() {
        if matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerations.iter().any(|t| tolerates(t, taint))
        {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            ));
        }
    }
    // NodeAffinity: nodeSelector and requiredDuringSchedulingIgnoredDuringExecution.
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = pspec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = pspec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let affinity_ok = required.is_none_or(|r| {
        r.node_selector_terms
            .iter()
            .any(|term| term_matches(term, &labels, node.metadata.name.as_deref().unwrap_or("")))
    });
    if !(selector_ok && affinity_ok) {
        return Some(ERR_AFFINITY.to_string());
    }
    None
}

/// v1.Toleration.ToleratesTaint.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty())
        && k != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// A term matches when all its requirements do; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let name_fields = BTreeMap::from([("metadata.name".to_string(), name.to_string())]);
    exprs.iter().all(|r| requirement_matches(r, labels))
        && fields.iter().all(|r| requirement_matches(r, &name_fields))
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let value = labels.get(&r.key);
    let as_int = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(want)) = (
                value.and_then(|v| as_int(v)),
                values.first().and_then(|v| as_int(v)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// The PodScheduled condition and event for a decision (none for Skip).
pub fn outcome(pod: &Pod, decision: &Decision, t: &SimTime) -> Option<(PodCondition, EventSpec)> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let cond = |status: &str, reason: Option<&str>, message: Option<String>| PodCondition {
        type_: "PodScheduled".to_string(),
        status: status.to_string(),
        reason: reason.map(str::to_string),
        message,
        last_probe_time: None,
        last_transition_time: Some(t.time()),
        observed_generation: None,
    };
    let event = |type_, reason: &str, message: String| {
        let mut e = EventSpec::new(SCHEDULER_NAME, type_, reason, message);
        e.action = Some(if reason == "Scheduled" {
            "Binding"
        } else {
            "Scheduling"
        });
        e
    };
    match decision {
        Decision::Skip => None,
        Decision::Gated => Some((
            cond(
                "False",
                Some("SchedulingGated"),
                Some("Scheduling is blocked due to non-empty scheduling gates".to_string()),
            ),
            event(
                EventType::Warning,
                "FailedScheduling",
                "Scheduling is blocked due to non-empty scheduling gates".to_string(),
            ),
        )),
        Decision::Bind { node } => Some((
            cond("True", None, None),
            event(
                EventType::Normal,
                "Scheduled",
                format!("Successfully assigned {ns}/{name} to {node}"),
            ),
        )),
        Decision::Unschedulable { message } => Some((
            cond("False", Some("Unschedulable"), Some(message.clone())),
            event(EventType::Warning, "FailedScheduling", message.clone()),
        )),
    }
}

/// Whether the pod already carries this PodScheduled condition (so a retry that reaches the same
/// verdict writes nothing).
pub fn has_condition(pod: &Pod, cond: &PodCondition) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == cond.type_
                    && c.status == cond.status
                    && c.reason == cond.reason
                    && c.message == cond.message
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::nodes::NodeConfig;
    use serde_json::{Value, json};

    fn nodes(cfgs: &[NodeConfig]) -> Vec<Node> {
        let t = SimTime::real_now();
        cfgs.iter()
            .enumerate()
            .map(|(i, c)| c.to_node(i, &t))
            .collect()
    }

    fn pod(spec: Value) -> Pod {
        let mut v = json!({"metadata": {"name": "p", "namespace": "ns"},
                           "spec": {"containers": [{"name": "c"}]}});
        if let (Some(s), Some(extra)) = (v["spec"].as_object_mut(), spec.as_object()) {
            s.extend(extra.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn binds_to_the_default_node() {
        let d = schedule(
            &pod(json!({})),
            &nodes(&[NodeConfig::new("kubesim-node-0")]),
        );
        assert_eq!(
            d,
            Decision::Bind {
                node: "kubesim-node-0".into()
            }
        );
        let (c, e) = outcome(&pod(json!({})), &d, &SimTime::real_now()).unwrap();
        assert_eq!(
            (c.type_.as_str(), c.status.as_str()),
            ("PodScheduled", "True")
        );
        assert_eq!(e.reason, "Scheduled");
        assert_eq!(e.message, "Successfully assigned ns/p to kubesim-node-0");
    }

    #[test]
    fn node_selector_mismatch_is_unschedulable() {
        let p = pod(json!({"nodeSelector": {"gpu": "true"}}));
        let d = schedule(&p, &nodes(&[NodeConfig::new("n0")]));
        let Decision::Unschedulable { message } = &d else {
            panic!("{d:?}")
        };
        assert_eq!(
            message,
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
        let (c, e) = outcome(&p, &d, &SimTime::real_now()).unwrap();
        assert_eq!(c.status, "False");
        assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
        assert_eq!(e.reason, "FailedScheduling");
        assert_eq!(e.type_, EventType::Warning);
        // A matching node fits.
        let d = schedule(
            &p,
            &nodes(&[
                NodeConfig::new("n0"),
                NodeConfig::new("n1").label("gpu", "true"),
            ]),
        );
        assert_eq!(d, Decision::Bind { node: "n1".into() });
    }

    #[test]
    fn taints_need_tolerations_and_reasons_are_counted() {
        let tainted = NodeConfig::new("a").taint("dedicated", Some("batch"), "NoSchedule");
        let ns = nodes(&[
            tainted,
            NodeConfig::new("b").ready(false),
            NodeConfig::new("c"),
        ]);
        let p = pod(json!({"nodeSelector": {"zone": "x"}}));
        let Decision::Unschedulable { message } = schedule(&p, &ns) else {
            panic!()
        };
        assert_eq!(
            message,
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {dedicated: batch}, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
        let tolerating = pod(json!({"nodeSelector": {"kubernetes.io/hostname": "a"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]}));
        assert_eq!(
            schedule(&tolerating, &ns),
            Decision::Bind { node: "a".into() }
        );
        let exists_all = pod(json!({"nodeSelector": {"kubernetes.io/hostname": "b"},
            "tolerations": [{"operator": "Exists"}]}));
        assert_eq!(
            schedule(&exists_all, &ns),
            Decision::Bind { node: "b".into() }
        );
        // PreferNoSchedule does not block.
        let soft = nodes(&[NodeConfig::new("s").taint("x", None, "PreferNoSchedule")]);
        assert_eq!(
            schedule(&pod(json!({})), &soft),
            Decision::Bind { node: "s".into() }
        );
    }

    #[test]
    fn required_node_affinity() {
        let ns = nodes(&[
            NodeConfig::new("a").label("size", "4"),
            NodeConfig::new("b").label("size", "16"),
        ]);
        let aff = |exprs: Value| {
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}}}),
            )
        };
        assert_eq!(
            schedule(
                &aff(json!([{"key": "size", "operator": "Gt", "values": ["8"]}])),
                &ns
            ),
            Decision::Bind { node: "b".into() }
        );
        assert_eq!(
            schedule(
                &aff(json!([{"key": "size", "operator": "NotIn", "values": ["4"]}])),
                &ns
            ),
            Decision::Bind { node: "b".into() }
        );
        assert_eq!(
            schedule(
                &aff(json!([{"key": "size", "operator": "In", "values": ["4", "5"]}])),
                &ns
            ),
            Decision::Bind { node: "a".into() }
        );
        assert_eq!(
            schedule(
                &aff(json!([{"key": "gpu", "operator": "DoesNotExist"}])),
                &ns
            ),
            Decision::Bind { node: "a".into() }
        );
        assert!(matches!(
            schedule(&aff(json!([{"key": "gpu", "operator": "Exists"}])), &ns),
            Decision::Unschedulable { .. }
        ));
        let by_name = pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}),
        );
        assert_eq!(schedule(&by_name, &ns), Decision::Bind { node: "b".into() });
    }

    #[test]
    fn skips_bound_foreign_and_gated_pods() {
        let ns = nodes(&[NodeConfig::new("a")]);
        assert_eq!(
            schedule(&pod(json!({"nodeName": "a"})), &ns),
            Decision::Skip
        );
        assert_eq!(
            schedule(&pod(json!({"schedulerName": "other"})), &ns),
            Decision::Skip
        );
        assert_eq!(
            schedule(&pod(json!({"schedulingGates": [{"name": "g"}]})), &ns),
            Decision::Gated
        );
        assert_eq!(
            schedule(&pod(json!({})), &[]),
            Decision::Unschedulable {
                message: "no nodes available to schedule pods".into()
            }
        );
        let unsched = nodes(&[NodeConfig {
            unschedulable: true,
            ..NodeConfig::new("u")
        }]);
        let Decision::Unschedulable { message } = schedule(&pod(json!({})), &unsched) else {
            panic!()
        };
        assert!(
            message.starts_with("0/1 nodes are available: 1 node(s) were unschedulable."),
            "{message}"
        );
    }
}
