//! The field tables of k8s.io/apimachinery meta/v1 and k8s.io/api core/v1 messages, from
//! Kubernetes 1.33's `generated.proto` (checked against k8s-openapi's types in `tests.rs`).

use super::{Field, Kind, MAP_STR, Message, f, m};

// ---- k8s.io/apimachinery meta/v1

pub(super) const OWNER_REF: Message = m(
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

pub(super) const OBJECT_META: Message = m(
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

pub(super) const LABEL_SELECTOR_REQUIREMENT: Message = m(
    "meta.v1.LabelSelectorRequirement",
    &[
        f(1, "key", Kind::Str),
        f(2, "operator", Kind::Str),
        f(3, "values", Kind::RepStr),
    ],
);

pub(super) const LABEL_SELECTOR: Message = m(
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

pub(super) const CONDITION: Message = m(
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

pub(super) const DELETE_OPTIONS: Message = m(
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

pub(super) const SECRET: Message = m(
    "core.v1.Secret",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "data", Kind::Map(&Kind::Bytes)),
        f(3, "type", Kind::Str),
        f(4, "stringData", MAP_STR),
        f(5, "immutable", Kind::OptBool),
    ],
);

pub(super) const CONFIG_MAP: Message = m(
    "core.v1.ConfigMap",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "data", MAP_STR),
        f(3, "binaryData", Kind::Map(&Kind::Bytes)),
        f(4, "immutable", Kind::OptBool),
    ],
);

pub(super) const NAMESPACE: Message = m(
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

pub(super) const OBJECT_REF: Message = m(
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

pub(super) const LOCAL_OBJECT_REF: Message =
    m("core.v1.LocalObjectReference", &[f(1, "name", Kind::Str)]);

pub(super) const SERVICE_ACCOUNT: Message = m(
    "core.v1.ServiceAccount",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "secrets", Kind::RepMsg(&OBJECT_REF)),
        f(3, "imagePullSecrets", Kind::RepMsg(&LOCAL_OBJECT_REF)),
        f(4, "automountServiceAccountToken", Kind::OptBool),
    ],
);

pub(super) const KEY_SELECTOR_FIELDS: &[Field] = &[
    f(1, "", Kind::Inline(&LOCAL_OBJECT_REF)),
    f(2, "key", Kind::Str),
    f(3, "optional", Kind::OptBool),
];

pub(super) const ENV_VAR_SOURCE: Message = m(
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

pub(super) const ENV_VAR: Message = m(
    "core.v1.EnvVar",
    &[
        f(1, "name", Kind::Str),
        f(2, "value", Kind::Str),
        f(3, "valueFrom", Kind::Msg(&ENV_VAR_SOURCE)),
    ],
);

pub(super) const CONTAINER_PORT: Message = m(
    "core.v1.ContainerPort",
    &[
        f(1, "name", Kind::Str),
        f(2, "hostPort", Kind::I32),
        f(3, "containerPort", Kind::I32),
        f(4, "protocol", Kind::Str),
        f(5, "hostIP", Kind::Str),
    ],
);

pub(super) const RESOURCE_REQUIREMENTS: Message = m(
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

pub(super) const VOLUME_MOUNT: Message = m(
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

pub(super) const CONTAINER: Message = m(
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

pub(super) const POD_SECURITY_CONTEXT: Message = m(
    "core.v1.PodSecurityContext",
    &[
        f(2, "runAsUser", Kind::OptI64),
        f(3, "runAsNonRoot", Kind::OptBool),
        f(5, "fsGroup", Kind::OptI64),
        f(6, "runAsGroup", Kind::OptI64),
    ],
);

pub(super) const TOLERATION: Message = m(
    "core.v1.Toleration",
    &[
        f(1, "key", Kind::Str),
        f(2, "operator", Kind::Str),
        f(3, "value", Kind::Str),
        f(4, "effect", Kind::Str),
        f(5, "tolerationSeconds", Kind::OptI64),
    ],
);

pub(super) const KEY_TO_PATH: Message = m(
    "core.v1.KeyToPath",
    &[
        f(1, "key", Kind::Str),
        f(2, "path", Kind::Str),
        f(3, "mode", Kind::OptI32),
    ],
);

/// The common volume sources; others are refused by field number.
pub(super) const VOLUME_SOURCE: Message = m(
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
pub(super) const VOLUME: Message = m(
    "core.v1.Volume",
    &[
        f(1, "name", Kind::Str),
        f(2, "", Kind::Inline(&VOLUME_SOURCE)),
    ],
);

pub(super) const POD_SPEC: Message = m(
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

pub(super) const POD_TEMPLATE_SPEC: Message = m(
    "core.v1.PodTemplateSpec",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "spec", Kind::Msg(&POD_SPEC)),
    ],
);

pub(super) const POD_CONDITION: Message = m(
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

pub(super) const POD: Message = m(
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

pub(super) const SERVICE_PORT: Message = m(
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

pub(super) const SERVICE: Message = m(
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
