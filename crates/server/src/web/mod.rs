//! The web app's pages, rendered on the server (links work without JavaScript; small modules add
//! keyboard, swipe and progress saving), and its assets, embedded in the binary under
//! content-hashed names so they can be cached forever.
//!
//! Pages: `/login`, `/logout`, `/` (the grid: library, search results, tag pages), `/g/{id}`
//! (a gallery) and `/g/{id}/read?page=N` (the reader).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::State;

use crate::extract::Path;

use crate::extract::{Form, Query};
use crate::html::escape;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::AppState;
use crate::auth::{self, Caller, Via};
use crate::error::{ApiError, Missing};
use db::Role;

mod account;
mod collections;
mod gallery;
mod grid;
mod manage;
mod reader;

pub use account::*;
pub use collections::*;
pub use gallery::*;
pub use grid::*;
pub use manage::*;
pub use reader::*;

/// Every string the pages show, in one place.
mod text {
    pub const APP: &str = "LittlePanda";
    pub const SEARCH: &str = "Search";
    pub const SEARCH_PLACEHOLDER: &str = "Search titles and tags (artist:…, -tag, a | b)";
    pub const SEARCH_HELP: &str = "Search help";
    pub const RANDOM: &str = "Random";
    pub const SIGN_IN: &str = "Sign in";
    pub const SIGN_OUT: &str = "Sign out";
    pub const NAME: &str = "Name";
    pub const PASSWORD: &str = "Password";
    pub const NOTHING_FOUND: &str = "Nothing matches this search.";
    pub const EMPTY_LIBRARY: &str = "The library is empty: import archives to fill it.";
    pub const PAGES: &str = "pages";
    pub const READ: &str = "Read";
    pub const CONTINUE: &str = "Continue reading";
    pub const PREVIOUS: &str = "Previous";
    pub const NEXT: &str = "Next";
    pub const BACK: &str = "Back to the gallery";
    pub const PAGE: &str = "Page";
    pub const ADDED: &str = "Added";
    pub const POSTED: &str = "Posted";
    pub const SIZE: &str = "Size";
    pub const GALLERIES: &str = "galleries";
    pub const GALLERY: &str = "gallery";
    pub const ADD_TAGS: &str = "Add tags";
    pub const ADD_TAGS_PLACEHOLDER: &str = "ns:tag, ns:tag";
    pub const REMOVE: &str = "Remove";
    pub const TRASH: &str = "Move to the trash";
    pub const RESTORE: &str = "Restore from the trash";
    pub const IN_TRASH: &str = "This gallery is in the trash.";
    pub const BACK_TO: &str = "Back";
    pub const TO_LIBRARY: &str = "To the library";
    pub const MENU: &str = "Menu";
    pub const COLLECTIONS: &str = "Collections and saved searches";
    pub const NO_COLLECTIONS: &str = "No collections yet. Make one below, save a search from the library, or add a gallery to a new collection from its page.";
    pub const SAVED_SEARCH: &str = "saved search";
    pub const DELETE: &str = "Delete";
    pub const NEW_COLLECTION: &str = "New collection";
    pub const NEW_COLLECTION_OPTION: &str = "New collection…";
    pub const NEW_COLLECTION_NAME: &str = "Name of the new collection";
    pub const SAVED_QUERY: &str = "Search (leave empty to pick galleries by hand)";
    pub const SAVED_QUERY_HINT: &str = "artist:… language:english";
    pub const MAKE: &str = "Make";
    pub const COLLECTION_MADE: &str = "The collection is made.";
    pub const COLLECTION_DELETED: &str = "The collection is deleted; its galleries are not.";
    pub const SAVE_SEARCH: &str = "Save this search";
    pub const EDIT_COLLECTIONS: &str = "Edit…";
    pub const FAVORITE: &str = "Add to favorites";
    pub const UNFAVORITE: &str = "Remove from favorites";
    pub const FAVORITES: &str = "Favorites";
    pub const ACCOUNT: &str = "Account";
    pub const CHANGE_PASSWORD: &str = "Change the password";
    pub const CURRENT_PASSWORD: &str = "Current password";
    pub const NEW_PASSWORD: &str = "New password";
    pub const AGAIN: &str = "New password again";
    pub const PASSWORD_CHANGED: &str = "The password is changed; every other session is ended.";
    pub const PASSWORDS_DIFFER: &str = "The two new passwords differ.";
    pub const API_KEYS: &str = "API keys";
    pub const NEW_KEY: &str = "Make a key";
    pub const KEY_NAME: &str = "Name (what uses it)";
    pub const READ_ONLY: &str = "read only";
    pub const READ_WRITE: &str = "read and write";
    pub const REVOKE: &str = "Revoke";
    pub const KEY_ONCE: &str = "Your new key, shown only this once:";
    pub const NO_KEYS: &str = "No keys yet.";
    pub const LAST_PAGE: &str = "That was the last page.";
    pub const FIRST_PAGE: &str = "This is the first page.";
    pub const PREVIOUS_GALLERY: &str = "Previous gallery";
    pub const NEXT_GALLERY: &str = "Next gallery";
    pub const READER_SETTINGS: &str = "Settings";
    pub const MODE: &str = "Pages";
    pub const SINGLE: &str = "One";
    pub const DOUBLE: &str = "Two (spreads)";
    pub const WEBTOON: &str = "Vertical (webtoon)";
    pub const DIRECTION: &str = "Direction";
    pub const LTR: &str = "Left to right";
    pub const RTL: &str = "Right to left (manga)";
    pub const FIT: &str = "Fit";
    pub const FIT_HEIGHT: &str = "Screen";
    pub const FIT_WIDTH: &str = "Width";
    pub const FIT_ORIGINAL: &str = "Original size";
    pub const PRELOAD: &str = "Pages to preload each way";
    pub const PAGES_WORD: &str = "Pages";
    pub const SOURCE: &str = "Source";
    pub const CATEGORY: &str = "Category";
    pub const DOWNLOAD: &str = "Download .cbz";
    pub const PURGE: &str = "Delete permanently";
    pub const PURGE_WARNING: &str =
        "This deletes the gallery and every image no other gallery uses. It cannot be undone.";
    pub const PURGE_CONFIRM: &str = "I understand";
    pub const PURGE_UNCONFIRMED: &str = "Tick “I understand” to delete the gallery permanently.";
    pub const EDIT_TITLE: &str = "Edit the title";
    pub const TITLE: &str = "Title";
    pub const ORIGINAL_TITLE: &str = "Original title";
    pub const SAVE: &str = "Save";
    pub const ORDER_HELP: &str = "Drag pages, or type their new numbers, then save the order. With the keyboard: focus a page and press Alt with an arrow key.";
    pub const POSITION_OF: &str = "New position of page";
    pub const MAKE_COVER: &str = "Make this page the cover";
    pub const COVER: &str = "Cover";
    pub const CROP: &str = "Crop";
    pub const CROP_COVER: &str = "Cut a cover from this page";
    pub const CROP_HELP: &str = "Drag a rectangle over the page (or type its edges), then save.";
    pub const SAVE_ORDER: &str = "Save the page order";
    pub const SAVE_COVER: &str = "Use as the cover";
    pub const LEFT: &str = "Left";
    pub const TOP: &str = "Top";
    pub const WIDTH: &str = "Width";
    pub const HEIGHT: &str = "Height";
    pub const MANAGE: &str = "Manage";
    pub const IMPORTS: &str = "Imports";
    pub const TRASH_TITLE: &str = "Trash";
    pub const TAG_TOOLS: &str = "Tags";
    pub const STORAGE: &str = "Storage";
    pub const USERS: &str = "Users";
    pub const PURGED: &str = "The gallery is deleted permanently.";
    pub const RESTORED: &str = "The gallery is back in the library.";
    pub const IMPORT_STARTED: &str = "The import has started; its progress shows below.";
    pub const COMPACTED: &str = "Compaction is done.";
    pub const SAVED: &str = "Saved.";
    pub const UPLOAD: &str = "Upload archives";
    pub const UPLOAD_WAITING: &str = "waiting";
    pub const UPLOAD_IMPORTING: &str = "importing…";
    pub const UPLOAD_IMPORTED: &str = "imported";
    pub const UPLOAD_DUPLICATE: &str = "already in the library";
    pub const UPLOAD_FAILED: &str = "failed";
    pub const UPLOAD_BROKEN: &str = "the connection broke off; nothing was kept";
    pub const OPEN: &str = "Open";
    pub const DROP_HERE: &str = "Drop archives here (zip, cbz, rar, cbr, 7z, cb7, tar), or";
    pub const PICK_FILES: &str = "Choose files";
    pub const UPLOAD_NEEDS_JS: &str = "Uploading from the browser needs JavaScript; the `import` command and server imports work without it.";
    pub const SERVER_IMPORT: &str = "Import from the server";
    pub const NO_ROOTS: &str =
        "No import roots are configured ([import] roots in the config file).";
    pub const BELOW_ROOTS: &str = "A file or folder below";
    pub const START_IMPORT: &str = "Import";
    pub const JOBS: &str = "Import jobs";
    pub const NO_JOBS: &str = "No imports yet.";
    pub const JOB_QUEUED: &str = "queued";
    pub const JOB_RUNNING: &str = "running";
    pub const JOB_DONE: &str = "done";
    pub const JOB_FAILED: &str = "failed";
    pub const JOB_WHAT: &str = "What";
    pub const JOB_STATE: &str = "State";
    pub const JOB_PROGRESS: &str = "Progress";
    pub const JOB_FAILURES: &str = "Failed imports and why";
    pub const TRASH_EMPTY: &str = "The trash is empty.";
    pub const NOT_LOCAL_STORE: &str =
        "The images are in an object store; its statistics are the store's own.";
    pub const VOLUMES: &str = "Volumes";
    pub const IMAGES: &str = "Images";
    pub const LIVE_BYTES: &str = "In use";
    pub const VOLUME_BYTES: &str = "On disk";
    pub const GARBAGE_BYTES: &str = "Reclaimable";
    pub const COMPACT: &str = "Compact now";
    pub const COMPACT_HELP: &str = "Compaction rewrites volumes with a fifth or more reclaimable space, while the library stays online.";
    pub const SIBLINGS: &str = "Siblings";
    pub const SIBLINGS_HELP: &str = "An alias is read as its canonical tag everywhere: in search, in suggestions and when tagging.";
    pub const ALIAS: &str = "Alias";
    pub const CANONICAL: &str = "Canonical tag";
    pub const PARENTS: &str = "Parents";
    pub const PARENTS_HELP: &str = "A gallery with the child tag is found by its parent tag too.";
    pub const CHILD: &str = "Child tag";
    pub const PARENT: &str = "Parent tag";
    pub const ADD: &str = "Add";
    pub const ROLE: &str = "Role";
    pub const SET_PASSWORD: &str = "Set";
    pub const REMOVE_USER: &str = "Remove";
    pub const ADD_USER: &str = "Add a user";
    pub const THEME: &str = "Theme";
    pub const SELECT: &str = "Select";
    pub const SEARCH_EH: &str = "Search on E-Hentai";
    pub const RENAME_TAG: &str = "Rename or merge";
    pub const RENAME_HELP: &str = "Every gallery tagged with the first tag gets the second instead. Naming a tag that exists merges the two.";
    pub const FROM_TAG: &str = "Tag";
    pub const TO_TAG: &str = "New name";
    pub const RENAME: &str = "Rename";
    pub const RENAMED: &str = "galleries retagged.";
    pub const SELECTED: &str = "selected";
    pub const ALL: &str = "All";
    pub const NEW: &str = "New this week";
    pub const UNREAD: &str = "Unread";
    pub const UNTAGGED: &str = "Untagged";
    pub const ORDER: &str = "Order";
    pub const APPLY: &str = "Apply";
    pub const REMOVE_TAGS: &str = "Remove tags";
    pub const COLLECTION: &str = "Collection";
    pub const ADD_TO_COLLECTION: &str = "Add to the collection";
    pub const THEME_AUTO: &str = "Auto";
    pub const THEME_LIGHT: &str = "Light";
    pub const THEME_DARK: &str = "Dark";
}

/// Where a gallery or the reader was opened from: a search and the position in its results, so
/// the reader can offer the previous and next gallery of that search.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Origin {
    q: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::number")]
    i: Option<usize>,
}

impl Origin {
    /// `&q=…&i=…`, to follow other query parameters.
    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(i) = self.i {
            if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
                s.push_str(&format!("&q={}", encode(q)));
            }
            s.push_str(&format!("&i={i}"));
        }
        s
    }

    /// `?q=…&i=…` on its own, or nothing.
    fn query(&self) -> String {
        let s = self.suffix();
        match s.strip_prefix('&') {
            Some(rest) => format!("?{rest}"),
            None => s,
        }
    }
}

// ---- Assets -------------------------------------------------------------------------------------

/// An embedded asset: its bytes (and gzipped bytes, where that is smaller), type, and
/// content-hashed name.
struct Asset {
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
    gzip: Option<bytes::Bytes>,
}

fn assets() -> &'static BTreeMap<&'static str, Asset> {
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

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Whether the client takes gzip.
fn takes_gzip(headers: &axum::http::HeaderMap) -> bool {
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
fn asset_response(a: &Asset, headers: &axum::http::HeaderMap, cache: &'static str) -> Response {
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

// ---- Layout -------------------------------------------------------------------------------------

fn layout(caller: &Caller, title: &str, query: &str, body: &str, body_class: &str) -> Html<String> {
    let csrf = match &caller.via {
        Via::Session { csrf, .. } => format!("<meta name=\"csrf\" content=\"{}\">", escape(csrf)),
        _ => String::new(),
    };
    let editor = caller.user.as_ref().is_some_and(|u| u.role >= Role::Editor);
    let manage = if editor {
        format!(
            "<a class=\"button plain\" href=\"/manage\">{}</a>",
            text::MANAGE
        )
    } else {
        String::new()
    };
    let account = match &caller.user {
        Some(u) => format!(
            "<a class=\"button plain\" href=\"/account\">{}</a><form method=\"post\" action=\"/logout\">{}\
             <button class=\"plain\" type=\"submit\">{}</button></form>",
            escape(&u.name),
            csrf_field(caller),
            text::SIGN_OUT
        ),
        None => format!(
            "<a class=\"button plain\" href=\"/login\">{}</a>",
            text::SIGN_IN
        ),
    };
    let theme = caller
        .theme
        .map_or(String::new(), |t| format!(" data-theme=\"{t}\""));
    let scripts: String = ["app.js", "reader.js", "gallery.js", "manage.js"]
        .iter()
        .map(|s| format!("<script type=\"module\" src=\"{}\"></script>", asset_url(s)))
        .collect();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"{theme}><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1, viewport-fit=cover\">\
         <title>{title} · {app}</title><link rel=\"stylesheet\" href=\"{css}\">{csrf}\
         <link rel=\"manifest\" href=\"/manifest.webmanifest\"><link rel=\"icon\" href=\"{icon}\" type=\"image/svg+xml\">\
         <link rel=\"apple-touch-icon\" href=\"{icon192}\"><meta name=\"theme-color\" content=\"#c0392b\">\
         {scripts}</head><body class=\"{body_class}\">\
         <header class=\"top\"><a class=\"brand\" href=\"/\" aria-label=\"{app}\">\
         <img src=\"{icon}\" alt=\"\" width=\"28\" height=\"28\"><span>{app}</span></a>\
         <form class=\"search\" method=\"get\" action=\"/\" role=\"search\">\
         <label class=\"visually-hidden\" for=\"q\">{search}</label>\
         <input id=\"q\" type=\"search\" name=\"q\" value=\"{query}\" placeholder=\"{placeholder}\" \
          autocomplete=\"off\" data-suggest data-query list=\"q-suggestions\"><datalist id=\"q-suggestions\"></datalist>\
         <button type=\"submit\" aria-label=\"{search}\"><span class=\"search-icon\" aria-hidden=\"true\">⌕</span><span class=\"search-word\">{search}</span></button></form>\
         <details class=\"menu\" data-menu><summary class=\"button plain\" aria-label=\"{menu}\">☰</summary>\
         <nav class=\"links\"><a class=\"button plain\" href=\"/random{random_q}\">{random}</a>\
         <a class=\"button plain\" href=\"/help/search\">{help}</a>{manage}{account}\
         <button class=\"plain\" type=\"button\" data-theme-toggle hidden data-label=\"{theme_word}\" \
          data-auto=\"{auto}\" data-light=\"{light}\" data-dark=\"{dark}\">{auto}</button></nav></details></header>\
         <main id=\"main\">{body}</main></body></html>\n",
        title = escape(title),
        app = text::APP,
        css = asset_url("app.css"),
        icon = asset_url("icon.svg"),
        icon192 = asset_url("icon-192.png"),
        search = text::SEARCH,
        query = escape(query),
        placeholder = escape(text::SEARCH_PLACEHOLDER),
        random = text::RANDOM,
        random_q = if query.trim().is_empty() {
            String::new()
        } else {
            format!("?q={}", encode(query))
        },
        help = text::SEARCH_HELP,
        theme_word = text::THEME,
        menu = text::MENU,
        auto = text::THEME_AUTO,
        light = text::THEME_LIGHT,
        dark = text::THEME_DARK,
    ))
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

/// The app's error page, for what a browser asked that went wrong: the status, what happened,
/// and ways back (the previous page and the library).
pub fn error_page(caller: &Caller, status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<section class=\"problem\"><h1>{code} · {reason}</h1><p role=\"alert\">{message}</p>\
         <p class=\"actions\"><a class=\"button\" href=\"/\">{library}</a>\
         <button class=\"button plain\" type=\"button\" data-history-back hidden>{back}</button></p></section>",
        code = status.as_u16(),
        reason = escape(reason),
        message = escape(&sentence(message)),
        library = text::TO_LIBRARY,
        back = text::BACK_TO,
    );
    let mut response = (status, layout(caller, reason, "", &body, "")).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut s: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// A page that says what went wrong, with a way back.
fn problem(caller: &Caller, status: StatusCode, message: &str, back: &str) -> Response {
    let body = format!(
        "<p role=\"alert\">{}</p><p><a class=\"button plain\" href=\"{}\">{}</a></p>",
        escape(message),
        escape(back),
        text::BACK_TO
    );
    (status, layout(caller, message, "", &body, "")).into_response()
}

fn csrf_field(caller: &Caller) -> String {
    match &caller.via {
        Via::Session { csrf, .. } => format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            auth::CSRF_FIELD,
            escape(csrf)
        ),
        _ => String::new(),
    }
}

/// A query-string value, percent-encoded (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn date(ms: i64) -> String {
    // Days since 1970 to a civil date (Howard Hinnant's algorithm).
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

// ---- Signing in ---------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only a path of this site may be where a sign-in leads.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_form(message: &str, next: &str) -> String {
    let alert = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\">{}</p>", escape(message))
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{sign_in} · {app}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body><main>\
         <form class=\"login\" method=\"post\" action=\"/login\"><h1>{app}</h1>{alert}\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>{name}<input name=\"name\" autocomplete=\"username\" required autofocus></label>\
         <label>{password}<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">{sign_in}</button></form></main></body></html>\n",
        sign_in = text::SIGN_IN,
        app = text::APP,
        css = asset_url("app.css"),
        next = escape(next),
        name = text::NAME,
        password = text::PASSWORD,
    )
}

/// `GET /login`.
pub async fn login_page(Query(p): Query<NextParam>) -> Html<String> {
    Html(login_form("", &local_path(p.next.as_deref())))
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

/// `POST /login` (a plain form): signs in and goes where the visitor was headed.
pub async fn login_submit(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = local_path(form.next.as_deref());
    let db = state.db.clone();
    let config = state.auth.clone();
    let result = tokio::task::spawn_blocking(move || {
        let user = auth::sign_in(&db, &form.name, &form.password, caller.addr)?;
        auth::start_session(&db, user.id, &config, caller.https)
    })
    .await?;
    match result {
        Ok((cookie, _)) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(e @ (ApiError::WrongCredentials | ApiError::TooManyAttempts { .. })) => {
            Ok((e.status(), Html(login_form(&e.to_string(), &next))).into_response())
        }
        Err(e) => Err(e),
    }
}

/// `POST /logout` (a plain form).
pub async fn logout_submit(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    auth::end_session(&state.db, &caller).await?;
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth::end_session_cookie());
    Ok(response)
}

// ---- Search help --------------------------------------------------------------------------------

/// `GET /help/search`: the query language, in short.
pub async fn search_help(caller: Caller) -> Response {
    let rows = [
        ("fox", "the word in a title, or a tag starting with it"),
        ("female:glasses", "a tag in a namespace, as a prefix"),
        ("female:glasses$", "exactly that tag"),
        ("\"brown fox\"", "a phrase in a title"),
        ("-language:english", "without"),
        ("artist:a | artist:b", "either"),
        ("pages:>20, size:<100MB, posted:2023", "numbers and dates"),
        (
            "untagged, read, unread, favorite, in:\"a list\"",
            "state, and your own",
        ),
        ("sort:title, sort:pages:asc, sort:random", "order"),
    ];
    let mut body = String::from("<h1>Search</h1><table>");
    for (q, what) in rows {
        body.push_str(&format!(
            "<tr><td><a href=\"/?q={}\"><code>{}</code></a></td><td>{}</td></tr>",
            encode(q.split(',').next().unwrap_or(q)),
            escape(q),
            escape(what)
        ));
    }
    body.push_str("</table>");
    (
        StatusCode::OK,
        layout(&caller, "Search help", "", &body, ""),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_sizes() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_700_000_000_000), "2023-11-14");
        assert_eq!(megabytes(12_345_678), "12.3 MB");
    }

    #[test]
    fn sign_in_leads_only_to_this_site() {
        assert_eq!(local_path(Some("/g/abc?x=1")), "/g/abc?x=1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn assets_have_content_hashed_names() {
        let css = asset_url("app.css");
        assert!(
            css.starts_with("/assets/app.") && css.ends_with(".css") && css.len() > 20,
            "{css}"
        );
    }
}
