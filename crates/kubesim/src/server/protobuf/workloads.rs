//! The field tables of k8s.io/api batch/v1, apps/v1, rbac/v1 and policy/v1 messages, from
//! Kubernetes 1.33's `generated.proto` (checked against k8s-openapi's types in `tests.rs`).

use super::core_v1::{CONDITION, LABEL_SELECTOR, OBJECT_META, OBJECT_REF, POD_TEMPLATE_SPEC};
use super::{Field, Kind, Message, f, m};

// ---- k8s.io/api batch/v1

pub(super) const JOB_SPEC: Message = m(
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

pub(super) const JOB_CONDITION: Message = m(
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

pub(super) const JOB: Message = m(
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

pub(super) const CRON_JOB: Message = m(
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

pub(super) const DEPLOYMENT: Message = m(
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

pub(super) const POLICY_RULE: Message = m(
    "rbac.v1.PolicyRule",
    &[
        f(1, "verbs", Kind::RepStr),
        f(2, "apiGroups", Kind::RepStr),
        f(3, "resources", Kind::RepStr),
        f(4, "resourceNames", Kind::RepStr),
        f(5, "nonResourceURLs", Kind::RepStr),
    ],
);

pub(super) const ROLE: Message = m(
    "rbac.v1.Role",
    &[
        f(1, "metadata", Kind::Msg(&OBJECT_META)),
        f(2, "rules", Kind::RepMsg(&POLICY_RULE)),
    ],
);

pub(super) const CLUSTER_ROLE: Message = m(
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

pub(super) const BINDING_FIELDS: &[Field] = &[
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

pub(super) const ROLE_BINDING: Message = m("rbac.v1.RoleBinding", BINDING_FIELDS);
pub(super) const CLUSTER_ROLE_BINDING: Message = m("rbac.v1.ClusterRoleBinding", BINDING_FIELDS);

// ---- k8s.io/api policy/v1

pub(super) const PDB: Message = m(
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
