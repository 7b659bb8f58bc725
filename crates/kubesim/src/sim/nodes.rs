//! Simulated Nodes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::clock::SimTime;

pub const DEFAULT_NODE_NAME: &str = "kubesim-node-0";
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const KUBELET_VERSION: &str = "v1.33.0";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid node label {0:?}: expected key=value")]
    Label(String),
    #[error("invalid node count {0:?}")]
    Count(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One simulated node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub name: String,
    /// Extra labels, besides the well-known `kubernetes.io/hostname`, `kubernetes.io/os` and
    /// `kubernetes.io/arch`.
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// A node that is not Ready gets the `node.kubernetes.io/not-ready:NoSchedule` taint, as the
    /// node lifecycle controller does, so nothing is scheduled there.
    pub ready: bool,
    pub unschedulable: bool,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
}

impl NodeConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            ready: true,
            unschedulable: false,
            cpu: "8".to_string(),
            memory: "32Gi".to_string(),
            pods: "110".to_string(),
        }
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn taint(mut self, key: &str, value: Option<&str>, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.to_string(),
            value: value.map(str::to_string),
            effect: effect.to_string(),
            time_added: None,
        });
        self
    }

    pub fn ready(mut self, ready: bool) -> Self {
        self.ready = ready;
        self
    }

    /// `count` nodes named `kubesim-node-<i>`, each with `labels`.
    pub fn numbered(count: usize, labels: &BTreeMap<String, String>) -> Vec<Self> {
        (0..count)
            .map(|i| {
                let mut n = Self::new(format!("kubesim-node-{i}"));
                n.labels = labels.clone();
                n
            })
            .collect()
    }

    /// The Node object, created at `t`. `index` picks its addresses.
    pub fn to_node(&self, index: usize, t: &SimTime) -> Node {
        let mut labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), self.name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), "amd64".to_string()),
            ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
            ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
        ]);
        labels.extend(self.labels.clone());
        let mut taints = self.taints.clone();
        if !self.ready {
            taints.push(Taint {
                key: NOT_READY_TAINT.to_string(),
                value: None,
                effect: "NoSchedule".to_string(),
                time_added: Some(t.time()),
            });
        }
        if self.unschedulable {
            taints.push(Taint {
                key: "node.kubernetes.io/unschedulable".to_string(),
                value: None,
                effect: "NoSchedule".to_string(),
                time_added: Some(t.time()),
            });
        }
        let resources = BTreeMap::from([
            ("cpu".to_string(), Quantity(self.cpu.clone())),
            ("memory".to_string(), Quantity(self.memory.clone())),
            ("pods".to_string(), Quantity(self.pods.clone())),
            (
                "ephemeral-storage".to_string(),
                Quantity("100Gi".to_string()),
            ),
        ]);
        let cond = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_heartbeat_time: Some(t.time()),
            last_transition_time: Some(t.time()),
        };
        let ready = if self.ready {
            cond(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            )
        } else {
            cond(
                "Ready",
                "False",
                "KubeletNotReady",
                "container runtime network not ready",
            )
        };
        Node {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: Some(pod_cidr(index)),
                pod_cidrs: Some(vec![pod_cidr(index)]),
                taints: (!taints.is_empty()).then_some(taints),
                unschedulable: self.unschedulable.then_some(true),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".to_string(),
                        address: host_ip(index),
                    },
                    NodeAddress {
                        type_: "Hostname".to_string(),
                        address: self.name.clone(),
                    },
                ]),
                allocatable: Some(resources.clone()),
                capacity: Some(resources),
                conditions: Some(vec![
                    cond(
                        "MemoryPressure",
                        "False",
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                    ),
                    cond(
                        "DiskPressure",
                        "False",
                        "KubeletHasNoDiskPressure",
                        "kubelet has no disk pressure",
                    ),
                    cond(
                        "PIDPressure",
                        "False",
                        "KubeletHasSufficientPID",
                        "kubelet has sufficient PID available",
                    ),
                    ready,
                ]),
                node_info: Some(NodeSystemInfo {
                    architecture: "amd64".to_string(),
                    boot_id: String::new(),
                    container_runtime_version: "kubesim://0.1.0".to_string(),
                    kernel_version: "6.1.0".to_string(),
                    kube_proxy_version: String::new(),
                    kubelet_version: KUBELET_VERSION.to_string(),
                    machine_id: String::new(),
                    operating_system: "linux".to_string(),
                    os_image: "kubesim".to_string(),
                    swap: None,
                    system_uuid: String::new(),
                }),
                ..NodeStatus::default()
            }),
        }
    }
}

/// Parses `key=value,key=value`.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Label(p.to_string()))
        })
        .collect()
}

/// The node's InternalIP.
pub fn host_ip(index: usize) -> String {
    format!("10.0.{}.{}", index / 250, index % 250 + 2)
}

fn pod_cidr(index: usize) -> String {
    format!("10.244.{}.0/24", index % 256)
}

/// A pod IP in the node's pod CIDR, derived from the pod uid (stable, not unique-checked).
pub fn pod_ip(node: &Node, pod_uid: &str) -> String {
    let base = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| c.strip_suffix(".0/24"))
        .unwrap_or("10.244.0");
    // FNV-1a: stable across runs, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in pod_uid.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("{base}.{}", h % 253 + 2)
}

/// The node's InternalIP, read back from the Node.
pub fn internal_ip(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::TimeScale;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn default_node_is_ready_with_resources() {
        let t = SimTime::new(
            Timestamp::from_second(1_750_000_000).unwrap(),
            TimeScale::default(),
        );
        let n = NodeConfig::new(DEFAULT_NODE_NAME).to_node(0, &t);
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["metadata"]["name"], "kubesim-node-0");
        assert_eq!(
            v["metadata"]["labels"]["kubernetes.io/hostname"],
            "kubesim-node-0"
        );
        assert_eq!(v["status"]["allocatable"]["cpu"], "8");
        assert_eq!(v["status"]["capacity"]["pods"], "110");
        let ready = v["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert!(v["spec"].get("taints").is_none());
        assert_eq!(internal_ip(&n).as_deref(), Some("10.0.0.2"));
        let ip = pod_ip(&n, "some-uid");
        assert!(ip.starts_with("10.244.0."), "{ip}");
        assert_eq!(ip, pod_ip(&n, "some-uid"));
    }

    #[test]
    fn not_ready_node_is_tainted() {
        let t = SimTime::real_now();
        let n = NodeConfig::new("n").ready(false).to_node(1, &t);
        let taints = n.spec.unwrap().taints.unwrap();
        assert_eq!(taints[0].key, NOT_READY_TAINT);
        assert_eq!(taints[0].effect, "NoSchedule");
    }

    #[test]
    fn numbered_nodes_and_labels() {
        let labels = parse_labels("zone=a, gpu=true").unwrap();
        let nodes = NodeConfig::numbered(3, &labels);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[2].name, "kubesim-node-2");
        assert_eq!(nodes[1].labels["zone"], "a");
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels("=x").is_err());
        assert!(parse_labels("").unwrap().is_empty());
    }
}
