//! Enough of the Kubernetes protobuf encoding to read the request bodies that client-go's typed
//! clients send as `application/vnd.kubernetes.protobuf`: helm's release Secrets, the `kubectl
//! create` generators (configmap, secret, namespace, serviceaccount, job, cronjob, deployment,
//! service, role(binding), clusterrole(binding), poddisruptionbudget) and DeleteOptions. Each
//! message is a table of `Field`s taken from Kubernetes 1.33's `generated.proto`; a body is turned
//! into the JSON the API takes and then runs the normal JSON path. Responses stay JSON, which those
//! clients accept too.
//!
//! go-to-protobuf writes every non-pointer Go field, zero or not, so zero scalars of value fields
//! are dropped here (as `omitempty` does in JSON), while pointer fields (`Opt*`) keep their zero.

use serde_json::{Map, Value, json};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The 4-byte prefix of every Kubernetes protobuf message.
pub const MAGIC: &[u8] = b"k8s\0";
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("protobuf: {0}")]
    Malformed(&'static str),
    #[error(
        "protobuf bodies are supported for v1 Secret, ConfigMap, Namespace, ServiceAccount, Pod, Service; batch/v1 Job, CronJob; apps/v1 Deployment; rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding; policy/v1 PodDisruptionBudget and DeleteOptions, not {0} (send JSON instead)"
    )]
    Unsupported(String),
    /// A field kubesim's tables do not know yet: refused rather than dropped, so the gap shows.
    #[error(
        "protobuf: field {field} of message {message} is not supported by kubesim's protobuf decoder (send JSON instead)"
    )]
    UnknownField { message: &'static str, field: u64 },
    #[error("protobuf: field {field} ({name}) of message {message} has the wrong wire type")]
    WireType {
        message: &'static str,
        field: u64,
        name: &'static str,
    },
}

type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy)]
enum Kind {
    /// `string`; empty is dropped (Go's zero value).
    Str,
    /// A value `int32` / `int64`; zero is dropped.
    I32,
    I64,
    /// A pointer `*int32` / `*int64`: present only when set, zero kept.
    OptI32,
    OptI64,
    /// A value `bool`; false is dropped.
    Bool,
    /// A pointer `*bool`: present only when set.
    OptBool,
    /// meta/v1 Time: seconds + nanos; an empty message is the zero time (dropped).
    Time,
    /// api/resource Quantity: `{string = 1}`, JSON's string form.
    Quantity,
    /// util/intstr IntOrString behind a pointer: always kept.
    IntOrStr,
    /// util/intstr IntOrString as a value: the zero int is dropped.
    IntOrStrVal,
    Msg(&'static Message),
    /// An embedded Go struct whose fields JSON flattens into the parent (e.g. LocalObjectReference).
    Inline(&'static Message),
    RepStr,
    RepMsg(&'static Message),
    /// `map<string, V>`, sent as repeated entries `{key = 1, value = 2}`.
    Map(&'static Kind),
    /// `bytes`, as base64 in JSON.
    Bytes,
}

struct Field {
    num: u64,
    name: &'static str,
    kind: Kind,
}

struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind }
}

const fn m(name: &'static str, fields: &'static [Field]) -> Message {
    Message { name, fields }
}

const MAP_STR: Kind = Kind::Map(&Kind::Str);

// ---- k8s.io/apimachinery meta/v1

const OWNER_REF: Message = m(
    "meta.v1.OwnerReference",
    &[
        f(1, "kind", Kind::Str),
        f(3, "name", Kind::Str),
        f(4, "uid", Kind::Str),
        f(5, "apiVersion", Kind::Str),
        f(6, "controller", Kind::OptBool),
        f(7, "blockOwnerDeletion", Kind::OptBool),
    ],
);

const OBJECT_META: Message = m(
    "meta.v1.ObjectMeta",
    &[
        f(1, "name", Kind::Str),
        f(2, "generateName", Kind::Str),
        f(3, "namespace", Kind::Str),
        f(4, "selfLink", Kind::Str),
        f(5, "uid", Kind::Str),
        f(6, "resourceVersion", Kind::Str),
        f(7, "generation", Kind::I64),
        f(8, "creationTimestamp", Kind::Time),
        f(9, "deletionTimestamp", Kind::Time),
        f(10, "deletionGracePeriodSeconds", Kind::OptI64),
        f(11, "labels", MAP_STR),
        f(12, "annotations", MAP_STR),
        f(13, "ownerReferences", Kind::RepMsg(&OWNER_REF)),
        f(14, "finalizers", Kind::RepStr),
    ],
);

const LABEL_SELECTOR_REQUIREMENT: Message = m(
    "meta.v1.LabelSelectorRequirement",
    &[
        f(1, "key", Kind::Str),
        f(2, "operator", Kind::Str),
        f(3, "values", Kind::RepStr),
    ],
);

const LABEL_SELECTOR: Message = m(
    "meta.v1.LabelSelector",
    &[
        f(1, "matchLabels", MAP_STR),
        f(
            2,
            "matchExpressions",
            Kind::RepMsg(&LABEL_SELECTOR_REQUIREMENT),
        ),
    ],
);

const CONDITION: Message = m(
    "meta.v1.Condition",
    &[
        f(1, "type", Kind::Str),
        f(2, "status", Kind::Str),
        f(3, "observedGeneration", Kind::I64),
        f(4, "lastTransitionTime", Kind::Time),
        f(5, "reason", Kind::Str),
        f(6, "message", Kind::Str),
    ],
);

const DELETE_OPTIONS: Message = m(
    "meta.v1.DeleteOptions",
    &[
        f(1, "gracePeriodSeconds", Kind::OptI64),
        f(
            2,
            "preconditions",
            Kind::Msg(&m(
                "meta.v1.Preconditions",
                &[f(1, "uid", Kind::Str), f(2, "resourceVersion", Kind::Str)],
            )),
        ),
        f(3, "orphanDependents", Kind::OptBool),
        f(4, "propagationPolicy", Kind::Str),
        f(5, "dryRun", Kind::RepStr),
    ],
);

// ---- k8s.io/api core/v1

const SECRET: Message = m(
    "core.v1.Secret",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "data", Kind::Map(&Kind::Bytes)),
        f(3, "type", Kind::Str),
        f(4, "stringData", MAP_STR),
        f(5, "immutable", Kind::OptBool),
    ],
);

const CONFIG_MAP: Message = m(
    "core.v1.ConfigMap",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "data", MAP_STR),
        f(3, "binaryData", Kind::Map(&Kind::Bytes)),
        f(4, "immutable", Kind::OptBool),
    ],
);

const NAMESPACE: Message = m(
    "core.v1.Namespace",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(
            2,
            "spec",
            Kind::Msg(&m(
                "core.v1.NamespaceSpec",
                &[f(1, "finalizers", Kind::RepStr)],
            )),
        ),
        f(
            3,
            "status",
            Kind::Msg(&m("core.v1.NamespaceStatus", &[f(1, "phase", Kind::Str)])),
        ),
    ],
);

const OBJECT_REF: Message = m(
    "core.v1.ObjectReference",
    &[
        f(1, "kind", Kind::Str),
        f(2, "namespace", Kind::Str),
        f(3, "name", Kind::Str),
        f(4, "uid", Kind::Str),
        f(5, "apiVersion", Kind::Str),
        f(6, "resourceVersion", Kind::Str),
        f(7, "fieldPath", Kind::Str),
    ],
);

const LOCAL_OBJECT_REF: Message = m("core.v1.LocalObjectReference", &[f(1, "name", Kind::Str)]);

const SERVICE_ACCOUNT: Message = m(
    "core.v1.ServiceAccount",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "secrets", Kind::RepMsg(&OBJECT_REF)),
        f(3, "imagePullSecrets", Kind::RepMsg(&LOCAL_OBJECT_REF)),
        f(4, "automountServiceAccountToken", Kind::OptBool),
    ],
);

const KEY_SELECTOR_FIELDS: &[Field] = &[
    f(1, "", Kind::Inline(&LOCAL_OBJECT_REF)),
    f(2, "key", Kind::Str),
    f(3, "optional", Kind::OptBool),
];

const ENV_VAR_SOURCE: Message = m(
    "core.v1.EnvVarSource",
    &[
        f(
            1,
            "fieldRef",
            Kind::Msg(&m(
                "core.v1.ObjectFieldSelector",
                &[f(1, "apiVersion", Kind::Str), f(2, "fieldPath", Kind::Str)],
            )),
        ),
        f(
            2,
            "resourceFieldRef",
            Kind::Msg(&m(
                "core.v1.ResourceFieldSelector",
                &[
                    f(1, "containerName", Kind::Str),
                    f(2, "resource", Kind::Str),
                    f(3, "divisor", Kind::Quantity),
                ],
            )),
        ),
        f(
            3,
            "configMapKeyRef",
            Kind::Msg(&m("core.v1.ConfigMapKeySelector", KEY_SELECTOR_FIELDS)),
        ),
        f(
            4,
            "secretKeyRef",
            Kind::Msg(&m("core.v1.SecretKeySelector", KEY_SELECTOR_FIELDS)),
        ),
    ],
);

const ENV_VAR: Message = m(
    "core.v1.EnvVar",
    &[
        f(1, "name", Kind::Str),
        f(2, "value", Kind::Str),
        f(3, "valueFrom", Kind::Msg(&ENV_VAR_SOURCE)),
    ],
);

const CONTAINER_PORT: Message = m(
    "core.v1.ContainerPort",
    &[
        f(1, "name", Kind::Str),
        f(2, "hostPort", Kind::I32),
        f(3, "containerPort", Kind::I32),
        f(4, "protocol", Kind::Str),
        f(5, "hostIP", Kind::Str),
    ],
);

const RESOURCE_REQUIREMENTS: Message = m(
    "core.v1.ResourceRequirements",
    &[
        f(1, "limits", Kind::Map(&Kind::Quantity)),
        f(2, "requests", Kind::Map(&Kind::Quantity)),
        f(
            3,
            "claims",
            Kind::RepMsg(&m(
                "core.v1.ResourceClaim",
                &[f(1, "name", Kind::Str), f(2, "request", Kind::Str)],
            )),
        ),
    ],
);

const VOLUME_MOUNT: Message = m(
    "core.v1.VolumeMount",
    &[
        f(1, "name", Kind::Str),
        f(2, "readOnly", Kind::Bool),
        f(3, "mountPath", Kind::Str),
        f(4, "subPath", Kind::Str),
        f(5, "mountPropagation", Kind::Str),
        f(6, "subPathExpr", Kind::Str),
        f(7, "recursiveReadOnly", Kind::Str),
    ],
);

const CONTAINER: Message = m(
    "core.v1.Container",
    &[
        f(1, "name", Kind::Str),
        f(2, "image", Kind::Str),
        f(3, "command", Kind::RepStr),
        f(4, "args", Kind::RepStr),
        f(5, "workingDir", Kind::Str),
        f(6, "ports", Kind::RepMsg(&CONTAINER_PORT)),
        f(7, "env", Kind::RepMsg(&ENV_VAR)),
        f(8, "resources", Kind::Msg(&RESOURCE_REQUIREMENTS)),
        f(9, "volumeMounts", Kind::RepMsg(&VOLUME_MOUNT)),
        f(13, "terminationMessagePath", Kind::Str),
        f(14, "imagePullPolicy", Kind::Str),
        f(16, "stdin", Kind::Bool),
        f(17, "stdinOnce", Kind::Bool),
        f(18, "tty", Kind::Bool),
        f(20, "terminationMessagePolicy", Kind::Str),
        f(24, "restartPolicy", Kind::Str),
    ],
);

const POD_SECURITY_CONTEXT: Message = m(
    "core.v1.PodSecurityContext",
    &[
        f(2, "runAsUser", Kind::OptI64),
        f(3, "runAsNonRoot", Kind::OptBool),
        f(5, "fsGroup", Kind::OptI64),
        f(6, "runAsGroup", Kind::OptI64),
    ],
);

const TOLERATION: Message = m(
    "core.v1.Toleration",
    &[
        f(1, "key", Kind::Str),
        f(2, "operator", Kind::Str),
        f(3, "value", Kind::Str),
        f(4, "effect", Kind::Str),
        f(5, "tolerationSeconds", Kind::OptI64),
    ],
);

const KEY_TO_PATH: Message = m(
    "core.v1.KeyToPath",
    &[
        f(1, "key", Kind::Str),
        f(2, "path", Kind::Str),
        f(3, "mode", Kind::OptI32),
    ],
);

/// The common volume sources; others are refused by field number.
const VOLUME_SOURCE: Message = m(
    "core.v1.VolumeSource",
    &[
        f(
            1,
            "hostPath",
            Kind::Msg(&m(
                "core.v1.HostPathVolumeSource",
                &[f(1, "path", Kind::Str), f(2, "type", Kind::Str)],
            )),
        ),
        f(
            2,
            "emptyDir",
            Kind::Msg(&m(
                "core.v1.EmptyDirVolumeSource",
                &[f(1, "medium", Kind::Str), f(2, "sizeLimit", Kind::Quantity)],
            )),
        ),
        f(
            6,
            "secret",
            Kind::Msg(&m(
                "core.v1.SecretVolumeSource",
                &[
                    f(1, "secretName", Kind::Str),
                    f(2, "items", Kind::RepMsg(&KEY_TO_PATH)),
                    f(3, "defaultMode", Kind::OptI32),
                    f(4, "optional", Kind::OptBool),
                ],
            )),
        ),
        f(
            10,
            "persistentVolumeClaim",
            Kind::Msg(&m(
                "core.v1.PersistentVolumeClaimVolumeSource",
                &[f(1, "claimName", Kind::Str), f(2, "readOnly", Kind::Bool)],
            )),
        ),
        f(
            19,
            "configMap",
            Kind::Msg(&m(
                "core.v1.ConfigMapVolumeSource",
                &[
                    f(1, "", Kind::Inline(&LOCAL_OBJECT_REF)),
                    f(2, "items", Kind::RepMsg(&KEY_TO_PATH)),
                    f(3, "defaultMode", Kind::OptI32),
                    f(4, "optional", Kind::OptBool),
                ],
            )),
        ),
    ],
);

/// JSON flattens the VolumeSource into the Volume.
const VOLUME: Message = m(
    "core.v1.Volume",
    &[
        f(1, "name", Kind::Str),
        f(2, "", Kind::Inline(&VOLUME_SOURCE)),
    ],
);

const POD_SPEC: Message = m(
    "core.v1.PodSpec",
    &[
        f(1, "volumes", Kind::RepMsg(&VOLUME)),
        f(2, "containers", Kind::RepMsg(&CONTAINER)),
        f(3, "restartPolicy", Kind::Str),
        f(4, "terminationGracePeriodSeconds", Kind::OptI64),
        f(5, "activeDeadlineSeconds", Kind::OptI64),
        f(6, "dnsPolicy", Kind::Str),
        f(7, "nodeSelector", MAP_STR),
        f(8, "serviceAccountName", Kind::Str),
        f(9, "serviceAccount", Kind::Str),
        f(10, "nodeName", Kind::Str),
        f(11, "hostNetwork", Kind::Bool),
        f(12, "hostPID", Kind::Bool),
        f(13, "hostIPC", Kind::Bool),
        f(14, "securityContext", Kind::Msg(&POD_SECURITY_CONTEXT)),
        f(15, "imagePullSecrets", Kind::RepMsg(&LOCAL_OBJECT_REF)),
        f(16, "hostname", Kind::Str),
        f(17, "subdomain", Kind::Str),
        f(19, "schedulerName", Kind::Str),
        f(20, "initContainers", Kind::RepMsg(&CONTAINER)),
        f(21, "automountServiceAccountToken", Kind::OptBool),
        f(22, "tolerations", Kind::RepMsg(&TOLERATION)),
        f(24, "priorityClassName", Kind::Str),
        f(25, "priority", Kind::OptI32),
        f(27, "shareProcessNamespace", Kind::OptBool),
        f(29, "runtimeClassName", Kind::Str),
        f(30, "enableServiceLinks", Kind::OptBool),
        f(31, "preemptionPolicy", Kind::Str),
    ],
);

const POD_TEMPLATE_SPEC: Message = m(
    "core.v1.PodTemplateSpec",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "spec", Kind::Msg(&POD_SPEC)),
    ],
);

const POD_CONDITION: Message = m(
    "core.v1.PodCondition",
    &[
        f(1, "type", Kind::Str),
        f(2, "status", Kind::Str),
        f(3, "lastProbeTime", Kind::Time),
        f(4, "lastTransitionTime", Kind::Time),
        f(5, "reason", Kind::Str),
        f(6, "message", Kind::Str),
    ],
);

const POD: Message = m(
    "core.v1.Pod",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "spec", Kind::Msg(&POD_SPEC)),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "core.v1.PodStatus",
                &[
                    f(1, "phase", Kind::Str),
                    f(2, "conditions", Kind::RepMsg(&POD_CONDITION)),
                    f(3, "message", Kind::Str),
                    f(4, "reason", Kind::Str),
                    f(5, "hostIP", Kind::Str),
                    f(6, "podIP", Kind::Str),
                    f(7, "startTime", Kind::Time),
                    f(9, "qosClass", Kind::Str),
                    f(11, "nominatedNodeName", Kind::Str),
                ],
            )),
        ),
    ],
);

const SERVICE_PORT: Message = m(
    "core.v1.ServicePort",
    &[
        f(1, "name", Kind::Str),
        f(2, "protocol", Kind::Str),
        f(3, "port", Kind::I32),
        f(4, "targetPort", Kind::IntOrStrVal),
        f(5, "nodePort", Kind::I32),
        f(6, "appProtocol", Kind::Str),
    ],
);

const SERVICE: Message = m(
    "core.v1.Service",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(
            2,
            "spec",
            Kind::Msg(&m(
                "core.v1.ServiceSpec",
                &[
                    f(1, "ports", Kind::RepMsg(&SERVICE_PORT)),
                    f(2, "selector", MAP_STR),
                    f(3, "clusterIP", Kind::Str),
                    f(4, "type", Kind::Str),
                    f(5, "externalIPs", Kind::RepStr),
                    f(7, "sessionAffinity", Kind::Str),
                    f(8, "loadBalancerIP", Kind::Str),
                    f(9, "loadBalancerSourceRanges", Kind::RepStr),
                    f(10, "externalName", Kind::Str),
                    f(11, "externalTrafficPolicy", Kind::Str),
                    f(12, "healthCheckNodePort", Kind::I32),
                    f(13, "publishNotReadyAddresses", Kind::Bool),
                ],
            )),
        ),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "core.v1.ServiceStatus",
                &[f(
                    1,
                    "loadBalancer",
                    Kind::Msg(&m(
                        "core.v1.LoadBalancerStatus",
                        &[f(
                            1,
                            "ingress",
                            Kind::RepMsg(&m(
                                "core.v1.LoadBalancerIngress",
                                &[f(1, "ip", Kind::Str), f(2, "hostname", Kind::Str)],
                            )),
                        )],
                    )),
                )],
            )),
        ),
    ],
);

// ---- k8s.io/api batch/v1

const JOB_SPEC: Message = m(
    "batch.v1.JobSpec",
    &[
        f(1, "parallelism", Kind::OptI32),
        f(2, "completions", Kind::OptI32),
        f(3, "activeDeadlineSeconds", Kind::OptI64),
        f(4, "selector", Kind::Msg(&LABEL_SELECTOR)),
        f(5, "manualSelector", Kind::OptBool),
        f(6, "template", Kind::Msg(&POD_TEMPLATE_SPEC)),
        f(7, "backoffLimit", Kind::OptI32),
        f(8, "ttlSecondsAfterFinished", Kind::OptI32),
        f(9, "completionMode", Kind::Str),
        f(10, "suspend", Kind::OptBool),
        f(12, "backoffLimitPerIndex", Kind::OptI32),
        f(13, "maxFailedIndexes", Kind::OptI32),
        f(14, "podReplacementPolicy", Kind::Str),
        f(15, "managedBy", Kind::Str),
    ],
);

const JOB_CONDITION: Message = m(
    "batch.v1.JobCondition",
    &[
        f(1, "type", Kind::Str),
        f(2, "status", Kind::Str),
        f(3, "lastProbeTime", Kind::Time),
        f(4, "lastTransitionTime", Kind::Time),
        f(5, "reason", Kind::Str),
        f(6, "message", Kind::Str),
    ],
);

const JOB: Message = m(
    "batch.v1.Job",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "spec", Kind::Msg(&JOB_SPEC)),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "batch.v1.JobStatus",
                &[
                    f(1, "conditions", Kind::RepMsg(&JOB_CONDITION)),
                    f(2, "startTime", Kind::Time),
                    f(3, "completionTime", Kind::Time),
                    f(4, "active", Kind::I32),
                    f(5, "succeeded", Kind::I32),
                    f(6, "failed", Kind::I32),
                    f(7, "completedIndexes", Kind::Str),
                    f(
                        8,
                        "uncountedTerminatedPods",
                        Kind::Msg(&m(
                            "batch.v1.UncountedTerminatedPods",
                            &[
                                f(1, "succeeded", Kind::RepStr),
                                f(2, "failed", Kind::RepStr),
                            ],
                        )),
                    ),
                    f(9, "ready", Kind::OptI32),
                    f(10, "failedIndexes", Kind::Str),
                    f(11, "terminating", Kind::OptI32),
                ],
            )),
        ),
    ],
);

const CRON_JOB: Message = m(
    "batch.v1.CronJob",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(
            2,
            "spec",
            Kind::Msg(&m(
                "batch.v1.CronJobSpec",
                &[
                    f(1, "schedule", Kind::Str),
                    f(2, "startingDeadlineSeconds", Kind::OptI64),
                    f(3, "concurrencyPolicy", Kind::Str),
                    f(4, "suspend", Kind::OptBool),
                    f(
                        5,
                        "jobTemplate",
                        Kind::Msg(&m(
                            "batch.v1.JobTemplateSpec",
                            &[
                                f(1, "metadata", Kind::Msg(&OBJECT_META)),
                                f(2, "spec", Kind::Msg(&JOB_SPEC)),
                            ],
                        )),
                    ),
                    f(6, "successfulJobsHistoryLimit", Kind::OptI32),
                    f(7, "failedJobsHistoryLimit", Kind::OptI32),
                    f(8, "timeZone", Kind::Str),
                ],
            )),
        ),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "batch.v1.CronJobStatus",
                &[
                    f(1, "active", Kind::RepMsg(&OBJECT_REF)),
                    f(4, "lastScheduleTime", Kind::Time),
                    f(5, "lastSuccessfulTime", Kind::Time),
                ],
            )),
        ),
    ],
);

// ---- k8s.io/api apps/v1

const DEPLOYMENT: Message = m(
    "apps.v1.Deployment",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(
            2,
            "spec",
            Kind::Msg(&m(
                "apps.v1.DeploymentSpec",
                &[
                    f(1, "replicas", Kind::OptI32),
                    f(2, "selector", Kind::Msg(&LABEL_SELECTOR)),
                    f(3, "template", Kind::Msg(&POD_TEMPLATE_SPEC)),
                    f(
                        4,
                        "strategy",
                        Kind::Msg(&m(
                            "apps.v1.DeploymentStrategy",
                            &[
                                f(1, "type", Kind::Str),
                                f(
                                    2,
                                    "rollingUpdate",
                                    Kind::Msg(&m(
                                        "apps.v1.RollingUpdateDeployment",
                                        &[
                                            f(1, "maxUnavailable", Kind::IntOrStr),
                                            f(2, "maxSurge", Kind::IntOrStr),
                                        ],
                                    )),
                                ),
                            ],
                        )),
                    ),
                    f(5, "minReadySeconds", Kind::I32),
                    f(6, "revisionHistoryLimit", Kind::OptI32),
                    f(7, "paused", Kind::Bool),
                    f(9, "progressDeadlineSeconds", Kind::OptI32),
                ],
            )),
        ),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "apps.v1.DeploymentStatus",
                &[
                    f(1, "observedGeneration", Kind::I64),
                    f(2, "replicas", Kind::I32),
                    f(3, "updatedReplicas", Kind::I32),
                    f(4, "availableReplicas", Kind::I32),
                    f(5, "unavailableReplicas", Kind::I32),
                    f(
                        6,
                        "conditions",
                        Kind::RepMsg(&m(
                            "apps.v1.DeploymentCondition",
                            &[
                                f(1, "type", Kind::Str),
                                f(2, "status", Kind::Str),
                                f(4, "reason", Kind::Str),
                                f(5, "message", Kind::Str),
                                f(6, "lastUpdateTime", Kind::Time),
                                f(7, "lastTransitionTime", Kind::Time),
                            ],
                        )),
                    ),
                    f(7, "readyReplicas", Kind::I32),
                    f(8, "collisionCount", Kind::OptI32),
                    f(9, "terminatingReplicas", Kind::OptI32),
                ],
            )),
        ),
    ],
);

// ---- k8s.io/api rbac/v1

const POLICY_RULE: Message = m(
    "rbac.v1.PolicyRule",
    &[
        f(1, "verbs", Kind::RepStr),
        f(2, "apiGroups", Kind::RepStr),
        f(3, "resources", Kind::RepStr),
        f(4, "resourceNames", Kind::RepStr),
        f(5, "nonResourceURLs", Kind::RepStr),
    ],
);

const ROLE: Message = m(
    "rbac.v1.Role",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "rules", Kind::RepMsg(&POLICY_RULE)),
    ],
);

const CLUSTER_ROLE: Message = m(
    "rbac.v1.ClusterRole",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "rules", Kind::RepMsg(&POLICY_RULE)),
        f(
            3,
            "aggregationRule",
            Kind::Msg(&m(
                "rbac.v1.AggregationRule",
                &[f(1, "clusterRoleSelectors", Kind::RepMsg(&LABEL_SELECTOR))],
            )),
        ),
    ],
);

const BINDING_FIELDS: &[Field] = &[
    f(1, "metadata", Kind::Msg(&OBJECT_META)),
    f(
        2,
        "subjects",
        Kind::RepMsg(&m(
            "rbac.v1.Subject",
            &[
                f(1, "kind", Kind::Str),
                f(2, "apiGroup", Kind::Str),
                f(3, "name", Kind::Str),
                f(4, "namespace", Kind::Str),
            ],
        )),
    ),
    f(
        3,
        "roleRef",
        Kind::Msg(&m(
            "rbac.v1.RoleRef",
            &[
                f(1, "apiGroup", Kind::Str),
                f(2, "kind", Kind::Str),
                f(3, "name", Kind::Str),
            ],
        )),
    ),
];

const ROLE_BINDING: Message = m("rbac.v1.RoleBinding", BINDING_FIELDS);
const CLUSTER_ROLE_BINDING: Message = m("rbac.v1.ClusterRoleBinding", BINDING_FIELDS);

// ---- k8s.io/api policy/v1

const PDB: Message = m(
    "policy.v1.PodDisruptionBudget",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(
            2,
            "spec",
            Kind::Msg(&m(
                "policy.v1.PodDisruptionBudgetSpec",
                &[
                    f(1, "minAvailable", Kind::IntOrStr),
                    f(2, "selector", Kind::Msg(&LABEL_SELECTOR)),
                    f(3, "maxUnavailable", Kind::IntOrStr),
                    f(4, "unhealthyPodEvictionPolicy", Kind::Str),
                ],
            )),
        ),
        f(
            3,
            "status",
            Kind::Msg(&m(
                "policy.v1.PodDisruptionBudgetStatus",
                &[
                    f(1, "observedGeneration", Kind::I64),
                    f(2, "disruptedPods", Kind::Map(&Kind::Time)),
                    f(3, "disruptionsAllowed", Kind::I32),
                    f(4, "currentHealthy", Kind::I32),
                    f(5, "desiredHealthy", Kind::I32),
                    f(6, "expectedPods", Kind::I32),
                    f(7, "conditions", Kind::RepMsg(&CONDITION)),
                ],
            )),
        ),
    ],
);

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or(Error::Malformed("truncated varint"))?;
            self.buf = rest;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(Error::Malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Malformed("truncated field"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varint()?).map_err(|_| Error::Malformed("length"))?;
        self.take(n)
    }

    /// The next (field number, payload) pair, or None at the end.
    fn field(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => Wire::Bytes(self.bytes()?),
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(Error::Malformed("unsupported wire type")),
        };
        Ok(Some((key >> 3, wire)))
    }
}

#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// fixed32/fixed64: no Kubernetes message these tables cover uses them.
    Fixed,
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::Malformed("invalid UTF-8"))
}

/// Varints carry int32 sign-extended to 64 bits, so both sizes read as i64; an int32 must fit.
fn int32(v: u64) -> Result<i64> {
    let v = v as i64;
    i32::try_from(v)
        .map(i64::from)
        .map_err(|_| Error::Malformed("int32 out of range"))
}

/// meta/v1 Time `{seconds = 1 (int64), nanos = 2 (int32)}`; JSON has whole seconds (RFC 3339).
/// The zero time is sent as an empty message and decodes to None.
fn time(b: &[u8]) -> Result<Option<Value>> {
    if b.is_empty() {
        return Ok(None);
    }
    let mut r = Reader { buf: b };
    let (mut secs, mut nanos) = (0i64, 0i64);
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Varint(v)) => secs = v as i64,
            (2, Wire::Varint(v)) => nanos = int32(v)?,
            _ => return Err(Error::Malformed("unexpected field in meta.v1.Time")),
        }
    }
    let nanos = u32::try_from(nanos).map_err(|_| Error::Malformed("negative nanos"))?;
    let t = chrono::DateTime::from_timestamp(secs, nanos).ok_or(Error::Malformed("time"))?;
    Ok(Some(json!(
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )))
}

/// api/resource Quantity `{string = 1}`: its JSON form is that string.
fn quantity(b: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: b };
    let mut s = String::new();
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(b)) => s = utf8(b)?,
            _ => return Err(Error::Malformed("unexpected field in resource.Quantity")),
        }
    }
    Ok(if s.is_empty() { json!("0") } else { json!(s) })
}

/// util/intstr IntOrString `{type = 1 (0 int, 1 string), intVal = 2, strVal = 3}`.
fn int_or_string(b: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: b };
    let (mut ty, mut int, mut s) = (0u64, 0i64, String::new());
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int = int32(v)?,
            (3, Wire::Bytes(b)) => s = utf8(b)?,
            _ => return Err(Error::Malformed("unexpected field in intstr.IntOrString")),
        }
    }
    match ty {
        0 => Ok(json!(int)),
        1 => Ok(json!(s)),
        _ => Err(Error::Malformed("IntOrString type is neither 0 nor 1")),
    }
}

/// One value of `kind`. `keep_zero` is set for pointer fields and map values, where the zero
/// value means something; None drops the field.
fn value(
    msg: &'static Message,
    fd: &'static Field,
    kind: Kind,
    w: Wire<'_>,
    keep_zero: bool,
) -> Result<Option<Value>> {
    let wrong = || Error::WireType {
        message: msg.name,
        field: fd.num,
        name: fd.name,
    };
    let v = match (kind, w) {
        (Kind::Str, Wire::Bytes(b)) => {
            let s = utf8(b)?;
            (keep_zero || !s.is_empty()).then(|| json!(s))
        }
        (Kind::Bytes, Wire::Bytes(b)) => Some(json!(BASE64.encode(b))),
        (Kind::I32, Wire::Varint(v)) => Some(int32(v)?)
            .filter(|&i| keep_zero || i != 0)
            .map(Value::from),
        (Kind::OptI32, Wire::Varint(v)) => Some(json!(int32(v)?)),
        (Kind::I64, Wire::Varint(v)) => Some(v as i64)
            .filter(|&i| keep_zero || i != 0)
            .map(Value::from),
        (Kind::OptI64, Wire::Varint(v)) => Some(json!(v as i64)),
        (Kind::Bool, Wire::Varint(v)) => (keep_zero || v != 0).then(|| json!(v != 0)),
        (Kind::OptBool, Wire::Varint(v)) => Some(json!(v != 0)),
        (Kind::Time, Wire::Bytes(b)) => time(b)?,
        (Kind::Quantity, Wire::Bytes(b)) => Some(quantity(b)?),
        (Kind::IntOrStr, Wire::Bytes(b)) => Some(int_or_string(b)?),
        (Kind::IntOrStrVal, Wire::Bytes(b)) => {
            Some(int_or_string(b)?).filter(|v| keep_zero || *v != json!(0))
        }
        (Kind::Msg(sub) | Kind::Inline(sub), Wire::Bytes(b)) => Some(message(b, sub)?),
        (
            Kind::Str
            | Kind::Bytes
            | Kind::I32
            | Kind::OptI32
            | Kind::I64
            | Kind::OptI64
            | Kind::Bool
            | Kind::OptBool
            | Kind::Time
            | Kind::Quantity
            | Kind::IntOrStr
            | Kind::IntOrStrVal
            | Kind::Msg(_)
            | Kind::Inline(_)
            | Kind::RepStr
            | Kind::RepMsg(_)
            | Kind::Map(_),
            _,
        ) => return Err(wrong()),
    };
    Ok(v)
}

/// A map entry `{key = 1, value = 2}`.
fn map_entry(
    msg: &'static Message,
    fd: &'static Field,
    kind: Kind,
    b: &[u8],
) -> Result<(String, Value)> {
    let mut r = Reader { buf: b };
    let mut k = String::new();
    // An absent value is the zero value.
    let mut v = match kind {
        Kind::Str | Kind::Bytes => json!(""),
        Kind::Quantity => json!("0"),
        _ => Value::Null,
    };
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(b)) => k = utf8(b)?,
            (2, w) => v = value(msg, fd, kind, w, true)?.unwrap_or(Value::Null),
            _ => return Err(Error::Malformed("unexpected field in a map entry")),
        }
    }
    Ok((k, v))
}

fn message(b: &[u8], msg: &'static Message) -> Result<Value> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, w)) = r.field()? {
        let fd = msg
            .fields
            .iter()
            .find(|f| f.num == num)
            .ok_or(Error::UnknownField {
                message: msg.name,
                field: num,
            })?;
        let name = fd.name.to_string();
        match fd.kind {
            Kind::RepStr => {
                let Wire::Bytes(b) = w else {
                    return Err(Error::WireType {
                        message: msg.name,
                        field: num,
                        name: fd.name,
                    });
                };
                push(&mut out, name, json!(utf8(b)?));
            }
            Kind::RepMsg(sub) => {
                let v = value(msg, fd, Kind::Msg(sub), w, true)?.unwrap_or(Value::Null);
                push(&mut out, name, v);
            }
            Kind::Map(vk) => {
                let Wire::Bytes(b) = w else {
                    return Err(Error::WireType {
                        message: msg.name,
                        field: num,
                        name: fd.name,
                    });
                };
                let (k, v) = map_entry(msg, fd, *vk, b)?;
                let m = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = m.as_object_mut() {
                    m.insert(k, v);
                }
            }
            Kind::Inline(_) => {
                if let Some(Value::Object(o)) = value(msg, fd, fd.kind, w, false)? {
                    out.extend(o);
                }
            }
            Kind::Str
            | Kind::Bytes
            | Kind::I32
            | Kind::OptI32
            | Kind::I64
            | Kind::OptI64
            | Kind::Bool
            | Kind::OptBool
            | Kind::Time
            | Kind::Quantity
            | Kind::IntOrStr
            | Kind::IntOrStrVal
            | Kind::Msg(_) => match value(msg, fd, fd.kind, w, false)? {
                Some(v) => {
                    out.insert(name, v);
                }
                // A later zero overrides an earlier value, as in protobuf (last one wins).
                None => {
                    out.remove(&name);
                }
            },
        }
    }
    Ok(Value::Object(out))
}

fn push(out: &mut Map<String, Value>, name: String, v: Value) {
    let arr = out.entry(name).or_insert_with(|| json!([]));
    if let Some(a) = arr.as_array_mut() {
        a.push(v);
    }
}

/// The table of a top-level kind, by apiVersion and kind.
fn top_level(api_version: &str, kind: &str) -> Option<&'static Message> {
    Some(match (api_version, kind) {
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Pod") => &POD,
        ("v1", "Service") => &SERVICE,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => &ROLE_BINDING,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => &CLUSTER_ROLE_BINDING,
        ("policy/v1", "PodDisruptionBudget") => &PDB,
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => return None,
    })
}

/// Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON object it holds.
pub fn decode(body: &[u8]) -> Result<Value> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or(Error::Malformed("missing the k8s protobuf prefix"))?;
    let mut r = Reader { buf: inner };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    // runtime.Unknown: typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4.
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(tm)) => {
                let mut t = Reader { buf: tm };
                while let Some((n, w)) = t.field()? {
                    match (n, w) {
                        (1, Wire::Bytes(b)) => api_version = utf8(b)?,
                        (2, Wire::Bytes(b)) => kind = utf8(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let msg = top_level(&api_version, &kind)
        .ok_or_else(|| Error::Unsupported(format!("{api_version} {kind}")))?;
    let mut v = message(raw, msg)?;
    if kind != "DeleteOptions" {
        v["apiVersion"] = json!(api_version);
        v["kind"] = json!(kind);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(num: u64, wire: u64) -> Vec<u8> {
        varint((num << 3) | wire)
    }

    fn ld(num: u64, b: &[u8]) -> Vec<u8> {
        let mut v = [key(num, 2), varint(b.len() as u64)].concat();
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn decodes_a_secret() {
        let entry = [ld(1, b"k"), ld(2, b"hi")].concat();
        let labels = [ld(1, b"owner"), ld(2, b"helm")].concat();
        let meta = [ld(1, b"sh.helm.release.v1.r1.v1"), ld(11, &labels)].concat();
        let secret = [ld(1, &meta), ld(2, &entry), ld(3, b"helm.sh/release.v1")].concat();
        let tm = [ld(1, b"v1"), ld(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), ld(1, &tm), ld(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.r1.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["k"], "aGk=");
        assert_eq!(v["type"], "helm.sh/release.v1");
    }
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = vec![];
        loop {
            let b = u8::try_from(v & 0x7f).unwrap();
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn vi(num: u64, v: u64) -> Vec<u8> {
        [key(num, 0), varint(v)].concat()
    }

    fn envelope(api_version: &str, kind: &str, obj: &[u8]) -> Vec<u8> {
        let tm = [ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), ld(1, &tm), ld(2, obj)].concat()
    }

    #[test]
    fn time_is_rfc3339_and_the_zero_time_is_dropped() {
        // 2024-01-02T03:04:05Z with nanos, which JSON's whole seconds drop.
        let t = [vi(1, 1_704_164_645), vi(2, 500)].concat();
        let meta = [ld(1, b"n"), ld(8, &t), ld(9, &[])].concat();
        let v = decode(&envelope("v1", "ConfigMap", &ld(1, &meta))).unwrap();
        assert_eq!(v["metadata"]["creationTimestamp"], "2024-01-02T03:04:05Z");
        assert!(v["metadata"].get("deletionTimestamp").is_none(), "{v}");
        assert_eq!(time(&[]).unwrap(), None);
    }

    #[test]
    fn int_or_string_both_forms_and_pointer_zero() {
        let int = [vi(1, 0), vi(2, 8080), ld(3, b"")].concat();
        let s = [vi(1, 1), vi(2, 0), ld(3, b"https")].concat();
        let zero = [vi(1, 0), vi(2, 0), ld(3, b"")].concat();
        assert_eq!(int_or_string(&int).unwrap(), json!(8080));
        assert_eq!(int_or_string(&s).unwrap(), json!("https"));
        assert!(int_or_string(&[vi(1, 2)].concat()).is_err());
        // targetPort is a value: its zero means unset. minAvailable is a pointer: 0 is kept.
        let port = [ld(1, b"p"), vi(3, 80), ld(4, &zero)].concat();
        let spec = [ld(1, &port)].concat();
        let v = decode(&envelope("v1", "Service", &ld(2, &spec))).unwrap();
        assert!(v["spec"]["ports"][0].get("targetPort").is_none(), "{v}");
        let pdb = [ld(1, &zero)].concat();
        let v = decode(&envelope("policy/v1", "PodDisruptionBudget", &ld(2, &pdb))).unwrap();
        assert_eq!(v["spec"]["minAvailable"], 0);
    }

    #[test]
    fn quantities_in_resource_maps() {
        let cpu = [ld(1, b"cpu"), ld(2, &ld(1, b"500m"))].concat();
        let mem = [ld(1, b"memory"), ld(2, &ld(1, b"1Gi"))].concat();
        let res = [ld(1, &cpu), ld(2, &mem)].concat();
        let c = [ld(1, b"c"), ld(2, b"img"), ld(8, &res)].concat();
        let spec = ld(2, &c);
        let v = decode(&envelope("v1", "Pod", &ld(2, &spec))).unwrap();
        let r = &v["spec"]["containers"][0]["resources"];
        assert_eq!(r["limits"], json!({"cpu": "500m"}));
        assert_eq!(r["requests"], json!({"memory": "1Gi"}));
        assert_eq!(quantity(&[]).unwrap(), json!("0"));
    }

    #[test]
    fn maps_keep_empty_values_and_scalars_follow_pointerness() {
        let l1 = [ld(1, b"a"), ld(2, b"1")].concat();
        let l2 = [ld(1, b"flag"), ld(2, b"")].concat();
        let meta = [ld(1, b"n"), ld(2, b""), vi(7, 0), ld(11, &l1), ld(11, &l2)].concat();
        // JobSpec: backoffLimit (pointer) 0 is kept, suspend (pointer) false too.
        let spec = [vi(7, 0), vi(10, 0), vi(1, 3)].concat();
        let v = decode(&envelope(
            "batch/v1",
            "Job",
            &[ld(1, &meta), ld(2, &spec)].concat(),
        ))
        .unwrap();
        assert_eq!(v["metadata"]["labels"], json!({"a": "1", "flag": ""}));
        assert!(v["metadata"].get("generateName").is_none(), "{v}");
        assert!(v["metadata"].get("generation").is_none(), "{v}");
        assert_eq!(v["spec"]["backoffLimit"], 0);
        assert_eq!(v["spec"]["suspend"], false);
        assert_eq!(v["spec"]["parallelism"], 3);
    }

    #[test]
    fn negative_int32_and_int64() {
        // Negative varints are ten bytes, sign-extended.
        let neg = (-5i64) as u64;
        let spec = [vi(3, neg)].concat();
        let v = decode(&envelope("batch/v1", "Job", &ld(2, &spec))).unwrap();
        assert_eq!(v["spec"]["activeDeadlineSeconds"], -5);
        assert!(int32(1 << 40).is_err());
        assert_eq!(int32(neg).unwrap(), -5);
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        // PodSpec field 18 (affinity) has no table yet.
        let spec = ld(2, &ld(18, b""));
        let job_spec = ld(6, &spec);
        let err = decode(&envelope("batch/v1", "Job", &ld(2, &job_spec))).unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnknownField {
                    message: "core.v1.PodSpec",
                    field: 18
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("field 18 of message core.v1.PodSpec"),
            "{err}"
        );
        let err = decode(&envelope("v1", "Node", &[])).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
    }

    #[test]
    fn a_wrong_wire_type_is_malformed() {
        // ObjectMeta.name as a varint.
        let err = decode(&envelope("v1", "ConfigMap", &ld(1, &vi(1, 7)))).unwrap_err();
        assert!(matches!(err, Error::WireType { field: 1, .. }), "{err}");
    }
}
