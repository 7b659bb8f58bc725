//! The server-side printers of Kubernetes 1.33's built-in kinds (pkg/printers/internalversion
//! `printers.go`): which resources each renders and its column definitions, as data.

use super::{CREATED_DESC, Kind, NAME_DESC};

/// One column: name, type, priority (1 shows with `-o wide` only) and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Col(pub &'static str, pub &'static str, pub u8, pub &'static str);

/// The Name column every printer but Event's starts with (format `name`).
pub(super) const NAME: Col = Col("Name", "string", 0, NAME_DESC);
pub(super) const AGE: Col = Col("Age", "string", 0, CREATED_DESC);

/// The printer of a group's resource.
pub(super) struct Builtin {
    pub groups: &'static [&'static str],
    pub plural: &'static str,
    pub kind: Kind,
    pub columns: &'static [Col],
}

/// The default convertor's columns, for kinds without a printer.
pub(super) const DEFAULT_COLUMNS: &[Col] = &[NAME, Col("Created At", "date", 0, CREATED_DESC)];

pub(super) static BUILTIN: &[Builtin] = &[
    Builtin {
        groups: &[""],
        plural: "pods",
        kind: Kind::Pod,
        columns: &[
            NAME,
            Col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            Col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            Col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            Col("IP", "string", 1, "podIP address allocated to the pod."),
            Col(
                "Node",
                "string",
                1,
                "NodeName indicates in which node this pod is scheduled.",
            ),
            Col(
                "Nominated Node",
                "string",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            Col(
                "Readiness Gates",
                "string",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
    },
    Builtin {
        groups: &["batch"],
        plural: "jobs",
        kind: Kind::Job,
        columns: &[
            NAME,
            Col("Status", "string", 0, "Status of the job."),
            Col(
                "Completions",
                "string",
                0,
                "The number of pods which reached phase Succeeded.",
            ),
            Col(
                "Duration",
                "string",
                0,
                "Time required to complete the job.",
            ),
            AGE,
            Col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            Col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            Col(
                "Selector",
                "string",
                1,
                "A label query over pods that should match the pod count.",
            ),
        ],
    },
    Builtin {
        groups: &["batch"],
        plural: "cronjobs",
        kind: Kind::CronJob,
        columns: &[
            NAME,
            Col(
                "Schedule",
                "string",
                0,
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
            ),
            Col(
                "Timezone",
                "string",
                0,
                "The time zone name for the given schedule.",
            ),
            Col(
                "Suspend",
                "boolean",
                0,
                "This flag tells the controller to suspend subsequent executions.",
            ),
            Col(
                "Active",
                "integer",
                0,
                "A list of pointers to currently running jobs.",
            ),
            Col(
                "Last Schedule",
                "string",
                0,
                "Information when was the last time the job was successfully scheduled.",
            ),
            AGE,
            Col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            Col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            Col(
                "Selector",
                "string",
                1,
                "A label query over pods that should match the pod count.",
            ),
        ],
    },
    Builtin {
        groups: &["apps"],
        plural: "deployments",
        kind: Kind::Deployment,
        columns: &[
            NAME,
            Col("Ready", "string", 0, "Number of the pod with ready state"),
            Col(
                "Up-to-date",
                "integer",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            Col(
                "Available",
                "integer",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            Col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            Col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            Col(
                "Selector",
                "string",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
    },
    Builtin {
        groups: &[""],
        plural: "namespaces",
        kind: Kind::Namespace,
        columns: &[
            NAME,
            Col("Status", "string", 0, "The status of the namespace"),
            AGE,
        ],
    },
    Builtin {
        groups: &[""],
        plural: "nodes",
        kind: Kind::Node,
        columns: &[
            NAME,
            Col("Status", "string", 0, "The status of the node"),
            Col("Roles", "string", 0, "The roles of the node"),
            AGE,
            Col(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            Col(
                "Internal-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            Col(
                "External-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            Col(
                "OS-Image",
                "string",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            Col(
                "Kernel-Version",
                "string",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            Col(
                "Container-Runtime",
                "string",
                1,
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
    },
    Builtin {
        groups: &["", "events.k8s.io"],
        plural: "events",
        kind: Kind::Event,
        columns: &[
            Col(
                "Last Seen",
                "string",
                0,
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            Col(
                "Type",
                "string",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            Col(
                "Reason",
                "string",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            Col(
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            Col(
                "Subobject",
                "string",
                1,
                "The specific sub-object of the involved object, e.g. a container in a pod.",
            ),
            Col(
                "Source",
                "string",
                1,
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            Col(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
            Col(
                "First Seen",
                "string",
                1,
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            Col(
                "Count",
                "string",
                1,
                "The number of times this event has occurred.",
            ),
            Col("Name", "string", 1, NAME_DESC),
        ],
    },
    Builtin {
        groups: &[""],
        plural: "services",
        kind: Kind::Service,
        columns: &[
            NAME,
            Col(
                "Type",
                "string",
                0,
                "type determines how the Service is exposed.",
            ),
            Col(
                "Cluster-IP",
                "string",
                0,
                "clusterIP is the IP address of the service.",
            ),
            Col(
                "External-IP",
                "string",
                0,
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            Col(
                "Port(s)",
                "string",
                0,
                "The list of ports that are exposed by this service.",
            ),
            AGE,
            Col(
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
    },
    Builtin {
        groups: &[""],
        plural: "configmaps",
        kind: Kind::ConfigMap,
        columns: &[
            NAME,
            Col("Data", "string", 0, "Data contains the configuration data."),
            AGE,
        ],
    },
    Builtin {
        groups: &[""],
        plural: "secrets",
        kind: Kind::Secret,
        columns: &[
            NAME,
            Col(
                "Type",
                "string",
                0,
                "Used to facilitate programmatic handling of secret data.",
            ),
            Col("Data", "string", 0, "Data contains the secret data."),
            AGE,
        ],
    },
    Builtin {
        groups: &[""],
        plural: "serviceaccounts",
        kind: Kind::ServiceAccount,
        columns: &[
            NAME,
            Col(
                "Secrets",
                "string",
                0,
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE,
        ],
    },
    Builtin {
        groups: &["coordination.k8s.io"],
        plural: "leases",
        kind: Kind::Lease,
        columns: &[
            NAME,
            Col(
                "Holder",
                "string",
                0,
                "holderIdentity contains the identity of the holder of a current lease.",
            ),
            AGE,
        ],
    },
];
