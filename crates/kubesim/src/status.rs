//! `metav1.Status`: the one error type of the API layer (store and server), rendered as the
//! JSON body every Kubernetes client expects.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `metav1.StatusReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    UnsupportedMediaType,
    NotAcceptable,
    Invalid,
    InternalError,
    Timeout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Gone => "Gone",
            Reason::Expired => "Expired",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::Invalid => "Invalid",
            Reason::InternalError => "InternalError",
            Reason::Timeout => "Timeout",
        }
    }

    /// The HTTP code Kubernetes pairs with the reason.
    pub fn code(self) -> u16 {
        match self {
            Reason::BadRequest => 400,
            Reason::Forbidden => 403,
            Reason::NotFound => 404,
            Reason::MethodNotAllowed => 405,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Gone | Reason::Expired => 410,
            Reason::UnsupportedMediaType => 415,
            Reason::NotAcceptable => 406,
            Reason::Invalid => 422,
            Reason::InternalError => 500,
            Reason::Timeout => 504,
        }
    }
}

/// A `metav1.StatusCause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl From<crate::schema::Cause> for Cause {
    fn from(c: crate::schema::Cause) -> Self {
        Cause {
            reason: c.reason,
            message: c.message,
            field: c.field,
        }
    }
}

/// `metav1.StatusDetails`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub name: String,
    pub group: String,
    /// The resource (plural) or kind, as Kubernetes puts it.
    pub kind: String,
    pub uid: String,
    pub causes: Vec<Cause>,
}

/// An API error: a failed `metav1.Status`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason:?} ({code}): {message}")]
pub struct Error {
    pub reason: Reason,
    pub code: u16,
    pub message: String,
    pub details: Option<Box<Details>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `jobs.batch`, `pods`: the "qualified resource" Kubernetes puts in messages.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl Error {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Error {
            reason,
            code: reason.code(),
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Details) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    fn resource_details(group: &str, resource: &str, name: &str) -> Details {
        Details {
            name: name.to_string(),
            group: group.to_string(),
            kind: resource.to_string(),
            ..Details::default()
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Reason::InternalError, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(Reason::MethodNotAllowed, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(Reason::UnsupportedMediaType, message)
    }

    /// `jobs.batch "x" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            Reason::NotFound,
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(Self::resource_details(group, resource, name))
    }

    /// A path that serves nothing.
    pub fn path_not_found() -> Self {
        Self::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
        .with_details(Details::default())
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            Reason::AlreadyExists,
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(Self::resource_details(group, resource, name))
    }

    /// `Operation cannot be fulfilled on jobs.batch "x": <why>`.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            Reason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
        .with_details(Self::resource_details(group, resource, name))
    }

    /// The optimistic-concurrency conflict.
    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with causes; `kind` is the object's Kind.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect::<Vec<_>>();
        let joined = match list.len() {
            0 => String::new(),
            1 => list[0].clone(),
            _ => format!("[{}]", list.join(", ")),
        };
        let gk = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        Self::new(
            Reason::Invalid,
            format!("{gk} \"{name}\" is invalid: {joined}"),
        )
        .with_details(Details {
            name: name.to_string(),
            group: group.to_string(),
            kind: kind.to_string(),
            uid: String::new(),
            causes,
        })
    }

    /// 410 Expired, as a watch from a compacted resourceVersion gets it.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(Reason::Expired, message)
    }

    /// 504 for a resourceVersion the server has not reached (`storage.NewTooLargeResourceVersionError`).
    pub fn too_large_resource_version(wanted: u64, current: u64) -> Self {
        Self::new(
            Reason::Timeout,
            format!("Too large resource version: {wanted}, current: {current}"),
        )
        .with_details(Details {
            causes: vec![Cause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            }],
            ..Details::default()
        })
    }

    /// The `metav1.Status` JSON.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code,
        });
        if let Some(d) = &self.details {
            let mut det = serde_json::Map::new();
            if !d.name.is_empty() {
                det.insert("name".into(), json!(d.name));
            }
            if !d.group.is_empty() {
                det.insert("group".into(), json!(d.group));
            }
            if !d.kind.is_empty() {
                det.insert("kind".into(), json!(d.kind));
            }
            if !d.uid.is_empty() {
                det.insert("uid".into(), json!(d.uid));
            }
            if !d.causes.is_empty() {
                let causes = d
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect::<Vec<_>>();
                det.insert("causes".into(), Value::Array(causes));
            }
            v["details"] = Value::Object(det);
        }
        v
    }
}

/// A successful `metav1.Status`, as a DELETE of an object that is gone returns.
pub fn success(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    if !uid.is_empty() {
        details["uid"] = json!(uid);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_status().to_string();
        let mut resp = (code, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_carries_causes() {
        let e = Error::invalid(
            "batch",
            "Job",
            "x",
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.template".into(),
            }],
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(
            s["message"],
            "Job.batch \"x\" is invalid: spec.template: Required value"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "spec.template");
    }

    #[test]
    fn not_found_message_is_qualified() {
        let s = Error::not_found("batch", "jobs", "a").to_status();
        assert_eq!(s["message"], "jobs.batch \"a\" not found");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "jobs");
    }
}
