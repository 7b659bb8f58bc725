//! Label selectors: requirements, `labels.Parse` and matching (apimachinery labels/selector.go).

mod parse;

use serde_json::Value;

use super::{Error, Result, is_qualified_name, is_valid_label_value, scalar_string};

/// The operator of one label requirement (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One requirement of a label selector, e.g. `tier in (a,b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Sorted and deduplicated, as apimachinery keeps them.
    pub values: Vec<String>,
}

impl Requirement {
    /// Validates as apimachinery's `NewRequirement` does.
    pub fn new(key: &str, operator: Operator, mut values: Vec<String>) -> Result<Self> {
        values.sort();
        values.dedup();
        let mut errs = Vec::new();
        if let Some(e) = validate_label_key(key, "key") {
            errs.push(e);
        }
        let values_path = "values";
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(format!(
                        "{values_path}: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(format!(
                        "{values_path}: Invalid value: {}: exact-match compatibility requires one single value",
                        go_string_list(&values)
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(format!(
                        "{values_path}: Invalid value: {}: values set must be empty for exists and does not exist",
                        go_string_list(&values)
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "{values_path}: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required",
                        go_string_list(&values)
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "{values_path}[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let problems = is_valid_label_value(v);
            if !problems.is_empty() {
                errs.push(format!(
                    "{values_path}[{i}][{key}]: Invalid value: {v:?}: {}",
                    problems.join("; ")
                ));
            }
        }
        if !errs.is_empty() {
            return Err(Error::Parse(aggregate(&errs)));
        }
        Ok(Self {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// Whether `labels` (a `metadata.labels` object, or null) satisfies the requirement.
    pub fn matches_labels(&self, labels: &Value) -> bool {
        let value = labels.get(&self.key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => scalar_string(other),
        });
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.contains(&v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.contains(&v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(want) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                match self.operator {
                    Operator::GreaterThan => have > want,
                    _ => have < want,
                }
            }
        }
    }
}

/// A parsed `labelSelector` query parameter (or a `metav1.LabelSelector`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// A `metav1.LabelSelector` can select nothing (`null`); a parsed string never does.
    nothing: bool,
}

impl LabelSelector {
    /// Parses as apimachinery's `labels.Parse`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut requirements = parse::requirements(s)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// From a `metav1.LabelSelector` JSON object (`matchLabels`, `matchExpressions`), as
    /// `metav1.LabelSelectorAsSelector`: `null` selects nothing, `{}` selects everything.
    pub fn from_label_selector(selector: &Value) -> Result<Self> {
        if selector.is_null() {
            return Ok(Self {
                requirements: Vec::new(),
                nothing: true,
            });
        }
        let mut requirements = Vec::new();
        if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                let v = v.as_str().unwrap_or_default().to_string();
                requirements.push(Requirement::new(k, Operator::Equals, vec![v])?);
            }
        }
        if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
                let op = match e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(Error::Parse(format!(
                            "{other:?} is not a valid label selector operator"
                        )));
                    }
                };
                let values = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .map(|v| v.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                requirements.push(Requirement::new(key, op, values)?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Selects every object.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// A requirement that only some values of one key satisfy (`k=v`, `k==v`, `k in (..)`):
    /// the key and those values, for a lookup in a label index. None when every requirement
    /// can match objects without the key or with any value.
    pub fn indexed_values(&self) -> Option<(&str, &[String])> {
        self.requirements
            .iter()
            .filter(|r| {
                matches!(
                    r.operator,
                    Operator::Equals | Operator::DoubleEquals | Operator::In
                )
            })
            .min_by_key(|r| r.values.len())
            .map(|r| (r.key.as_str(), r.values.as_slice()))
    }

    /// Matches against `object.metadata.labels`.
    pub fn matches(&self, object: &Value) -> bool {
        self.matches_labels(&object["metadata"]["labels"])
    }

    /// Matches against a labels map directly (e.g. a pod template's labels).
    pub fn matches_labels(&self, labels: &Value) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches_labels(labels))
    }
}

/// `validateLabelKey`: a field.Invalid error string, or None.
fn validate_label_key(key: &str, path: &str) -> Option<String> {
    let problems = is_qualified_name(key);
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "{path}: Invalid value: {key:?}: {}",
            problems.join("; ")
        ))
    }
}

/// `utilerrors.Aggregate` formatting.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Go's `%#v`-ish rendering of a []string bad value, close enough for messages.
fn go_string_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}
