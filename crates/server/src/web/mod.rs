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
use library::ops::Error as OpsError;
use library::ops::{accounts, browse};

mod account;
mod assets;
mod collections;
mod gallery;
mod grid;
mod manage;
mod reader;
mod sign_in;

pub use account::*;
pub(crate) use assets::asset_url;
pub use assets::{asset, favicon, manifest, service_worker};
pub use collections::*;
pub use gallery::*;
pub use grid::*;
pub use manage::*;
pub use reader::*;
pub use sign_in::*;

mod text;

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
