//! Label and field selectors, parsed and matched as the Kubernetes API server does
//! (apimachinery `labels.Parse` and `fields.ParseSelector`, the registries' selectable fields).

mod validation;

use serde_json::Value;

pub use validation::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message is the one apimachinery gives, e.g.
    /// `unable to parse requirement: found '(', expected: identifier`.
    #[error("{0}")]
    Parse(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
        let tokens = lex(s);
        let mut p = Parser { tokens, pos: 0 };
        let mut requirements = p.parse()?;
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

// ---- label selector lexer and parser (apimachinery labels/selector.go) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Identifier,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    GreaterThan,
    LessThan,
    EndOfString,
    Error,
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        if is_special(c) {
            // Longest match among the operators.
            let start = i;
            while i < chars.len() && is_special(chars[i]) {
                let candidate: String = chars[start..=i].iter().collect();
                if !matches!(
                    candidate.as_str(),
                    "!" | "!=" | "=" | "==" | "(" | ")" | "," | ">" | "<"
                ) {
                    break;
                }
                i += 1;
            }
            if i == start {
                // Not reachable: every special char alone is an operator.
                i += 1;
            }
            let lit: String = chars[start..i].iter().collect();
            let tok = match lit.as_str() {
                "!" => Tok::DoesNotExist,
                "!=" => Tok::NotEquals,
                "=" => Tok::Equals,
                "==" => Tok::DoubleEquals,
                "(" => Tok::OpenPar,
                ")" => Tok::ClosedPar,
                "," => Tok::Comma,
                ">" => Tok::GreaterThan,
                "<" => Tok::LessThan,
                _ => Tok::Error,
            };
            out.push((tok, lit));
            continue;
        }
        let start = i;
        while i < chars.len() && !is_space(chars[i]) && !is_special(chars[i]) {
            i += 1;
        }
        let lit: String = chars[start..i].iter().collect();
        let tok = match lit.as_str() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        out.push((tok, lit));
    }
    out.push((Tok::EndOfString, String::new()));
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .tokens
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::EndOfString, String::new()));
        let tok = match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            (_, t) => t,
        };
        (tok, lit)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let r = self.lookahead(ctx);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        Error::Parse(format!("unable to parse requirement: {}", e.message()))
                    })?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::EndOfString => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(Error::Parse(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(Error::Parse(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Tok::EndOfString => return Ok(reqs),
                _ => {
                    return Err(Error::Parse(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op) = op {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            Operator::Equals
            | Operator::DoubleEquals
            | Operator::NotEquals
            | Operator::GreaterThan
            | Operator::LessThan => self.parse_exact_value()?,
            Operator::Exists | Operator::DoesNotExist => Vec::new(),
        };
        Requirement::new(&key, op, values)
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator follows.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>)> {
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        let mut negated = false;
        if tok == Tok::DoesNotExist {
            negated = true;
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(Error::Parse(format!("found '{lit}', expected: identifier")));
        }
        if let Some(e) = validate_label_key(&lit, "") {
            return Err(Error::Parse(e));
        }
        if negated {
            return Ok((lit, Some(Operator::DoesNotExist)));
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if t == Tok::EndOfString || t == Tok::Comma {
            return Ok((lit, Some(Operator::Exists)));
        }
        Ok((lit, None))
    }

    fn parse_operator(&mut self) -> Result<Operator> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        match tok {
            Tok::In => Ok(Operator::In),
            Tok::Equals => Ok(Operator::Equals),
            Tok::DoubleEquals => Ok(Operator::DoubleEquals),
            Tok::GreaterThan => Ok(Operator::GreaterThan),
            Tok::LessThan => Ok(Operator::LessThan),
            Tok::NotIn => Ok(Operator::NotIn),
            Tok::NotEquals => Ok(Operator::NotEquals),
            Tok::Identifier
            | Tok::DoesNotExist
            | Tok::OpenPar
            | Tok::ClosedPar
            | Tok::Comma
            | Tok::EndOfString
            | Tok::Error => Err(Error::Parse(format!(
                "found '{lit}', expected: {BINARY_OPERATORS}"
            ))),
        }
    }

    fn parse_values(&mut self) -> Result<Vec<String>> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(Error::Parse(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, l) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(Error::Parse(format!("found '{l}', expected: ')'")));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(Error::Parse(format!(
                "found '{lit}', expected: ',', ')' or identifier"
            ))),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => {
                            return Err(Error::Parse(format!(
                                "found '{l2}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                Tok::Comma => {
                    // `(,a`, `a,)` and `a,,b` each carry an empty value.
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        s.push(String::new());
                    }
                }
                _ => {
                    return Err(Error::Parse(format!(
                        "found '{lit}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::EndOfString || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(Error::Parse(format!("found '{lit}', expected: identifier")))
    }
}

impl Error {
    fn message(&self) -> String {
        match self {
            Error::Parse(m) => m.clone(),
            Error::UnsupportedField(f) => format!("field label not supported: {f}"),
        }
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

fn scalar_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

// ---- field selectors (apimachinery fields/selector.go) ----

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRequirement {
    /// The field as the client wrote it, e.g. `regarding.name`.
    pub field: String,
    /// Whether the term is `!=`.
    pub negated: bool,
    /// The unescaped value.
    pub value: String,
}

/// A parsed `fieldSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses as apimachinery's `fields.ParseSelector`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(Error::Parse(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                negated: op == "!=",
                value,
            });
        }
        Ok(Self { terms })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The name when the selector pins `metadata.name=X` (kubectl/helm waits use this).
    pub fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.negated && t.field == "metadata.name")
            .map(|t| t.value.as_str())
    }

    /// Rejects fields Kubernetes does not support for `group`/`resource` (plural), as a 400 would.
    pub fn check_supported(&self, group: &str, resource: &str) -> Result<()> {
        let supported = supported_fields(group, resource);
        for t in &self.terms {
            let ok = t.field == "metadata.name"
                || t.field == "metadata.namespace"
                || supported.contains(&t.field.as_str());
            if !ok {
                return Err(Error::UnsupportedField(t.field.clone()));
            }
        }
        Ok(())
    }

    /// Evaluates on the stored JSON object. A missing field reads as `""`; booleans and
    /// numbers compare as their string form. Fields whose value the API server computes
    /// (a pod's `spec.hostNetwork`, a job's `status.successful`, an event's `source`, the
    /// events.k8s.io names) are computed the same way.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| {
            let have = field_value(object, &t.field);
            (have == t.value) != t.negated
        })
    }
}

/// The fields beyond `metadata.name`/`metadata.namespace` that Kubernetes 1.33 accepts in a
/// field selector for `group`/`resource`.
pub fn supported_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
            // Old v1 clients' name for spec.nodeName.
            "spec.host",
        ],
        ("", "events") | ("events.k8s.io", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

/// The value the API server's selectable-fields set would hold for `field`.
fn field_value(object: &Value, field: &str) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match field {
        "spec.host" => path_string(object, "spec.nodeName"),
        "spec.hostNetwork" | "spec.unschedulable" => {
            let v = path_value(object, field);
            match v {
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => scalar_string(other),
                None => "false".to_string(),
            }
        }
        "status.successful" if kind == "Job" || kind.is_empty() => {
            match path_value(object, "status.succeeded") {
                Some(v) if !v.is_null() => scalar_string(v),
                _ => "0".to_string(),
            }
        }
        "status.podIP" if kind == "Pod" || kind.is_empty() => {
            match path_value(object, "status.podIPs.0.ip") {
                Some(v) => scalar_string(v),
                None => path_string(object, "status.podIP"),
            }
        }
        // The API server's field set has no such key, so it always reads "".
        "status.podIPs" => String::new(),
        "reportingComponent" | "reportingController" => {
            first_nonempty(object, &["reportingComponent", "reportingController"])
        }
        "source" => {
            let s = first_nonempty(object, &["source.component", "deprecatedSource.component"]);
            if s.is_empty() {
                first_nonempty(object, &["reportingComponent", "reportingController"])
            } else {
                s
            }
        }
        _ => {
            if let Some(rest) = field
                .strip_prefix("involvedObject.")
                .or_else(|| field.strip_prefix("regarding."))
            {
                return first_nonempty(
                    object,
                    &[
                        &format!("involvedObject.{rest}"),
                        &format!("regarding.{rest}"),
                    ],
                );
            }
            path_string(object, field)
        }
    }
}

fn first_nonempty(object: &Value, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| path_string(object, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

fn path_value<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = object;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => return None,
        };
    }
    Some(cur)
}

fn path_string(object: &Value, path: &str) -> String {
    path_value(object, path)
        .map(scalar_string)
        .unwrap_or_default()
}

/// Splits on commas not escaped by a backslash; the backslashes stay.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator occurrence splits the term; the left side has no escaping.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(Error::Parse(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(Error::Parse(format!(
                    "invalid field selector: unescaped character in value: {c}"
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(Error::Parse(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Escapes a value for use in a field selector (`fields.EscapeValue`).
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
