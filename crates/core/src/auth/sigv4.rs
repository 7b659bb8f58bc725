//! AWS Signature Version 4, verified on the server side.
//!
//! The canonical request follows AWS's specification: the path normalised and URI-encoded
//! once more (clients sign the path they send, encoded twice over its decoded form), the query
//! decoded, re-encoded and sorted, exactly the headers named in `SignedHeaders` with trimmed
//! and collapsed values, and the SHA-256 of the body, computed here since Batch clients send
//! no `x-amz-content-sha256`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::SecretKey;

/// The only algorithm SigV4 has.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `X-Amz-Date`'s format: ISO 8601 basic, UTC.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// The credential scope's date.
const SCOPE_DATE_FORMAT: &str = "%Y%m%d";
/// AWS's limit on clock skew, both ways.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a request is not authenticated. `Display` is the message the client sees, in AWS's
/// words where AWS has them. No variant holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthorization,
    /// A malformed `Authorization` header, or no `X-Amz-Date`.
    #[error("{0}")]
    Incomplete(String),
    /// The access key ID is not in the credentials file.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The signature does not match. The canonical request is kept for debug logs.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch {
        canonical_request: String,
        string_to_sign: String,
    },
    /// A well-formed but unacceptable request: stale or future date, wrong service, a scope
    /// date that is not the request's, a content hash that does not match the body.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request as received, without any HTTP framework's types.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The path as on the request line, still percent-encoded.
    pub path: &'a str,
    /// The query string without `?`, still percent-encoded; empty when there is none.
    pub query: &'a str,
    /// Every header in the order received, repeated names repeated. Names in any case.
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The only value of a header; `Err` when it is repeated.
    fn single(&self, name: &str) -> Result<Option<&'a str>, ()> {
        let mut values = self.values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(());
        }
        match first {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v).map(Some).map_err(|_| ()),
        }
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercase names, as listed.
    pub signed_headers: Vec<String>,
    /// Hex, as sent.
    pub signature: String,
}

impl Authorization {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization> {
    let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'; only {ALGORITHM} is supported."
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, found) in [
        ("Credential", credential.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
        ("Signature", signature.is_some()),
    ] {
        if !found {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(Error::Incomplete(format!(
            "{} Authorization={value}",
            missing.join(" ")
        )));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if terminator != "aws4_request" || access_key_id.is_empty() {
        return Err(Error::Incomplete(format!(
            "Credential should be of the form keyid/date/region/service/aws4_request, got '{credential}'"
        )));
    }
    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if signed_headers
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(Error::Incomplete(format!(
            "SignedHeaders must be lowercase header names separated by ';', got '{}'",
            signed_headers.join(";")
        )));
    }
    Ok(Authorization {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// URI-encodes every byte but the unreserved ones (`A-Za-z0-9-._~`), as SigV4 wants.
pub fn uri_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX`; anything else (including a stray `%`) is kept as it is.
fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The canonical URI: `.` and `..` segments resolved, empty segments dropped, a trailing
/// slash kept, each segment URI-encoded.
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(
        &segments
            .iter()
            .map(|s| uri_encode(s.as_bytes()))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical query string: each name and value decoded, encoded again, sorted.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(name)),
                uri_encode(&percent_decode(value)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value trimmed, with runs of spaces collapsed to one.
fn canonical_value(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request for the headers named in `signed_headers`.
pub fn canonical_request(
    request: &HttpRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String> {
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = request.values(name).map(canonical_value).collect();
        if values.is_empty() {
            return Err(Error::Invalid(format!(
                "The header '{name}' is listed in SignedHeaders but absent from the request."
            )));
        }
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri(request.path),
        canonical_query(request.query),
        headers,
        signed_headers.join(";"),
        payload_hash
    ))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `kSigning`: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(
        format!("AWS4{}", secret.expose()).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The signature's raw bytes.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac(key, string_to_sign.as_bytes())
}

/// `X-Amz-Date` exactly as AWS writes it: 16 ASCII characters, `YYYYMMDDTHHMMSSZ`. A parser
/// alone may be lenient (chrono's skipped whitespace), so the value must also be what
/// formatting the parsed date gives back.
fn parse_amz_date(amz_date: &str) -> Result<Timestamp> {
    let invalid = || {
        Error::Incomplete(format!(
            "X-Amz-Date must be in ISO 8601 basic format (YYYYMMDDTHHMMSSZ), got '{}'.",
            amz_date.escape_debug()
        ))
    };
    let date = civil::DateTime::strptime(AMZ_DATE_FORMAT, amz_date)
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .map_err(|_| invalid())?
        .timestamp();
    if date.strftime(AMZ_DATE_FORMAT).to_string() != amz_date {
        return Err(invalid());
    }
    Ok(date)
}

/// Checks SigV4 on requests for one service in one region.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub service: String,
    /// The region a credential scope must name (`--region`).
    pub region: String,
    pub max_skew: Duration,
}

impl Verifier {
    /// Service `batch` in `region`, 15 minutes of skew.
    pub fn batch(region: impl Into<String>) -> Verifier {
        Verifier {
            service: "batch".to_owned(),
            region: region.into(),
            max_skew: MAX_SKEW,
        }
    }

    /// Verifies `request` at time `now`; `secret_of` finds an access key's secret. Returns the
    /// access key ID.
    pub fn verify<'k>(
        &self,
        request: &HttpRequest<'_>,
        now: Timestamp,
        secret_of: impl FnOnce(&str) -> Option<&'k SecretKey>,
    ) -> Result<String> {
        let header = request
            .single("authorization")
            .map_err(|()| Error::Incomplete("Exactly one Authorization header is allowed.".into()))?
            .ok_or(Error::MissingAuthorization)?;
        let auth = parse_authorization(header)?;
        let amz_date = request
            .single("x-amz-date")
            .map_err(|()| Error::Incomplete("Exactly one X-Amz-Date header is allowed.".into()))?
            .ok_or_else(|| {
                Error::Incomplete(
                    "Authorization header requires existence of a 'X-Amz-Date' header.".into(),
                )
            })?;
        let date = parse_amz_date(amz_date)?;
        if auth.service != self.service {
            return Err(Error::Invalid(format!(
                "Credential should be scoped to correct service: '{}'. ",
                self.service
            )));
        }
        // AWS answers a signature for another region the same way: the scope is part of what
        // was signed, so a key signed for one region must not work against another.
        if auth.region != self.region {
            return Err(Error::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. This endpoint's region is '{}'.",
                auth.region, self.region
            )));
        }
        let day = date.strftime(SCOPE_DATE_FORMAT).to_string();
        if auth.date != day {
            return Err(Error::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{day}', from '{amz_date}'.",
                auth.date,
            )));
        }
        if !auth.signed_headers.iter().any(|h| h == "host") {
            return Err(Error::Invalid(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        let secret = secret_of(&auth.access_key_id).ok_or(Error::UnknownAccessKey)?;
        self.check_date(date, now)?;

        let body_hash = sha256_hex(request.body);
        if auth
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-content-sha256")
        {
            let sent = request.single("x-amz-content-sha256").ok().flatten();
            if sent != Some(body_hash.as_str()) {
                return Err(Error::Invalid(
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
                ));
            }
        }
        let canonical = canonical_request(request, &auth.signed_headers, &body_hash)?;
        let to_sign = string_to_sign(amz_date, &auth.scope(), &canonical);
        let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
        let expected = signature(&key, &to_sign);
        let provided = hex::decode(&auth.signature).unwrap_or_default();
        // Constant time: the comparison must not tell how many leading bytes matched.
        if provided.len() == expected.len() && bool::from(expected.ct_eq(&provided[..])) {
            Ok(auth.access_key_id)
        } else {
            Err(Error::SignatureMismatch {
                canonical_request: redact_token(&canonical),
                string_to_sign: to_sign,
            })
        }
    }

    fn check_date(&self, date: Timestamp, now: Timestamp) -> Result<()> {
        let skew = SignedDuration::try_from(self.max_skew).unwrap_or(SignedDuration::MAX);
        let earliest = now.checked_sub(skew).unwrap_or(Timestamp::MIN);
        let latest = now.checked_add(skew).unwrap_or(Timestamp::MAX);
        let minutes = self.max_skew.as_secs() / 60;
        let fmt = |t: Timestamp| t.strftime(AMZ_DATE_FORMAT).to_string();
        if date < earliest {
            return Err(Error::Invalid(format!(
                "Signature expired: {} is now earlier than {} ({} - {minutes} min.)",
                fmt(date),
                fmt(earliest),
                fmt(now)
            )));
        }
        if date > latest {
            return Err(Error::Invalid(format!(
                "Signature not yet current: {} is still later than {} ({} + {minutes} min.)",
                fmt(date),
                fmt(latest),
                fmt(now)
            )));
        }
        Ok(())
    }
}

/// The canonical request for a debug log, without the session token's value.
fn redact_token(canonical: &str) -> String {
    canonical
        .lines()
        .map(|line| {
            if line.starts_with("x-amz-security-token:") {
                "x-amz-security-token:<redacted>"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
