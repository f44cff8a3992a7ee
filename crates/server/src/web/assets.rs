//! The web app's assets: embedded in the binary, served under content-hashed names (cached
//! forever) and gzipped when the client takes it; the manifest and the service worker.

use super::*;

// ---- Assets -------------------------------------------------------------------------------------

/// An embedded asset: its bytes (and gzipped bytes, where that is smaller), type, and
/// content-hashed name.
pub(super) struct Asset {
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
    gzip: Option<bytes::Bytes>,
}

pub(super) fn assets() -> &'static BTreeMap<&'static str, Asset> {
    static ASSETS: OnceLock<BTreeMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        const JS: &str = "text/javascript; charset=utf-8";
        let list: [(&str, &str, &[u8]); 8] = [
            (
                "app.css",
                "text/css; charset=utf-8",
                include_bytes!("../../assets/app.css"),
            ),
            ("app.js", JS, include_bytes!("../../assets/app.js")),
            ("reader.js", JS, include_bytes!("../../assets/reader.js")),
            ("gallery.js", JS, include_bytes!("../../assets/gallery.js")),
            ("manage.js", JS, include_bytes!("../../assets/manage.js")),
            (
                "icon.svg",
                "image/svg+xml",
                include_bytes!("../../assets/icon.svg"),
            ),
            (
                "icon-192.png",
                "image/png",
                include_bytes!("../../assets/icon-192.png"),
            ),
            (
                "icon-512.png",
                "image/png",
                include_bytes!("../../assets/icon-512.png"),
            ),
        ];
        list.into_iter()
            .map(|(logical, content_type, bytes)| {
                let hash = blake3::hash(bytes).to_hex();
                let (stem, ext) = logical.rsplit_once('.').unwrap_or((logical, ""));
                let name = format!("{stem}.{}.{ext}", &hash[..12]);
                let gzip = Some(gzip(bytes))
                    .filter(|gz| gz.len() < bytes.len())
                    .map(bytes::Bytes::from);
                (
                    logical,
                    Asset {
                        name,
                        content_type,
                        bytes,
                        gzip,
                    },
                )
            })
            .collect()
    })
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Whether the client takes gzip.
pub(super) fn takes_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|p| p == "q=0" || p == "q=0.0")
        })
}

/// An asset's bytes as a response, gzipped when the client takes it.
pub(super) fn asset_response(
    a: &Asset,
    headers: &axum::http::HeaderMap,
    cache: &'static str,
) -> Response {
    let mut response = match &a.gzip {
        Some(gz) if takes_gzip(headers) => {
            // A `Bytes` clone shares the compressed bytes rather than copying them.
            let mut r = gz.clone().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => a.bytes.into_response(),
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// `GET /favicon.ico`: what browsers ask for on their own, whatever the page names; the app's
/// icon (browsers take a PNG under that name).
pub async fn favicon(headers: axum::http::HeaderMap) -> Response {
    match assets().get("icon-192.png") {
        Some(a) => asset_response(a, &headers, "public, max-age=86400"),
        None => ApiError::RouteNotFound.into_response(),
    }
}

/// The URL of an embedded asset, by its logical name.
pub(crate) fn asset_url(logical: &str) -> String {
    assets()
        .get(logical)
        .map_or_else(String::new, |a| format!("/assets/{}", a.name))
}

/// `GET /assets/{name}`: an embedded asset by its hashed name, cached forever.
pub async fn asset(Path(name): Path<String>, headers: axum::http::HeaderMap) -> Response {
    match assets().values().find(|a| a.name == name) {
        Some(a) => asset_response(a, &headers, "public, max-age=31536000, immutable"),
        None => ApiError::NotFound(Missing::Asset, format!("no asset {name}")).into_response(),
    }
}

/// `GET /manifest.webmanifest`: what makes LittlePanda installable as an app.
pub async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": text::APP,
        "short_name": text::APP,
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#121214",
        "theme_color": "#c0392b",
        "icons": [
            { "src": asset_url("icon-192.png"), "sizes": "192x192", "type": "image/png" },
            { "src": asset_url("icon-512.png"), "sizes": "512x512", "type": "image/png" },
            { "src": asset_url("icon.svg"), "sizes": "any", "type": "image/svg+xml" },
        ],
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /sw.js`: the service worker. It keeps the app shell (the hashed assets, which never
/// change under their names) for offline starts and fast loads; pages, images and API answers
/// always go to the network and are never stored, so nothing private is kept for anyone else.
pub async fn service_worker() -> Response {
    let shell: Vec<String> = assets()
        .values()
        .map(|a| format!("/assets/{}", a.name))
        .collect();
    let version = blake3::hash(shell.join(" ").as_bytes()).to_hex();
    let js = format!(
        "// LittlePanda's service worker: the app shell only (see /sw.js in the server).\n\
         const CACHE = \"lp-shell-{v}\";\n\
         const SHELL = {list};\n\
         self.addEventListener(\"install\", (e) => {{ e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting())); }});\n\
         self.addEventListener(\"activate\", (e) => {{ e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim())); }});\n\
         self.addEventListener(\"fetch\", (e) => {{\n\
         \x20 const url = new URL(e.request.url);\n\
         \x20 if (e.request.method !== \"GET\" || url.origin !== location.origin || !url.pathname.startsWith(\"/assets/\")) return;\n\
         \x20 e.respondWith(caches.match(e.request).then((hit) => hit || fetch(e.request)));\n\
         }});\n",
        v = &version[..12],
        list = serde_json::to_string(&shell).unwrap_or_else(|_| "[]".into()),
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        js,
    )
        .into_response()
}
