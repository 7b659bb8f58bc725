//! AWS's published SigV4 test vectors (aws-sig-v4-test-suite, as kept in awslabs/aws-c-auth
//! `tests/aws-signing-test-suite/v4/*/header-signed-request.txt`), and tampering with each
//! signed part of a Batch request.

use super::*;

const VECTOR_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A request that owns its parts.
#[derive(Clone)]
struct Owned {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Owned {
    fn view(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice()))
                .collect(),
            body: &self.body,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
    }
}

/// Parses the suite's raw HTTP text: request line, `Name:value` lines, blank line, body.
fn parse_vector(text: &str) -> Owned {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.as_bytes().to_vec())
        })
        .collect();
    Owned {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn vector_time() -> Timestamp {
    "2015-08-30T12:36:00Z".parse().unwrap()
}

fn vector_verifier() -> Verifier {
    Verifier {
        service: "service".into(),
        region: "us-east-1".into(),
        max_skew: MAX_SKEW,
    }
}

const VECTORS: &[(&str, &str)] = &[
    (
        "get-vanilla",
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-relative-relative-normalized",
        "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-header-key-duplicate",
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-header-value-trim",
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-vanilla-with-session-token",
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8\nX-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-utf8",
        "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-space-normalized",
        "GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-slashes-normalized",
        "GET //example// HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-vanilla-utf8-query",
        "GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "get-vanilla-empty-query-key",
        "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "post-vanilla-query",
        "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "post-header-value-case",
        "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d\nX-Amz-Date:20150830T123600Z\n\n",
    ),
    (
        "post-x-www-form-urlencoded",
        "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\nX-Amz-Date:20150830T123600Z\n\nParam1=value1",
    ),
];

#[test]
fn aws_test_suite_vectors_verify() {
    let secret = SecretKey::new(VECTOR_KEY);
    for (name, text) in VECTORS {
        let request = parse_vector(text);
        let result = vector_verifier().verify(&request.view(), vector_time(), |id| {
            (id == "AKIDEXAMPLE").then_some(&secret)
        });
        assert_eq!(result, Ok("AKIDEXAMPLE".to_owned()), "{name}");
    }
}

#[test]
fn aws_test_suite_vectors_fail_with_another_secret() {
    let wrong = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
    for (name, text) in VECTORS {
        let request = parse_vector(text);
        let result = vector_verifier().verify(&request.view(), vector_time(), |_| Some(&wrong));
        assert!(
            matches!(result, Err(Error::SignatureMismatch { .. })),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn get_vanilla_canonical_request_and_string_to_sign() {
    let request = parse_vector(VECTORS[0].1);
    let canonical = canonical_request(
        &request.view(),
        &["host".into(), "x-amz-date".into()],
        &sha256_hex(b""),
    )
    .unwrap();
    assert_eq!(
        canonical,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &canonical
        ),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

#[test]
fn canonical_pieces() {
    assert_eq!(canonical_uri("/v1/terminatejob"), "/v1/terminatejob");
    assert_eq!(canonical_uri("/./example"), "/example");
    assert_eq!(canonical_uri("/example/.."), "/");
    // The path as sent is encoded once more (clients double-encode for non-S3 services).
    assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
    assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
    assert_eq!(canonical_query("k=a%2Fb&x"), "k=a%2Fb&x=");
    assert_eq!(canonical_query("k=a b"), "k=a%20b");
    assert_eq!(canonical_value(b"  a   b\t c  "), "a b c");
}

#[test]
fn authorization_header_parses_and_rejects_malformed_ones() {
    let auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/batch/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=abc",
    )
    .unwrap();
    assert_eq!(auth.access_key_id, "AKID");
    assert_eq!(auth.scope(), "20261129/us-east-1/batch/aws4_request");
    assert_eq!(auth.signed_headers, ["content-type", "host", "x-amz-date"]);
    assert_eq!(auth.signature, "abc");
    for bad in [
        "AWS4-HMAC-SHA1 Credential=A/20261129/r/batch/aws4_request, SignedHeaders=host, Signature=a",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=a",
        "AWS4-HMAC-SHA256 Credential=A/20261129/r/batch/aws4_request, Signature=a",
        "AWS4-HMAC-SHA256 Credential=A/20261129/r/batch/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=A/20261129/r/batch, SignedHeaders=host, Signature=a",
        "AWS4-HMAC-SHA256 Credential=A/20261129/r/batch/aws5_request, SignedHeaders=host, Signature=a",
        "AWS4-HMAC-SHA256 Credential=A/20261129/r/batch/aws4_request, SignedHeaders=Host, Signature=a",
        "Bearer abc",
    ] {
        assert!(
            matches!(parse_authorization(bad), Err(Error::Incomplete(_))),
            "{bad}"
        );
    }
}

// --- A Batch request, signed here, then tampered with. ---

const AKID: &str = "AKIDBATCH";
const SECRET: &str = "batch-secret/key+value";

fn now() -> Timestamp {
    "2026-11-29T10:00:00Z".parse().unwrap()
}

fn unsigned(at: Timestamp) -> Owned {
    Owned {
        method: "POST".into(),
        path: "/v1/terminatejob".into(),
        query: String::new(),
        headers: vec![
            ("Host".into(), b"127.0.0.1:8080".to_vec()),
            ("Content-Type".into(), b"application/json".to_vec()),
            (
                "X-Amz-Date".into(),
                at.strftime(AMZ_DATE_FORMAT).to_string().into_bytes(),
            ),
            ("User-Agent".into(), b"test".to_vec()),
        ],
        body: br#"{"jobId":"j-1","reason":"because"}"#.to_vec(),
    }
}

/// Signs with the module's own functions (the vectors above vouch for them).
fn sign(request: &mut Owned, akid: &str, secret: &str, region: &str, service: &str) {
    let signed: Vec<String> = ["content-type", "host", "x-amz-date"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let amz_date = String::from_utf8(
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let date = &amz_date[..8];
    let canonical =
        canonical_request(&request.view(), &signed, &sha256_hex(&request.body)).unwrap();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let key = signing_key(&SecretKey::new(secret), date, region, service);
    let sig = hex::encode(signature(
        &key,
        &string_to_sign(&amz_date, &scope, &canonical),
    ));
    request.set(
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders={}, Signature={sig}",
            signed.join(";")
        ),
    );
}

fn signed_request() -> Owned {
    let mut request = unsigned(now());
    sign(&mut request, AKID, SECRET, "us-east-1", "batch");
    request
}

fn verify(request: &Owned, at: Timestamp) -> Result<String> {
    let secret = SecretKey::new(SECRET);
    Verifier::batch("us-east-1").verify(&request.view(), at, |id| (id == AKID).then_some(&secret))
}

#[test]
fn a_correctly_signed_request_verifies() {
    assert_eq!(verify(&signed_request(), now()), Ok(AKID.to_owned()));
}

#[test]
fn tampering_with_any_signed_part_fails() {
    type Tamper = Box<dyn Fn(&mut Owned)>;
    let cases: Vec<(&str, Tamper)> = vec![
        ("method", Box::new(|r| r.method = "PUT".into())),
        ("path", Box::new(|r| r.path = "/v1/canceljob".into())),
        ("query", Box::new(|r| r.query = "x=1".into())),
        (
            "body",
            Box::new(|r| r.body = br#"{"jobId":"j-2","reason":"because"}"#.to_vec()),
        ),
        ("host", Box::new(|r| r.set("Host", "127.0.0.1:8081"))),
        (
            "content-type",
            Box::new(|r| r.set("Content-Type", "text/plain")),
        ),
        (
            "a repeated signed header",
            Box::new(|r| r.headers.push(("content-type".into(), b"x".to_vec()))),
        ),
        (
            "date, by a second",
            Box::new(|r| r.set("X-Amz-Date", "20261129T100001Z")),
        ),
        (
            "signature",
            Box::new(|r| {
                let auth = String::from_utf8(
                    r.headers
                        .iter()
                        .find(|(n, _)| n == "Authorization")
                        .unwrap()
                        .1
                        .clone(),
                )
                .unwrap();
                let last = auth.chars().last().unwrap();
                let flipped = if last == '0' { '1' } else { '0' };
                r.set(
                    "Authorization",
                    &format!("{}{flipped}", &auth[..auth.len() - 1]),
                );
            }),
        ),
    ];
    for (what, tamper) in cases {
        let mut request = signed_request();
        tamper(&mut request);
        let result = verify(&request, now());
        assert!(
            matches!(result, Err(Error::SignatureMismatch { .. })),
            "{what}: {result:?}"
        );
    }
}

#[test]
fn a_wrong_secret_fails() {
    let mut request = unsigned(now());
    sign(&mut request, AKID, "not-the-secret", "us-east-1", "batch");
    let err = verify(&request, now()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("The request signature we calculated does not match")
    );
}

#[test]
fn unsigned_headers_may_change() {
    let mut request = signed_request();
    request.set("User-Agent", "something else");
    request.headers.push(("X-Extra".into(), b"1".to_vec()));
    assert_eq!(verify(&request, now()), Ok(AKID.to_owned()));
}

#[test]
fn header_names_are_case_insensitive_and_values_canonicalised() {
    let mut request = signed_request();
    // Same header, other spelling of its name and extra blanks around and inside its value.
    request.headers.retain(|(n, _)| n != "Content-Type");
    request
        .headers
        .push(("CONTENT-TYPE".into(), b"  application/json ".to_vec()));
    assert_eq!(verify(&request, now()), Ok(AKID.to_owned()));
}

#[test]
fn clock_skew_is_limited_both_ways() {
    let request = signed_request();
    let minutes = |m| jiff::SignedDuration::from_mins(m);
    assert!(verify(&request, now() + minutes(14)).is_ok());
    assert!(verify(&request, now() - minutes(14)).is_ok());
    let late = verify(&request, now() + minutes(16)).unwrap_err();
    assert_eq!(
        late.to_string(),
        "Signature expired: 20261129T100000Z is now earlier than 20261129T100100Z (20261129T101600Z - 15 min.)"
    );
    let early = verify(&request, now() - minutes(16)).unwrap_err();
    assert_eq!(
        early.to_string(),
        "Signature not yet current: 20261129T100000Z is still later than 20261129T095900Z (20261129T094400Z + 15 min.)"
    );
}

#[test]
fn an_unknown_key_is_unrecognized() {
    let mut request = unsigned(now());
    sign(&mut request, "AKIDUNKNOWN", SECRET, "us-east-1", "batch");
    assert_eq!(verify(&request, now()), Err(Error::UnknownAccessKey));
    assert_eq!(
        Error::UnknownAccessKey.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn another_service_is_refused() {
    let mut request = unsigned(now());
    sign(&mut request, AKID, SECRET, "us-east-1", "s3");
    let err = verify(&request, now()).unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref m) if m.contains("'batch'")),
        "{err:?}"
    );
}

#[test]
fn a_signature_for_another_region_is_refused() {
    let mut request = unsigned(now());
    sign(&mut request, AKID, SECRET, "eu-west-1", "batch");
    let err = verify(&request, now()).unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref m) if m.contains("'eu-west-1'") && m.contains("'us-east-1'")),
        "{err:?}"
    );
}

#[test]
fn a_date_with_unicode_is_incomplete_and_never_panics() {
    // U+3000 (ideographic space, 3 bytes) where a lenient parser (chrono's) skips whitespace: byte
    // 8 of the value falls inside it.
    for date in [
        "202611\u{3000}29T100000Z",
        "20261129\u{3000}T100000Z",
        "2026112\u{e9}T100000Z",
        " 20261129T100000Z",
        "20261129T100000Z ",
        "20261129T1000Z",
        "",
    ] {
        let mut request = signed_request();
        request.set("X-Amz-Date", date);
        assert!(
            matches!(verify(&request, now()), Err(Error::Incomplete(_))),
            "{date:?}"
        );
    }
}

#[test]
fn missing_or_malformed_parts() {
    let mut request = unsigned(now());
    assert_eq!(verify(&request, now()), Err(Error::MissingAuthorization));

    request = signed_request();
    request.headers.retain(|(n, _)| n != "X-Amz-Date");
    assert!(matches!(verify(&request, now()), Err(Error::Incomplete(_))));

    request = signed_request();
    request.set("X-Amz-Date", "2026-11-29T10:00:00Z");
    assert!(matches!(verify(&request, now()), Err(Error::Incomplete(_))));

    // The scope's date must be the request's.
    request = signed_request();
    request.set("X-Amz-Date", "20261130T100000Z");
    let err = verify(&request, now() + jiff::SignedDuration::from_hours(24)).unwrap_err();
    assert!(
        err.to_string().contains("Date in Credential scope"),
        "{err}"
    );

    // Host must be signed.
    request = unsigned(now());
    request.set(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDBATCH/20261129/us-east-1/batch/aws4_request, SignedHeaders=x-amz-date, Signature=00",
    );
    assert!(matches!(verify(&request, now()), Err(Error::Invalid(m)) if m.contains("Host")));

    // A signed header must be present.
    request = unsigned(now());
    request.set(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDBATCH/20261129/us-east-1/batch/aws4_request, SignedHeaders=host;x-amz-date;x-custom, Signature=00",
    );
    assert!(matches!(verify(&request, now()), Err(Error::Invalid(m)) if m.contains("x-custom")));

    // Two Authorization headers.
    request = signed_request();
    let auth = request.headers.last().unwrap().clone();
    request.headers.push(auth);
    assert!(matches!(verify(&request, now()), Err(Error::Incomplete(_))));
}

#[test]
fn a_signed_content_hash_must_match_the_body() {
    let mut request = unsigned(now());
    request.set("x-amz-content-sha256", &sha256_hex(b"something else"));
    let signed: Vec<String> = ["host", "x-amz-content-sha256", "x-amz-date"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let canonical =
        canonical_request(&request.view(), &signed, &sha256_hex(b"something else")).unwrap();
    let scope = "20261129/us-east-1/batch/aws4_request";
    let key = signing_key(&SecretKey::new(SECRET), "20261129", "us-east-1", "batch");
    let sig = hex::encode(signature(
        &key,
        &string_to_sign("20261129T100000Z", scope, &canonical),
    ));
    request.set(
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={}, Signature={sig}",
            signed.join(";")
        ),
    );
    let err = verify(&request, now()).unwrap_err();
    assert!(err.to_string().contains("x-amz-content-sha256"), "{err}");
}

#[test]
fn the_session_token_is_not_in_the_kept_canonical_request() {
    let canonical =
        "GET\n/\n\nhost:h\nx-amz-security-token:TOKEN\n\nhost;x-amz-security-token\nabc";
    let redacted = redact_token(canonical);
    assert!(!redacted.contains("TOKEN"));
    assert!(redacted.contains("x-amz-security-token:<redacted>"));
}

/// Arbitrary input in every header the verifier reads: no panic, whatever comes. 100k cases.
mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// A value that is sometimes near-valid, sometimes any UTF-8, sometimes any bytes.
    fn value(near: &'static str) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(near.as_bytes().to_vec()),
            // A valid value with one character replaced by any character.
            (0..near.len().max(1), any::<char>()).prop_map(move |(at, c)| {
                let mut s: Vec<char> = near.chars().collect();
                if at < s.len() {
                    s[at] = c;
                }
                s.into_iter().collect::<String>().into_bytes()
            }),
            ".{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn authorization() -> impl Strategy<Value = Vec<u8>> {
        let part = "[-a-zA-Z0-9/_;=,. \u{3000}\u{e9}]{0,12}";
        prop_oneof![
            value(
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261129/us-east-1/batch/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00"
            ),
            (part, part, part, part, part, part).prop_map(|(k, d, r, s, h, sig)| {
                format!("AWS4-HMAC-SHA256 Credential={k}/{d}/{r}/{s}/aws4_request, SignedHeaders={h}, Signature={sig}")
                    .into_bytes()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn verify_answers_every_request(
            method in "[A-Z]{0,7}|.{0,3}",
            path in "/[-a-z0-9/%.]{0,20}|.{0,10}",
            query in "[-a-z0-9=&%+]{0,20}|.{0,10}",
            authorization in authorization(),
            date in value("20261129T100000Z"),
            content_hash in value("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            token in value("session"),
            host in value("127.0.0.1:8080"),
            repeat_date in any::<bool>(),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut headers = vec![
                ("Authorization".to_owned(), authorization),
                ("X-Amz-Date".to_owned(), date.clone()),
                ("x-amz-content-sha256".to_owned(), content_hash),
                ("X-Amz-Security-Token".to_owned(), token),
                ("Host".to_owned(), host),
                ("content-type".to_owned(), b"application/json".to_vec()),
            ];
            if repeat_date {
                headers.push(("x-amz-date".to_owned(), date));
            }
            let request = Owned { method, path, query, headers, body };
            let secret = SecretKey::new(SECRET);
            let result = Verifier::batch("us-east-1")
                .verify(&request.view(), now(), |_| Some(&secret));
            // No drawn signature is the right one: every request is refused, none panics.
            prop_assert!(result.is_err(), "{result:?}");
        }

        #[test]
        fn parse_authorization_answers_every_value(value in ".{0,200}") {
            if let Ok(parsed) = parse_authorization(&value) {
                prop_assert!(!parsed.access_key_id.is_empty());
                prop_assert!(parsed.signed_headers.iter().all(|h| !h.is_empty()));
            }
        }
    }
}
