//! What the gate reads from a request: the client's address, cookies, a presented API key, whether
//! it comes from another site, whether it wants a page, and a form's CSRF field.

use super::*;

pub(super) fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address and whether it came over HTTPS: the peer, unless the peer is a trusted
/// proxy, whose `X-Forwarded-*` headers then say.
pub(super) fn client(req: &Request, config: &AuthConfig) -> (IpAddr, bool) {
    // As axum's `ConnectInfo` extractor: the connection's, or the one a test set.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|m| m.0)
        })
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if !config.trusted_proxies.contains(&peer) {
        return (peer, config.tls);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    // The rightmost address no trusted proxy added is the client.
    let addr = forwarded
        .iter()
        .rev()
        .find(|a| !config.trusted_proxies.contains(a))
        .copied()
        .unwrap_or(peer);
    let https = config.tls
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    (addr, https)
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The API key a request carries: `Authorization: Bearer KEY` (or LANraragi's base64 of the key),
/// or, on the LANraragi-compatible routes only, `?key=KEY`.
pub(super) fn presented_key(req: &Request) -> Option<String> {
    let decode = |s: &str| -> String {
        let s = s.trim();
        if s.starts_with("lp_") {
            return s.to_string();
        }
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|k| k.starts_with("lp_"))
            .unwrap_or_else(|| s.to_string())
    };
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| decode(token));
    }
    let path = req.uri().path();
    if path.starts_with("/api/") && !path.starts_with("/api/v1/") {
        return req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "key")
                .map(|(_, v)| decode(&percent_decode(v)))
        });
    }
    None
}

pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a request was sent from another site: its `Origin` names another host, or the browser
/// says so in `Sec-Fetch-Site`.
pub(super) fn cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    !origin_host.eq_ignore_ascii_case(host)
}

/// Reads a small urlencoded form body for its CSRF field, and puts the body back.
pub(super) async fn form_csrf(req: Request) -> Result<(Request, Option<String>), ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 10)
        .await
        .map_err(|_| ApiError::BadRequest("a form may be at most 64 KB".into()))?;
    let token = std::str::from_utf8(&bytes).ok().and_then(|s| {
        s.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == CSRF_FIELD)
            .map(|(_, v)| percent_decode(v))
    });
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// Whether the client asks for HTML first (a browser's navigation or form post does).
pub(super) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Whether two secrets are equal, comparing every byte whatever the first difference.
pub(super) fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
