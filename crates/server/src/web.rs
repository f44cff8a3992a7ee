//! The web app's pages, rendered on the server (links work without JavaScript; small modules add
//! keyboard, swipe and progress saving), and its assets, embedded in the binary under
//! content-hashed names so they can be cached forever.
//!
//! Pages: `/login`, `/logout`, `/` (the grid: library, search results, tag pages), `/g/{id}`
//! (a gallery) and `/g/{id}/read?page=N` (the reader).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use library::export::escape;

use crate::AppState;
use crate::auth::{self, Caller, Via};
use crate::error::ApiError;
use db::Role;

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
    pub const ADD_TAGS: &str = "Add tags";
    pub const ADD_TAGS_PLACEHOLDER: &str = "ns:tag, ns:tag";
    pub const REMOVE: &str = "Remove";
    pub const TRASH: &str = "Move to the trash";
    pub const RESTORE: &str = "Restore from the trash";
    pub const IN_TRASH: &str = "This gallery is in the trash.";
    pub const BACK_TO: &str = "Back";
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
}

// ---- Assets -------------------------------------------------------------------------------------

/// An embedded asset: its bytes, type, and content-hashed name.
struct Asset {
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

fn assets() -> &'static BTreeMap<&'static str, Asset> {
    static ASSETS: OnceLock<BTreeMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let list: [(&str, &str, &[u8]); 2] = [
            (
                "app.css",
                "text/css; charset=utf-8",
                include_bytes!("../assets/app.css"),
            ),
            (
                "reader.js",
                "text/javascript; charset=utf-8",
                include_bytes!("../assets/reader.js"),
            ),
        ];
        list.into_iter()
            .map(|(logical, content_type, bytes)| {
                let hash = blake3::hash(bytes).to_hex();
                let (stem, ext) = logical.rsplit_once('.').unwrap_or((logical, ""));
                let name = format!("{stem}.{}.{ext}", &hash[..12]);
                (
                    logical,
                    Asset {
                        name,
                        content_type,
                        bytes,
                    },
                )
            })
            .collect()
    })
}

/// The URL of an embedded asset, by its logical name.
fn asset_url(logical: &str) -> String {
    assets()
        .get(logical)
        .map_or_else(String::new, |a| format!("/assets/{}", a.name))
}

/// `GET /assets/{name}`: an embedded asset by its hashed name, cached forever.
pub async fn asset(Path(name): Path<String>) -> Response {
    match assets().values().find(|a| a.name == name) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.bytes,
        )
            .into_response(),
        None => ApiError::NotFound(format!("no asset {name}")).into_response(),
    }
}

// ---- Layout -------------------------------------------------------------------------------------

fn layout(caller: &Caller, title: &str, query: &str, body: &str, body_class: &str) -> Html<String> {
    let csrf = match &caller.via {
        Via::Session { csrf, .. } => format!("<meta name=\"csrf\" content=\"{}\">", escape(csrf)),
        _ => String::new(),
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
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {app}</title><link rel=\"stylesheet\" href=\"{css}\">{csrf}\
         <script type=\"module\" src=\"{js}\"></script></head><body class=\"{body_class}\">\
         <header class=\"top\"><a class=\"brand\" href=\"/\">{app}</a>\
         <form class=\"search\" method=\"get\" action=\"/\" role=\"search\">\
         <label class=\"visually-hidden\" for=\"q\">{search}</label>\
         <input id=\"q\" type=\"search\" name=\"q\" value=\"{query}\" placeholder=\"{placeholder}\">\
         <button type=\"submit\">{search}</button></form>\
         <a class=\"button plain\" href=\"/?q=sort%3Arandom\">{random}</a>\
         <a class=\"button plain\" href=\"/?q=favorite\">{favorites}</a>\
         <a class=\"button plain\" href=\"/help/search\">{help}</a>{account}</header>\
         <main>{body}</main></body></html>\n",
        title = escape(title),
        app = text::APP,
        css = asset_url("app.css"),
        js = asset_url("reader.js"),
        search = text::SEARCH,
        query = escape(query),
        placeholder = escape(text::SEARCH_PLACEHOLDER),
        random = text::RANDOM,
        favorites = text::FAVORITES,
        help = text::SEARCH_HELP,
    ))
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

// ---- The grid -----------------------------------------------------------------------------------

/// Galleries on one page of the grid.
const PER_PAGE: usize = 40;

#[derive(Debug, serde::Deserialize)]
pub struct GridParams {
    #[serde(default)]
    q: String,
    page: Option<usize>,
}

/// `GET /?q=…&page=N`: the library, or what a search finds, as a grid of covers.
pub async fn grid(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<GridParams>,
) -> Result<Response, ApiError> {
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let page = p.page.unwrap_or(1).max(1);
    let asker = caller.asker();
    let q = p.q.clone();
    let db = state.db.clone();
    let found = tokio::task::spawn_blocking(move || {
        let found = live.search(&q, asker, (page - 1) * PER_PAGE, PER_PAGE);
        match found {
            Ok(r) => Ok(Ok((r.total, db.galleries().summaries(&r.ids)?))),
            Err(search::SearchError::Parse(e)) => Ok(Err(e.to_string())),
            Err(search::SearchError::Db(e)) => Err(ApiError::from(e)),
        }
    })
    .await??;
    let body = match found {
        Err(message) => format!("<p role=\"alert\">{}</p>", escape(&message)),
        Ok((0, _)) if p.q.trim().is_empty() => format!("<p>{}</p>", text::EMPTY_LIBRARY),
        Ok((0, _)) => format!("<p>{}</p>", text::NOTHING_FOUND),
        Ok((total, galleries)) => {
            let mut html = format!(
                "<p class=\"muted\">{total} {}</p><div class=\"grid\">",
                text::GALLERIES
            );
            for g in &galleries {
                let cover = match (g.cover_thumbnail, g.cover) {
                    (Some(t), _) => format!("/api/v1/blobs/{t}"),
                    (None, Some(c)) => format!("/api/v1/thumbnails/{c}"),
                    (None, None) => String::new(),
                };
                let language = g
                    .tags
                    .iter()
                    .find(|t| t.namespace == "language" && t.name != "translated")
                    .map_or(String::new(), |t| format!(" · {}", escape(&t.name)));
                html.push_str(&format!(
                    "<a class=\"card\" href=\"/g/{id}\"><img class=\"cover\" loading=\"lazy\" src=\"{cover}\" \
                     alt=\"{alt}\" width=\"250\" height=\"350\"><span class=\"meta\"><span class=\"title\">{title}</span>\
                     <span class=\"muted\">{pages} {pages_word}{language}</span></span></a>",
                    id = escape(&g.public_id),
                    alt = escape(&g.title),
                    title = escape(&g.title),
                    pages = g.page_count,
                    pages_word = text::PAGES,
                ));
            }
            html.push_str("</div>");
            html.push_str(&pagination(&p.q, page, (total as usize).div_ceil(PER_PAGE)));
            html
        }
    };
    let title = if p.q.trim().is_empty() {
        text::APP
    } else {
        p.q.as_str()
    };
    Ok(layout(&caller, title, &p.q, &body, "").into_response())
}

fn pagination(q: &str, page: usize, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let link = |n: usize| format!("/?q={}&page={n}", encode(q));
    let mut shown: Vec<usize> = [
        1,
        page.saturating_sub(2),
        page.saturating_sub(1),
        page,
        page + 1,
        page + 2,
        pages,
    ]
    .into_iter()
    .filter(|&n| n >= 1 && n <= pages)
    .collect();
    shown.sort_unstable();
    shown.dedup();
    let mut html = String::from("<nav class=\"pages\" aria-label=\"Pages\">");
    if page > 1 {
        html.push_str(&format!(
            "<a rel=\"prev\" href=\"{}\">‹</a>",
            link(page - 1)
        ));
    }
    let mut last = 0;
    for n in shown {
        if n > last + 1 {
            html.push_str("<span aria-hidden=\"true\">…</span>");
        }
        if n == page {
            html.push_str(&format!(
                "<a aria-current=\"page\" href=\"{}\">{n}</a>",
                link(n)
            ));
        } else {
            html.push_str(&format!("<a href=\"{}\">{n}</a>", link(n)));
        }
        last = n;
    }
    if page < pages {
        html.push_str(&format!(
            "<a rel=\"next\" href=\"{}\">›</a>",
            link(page + 1)
        ));
    }
    html.push_str("</nav>");
    html
}

// ---- A gallery ----------------------------------------------------------------------------------

/// `GET /g/{id}`: a gallery's details, tags by namespace, and its pages.
pub async fn gallery(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let user = caller.user.as_ref().map(|u| u.id);
    let (g, pages, progress, favorite) =
        tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let g = db.galleries().get(&public_id)?;
            let pages = db.galleries().pages(&public_id)?;
            let (progress, favorite) = match user {
                Some(u) => (
                    db.accounts().progress(u, g.id)?,
                    db.accounts().is_favorite(u, g.id)?,
                ),
                None => (None, false),
            };
            Ok((g, pages, progress, favorite))
        })
        .await??;
    let id = escape(&g.public_id);
    let cover = g.cover.map_or(String::new(), |c| {
        format!(
            "<img src=\"/api/v1/thumbnails/{c}\" alt=\"{}\">",
            escape(&g.title)
        )
    });
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &g.tags {
        by_ns.entry(&t.tag.namespace).or_default().push(&t.tag.name);
    }
    let editor = caller.user.as_ref().is_some_and(|u| u.role >= Role::Editor);
    let csrf = csrf_field(&caller);
    let mut tags = String::from("<dl class=\"tags\">");
    for (ns, names) in by_ns {
        tags.push_str(&format!("<dt>{}</dt><dd>", escape(ns)));
        for n in names {
            let q = format!("{ns}:\"{n}\"$");
            tags.push_str(&format!(
                "<span class=\"tag-item\"><a class=\"tag\" href=\"/?q={}\">{}</a>",
                encode(&q),
                escape(n)
            ));
            if editor {
                let full = escape(&format!("{ns}:{n}"));
                tags.push_str(&format!(
                    "<form class=\"inline\" method=\"post\" action=\"/g/{id}/tags\">{csrf}\
                     <input type=\"hidden\" name=\"remove\" value=\"{full}\">\
                     <button class=\"tag-remove plain\" type=\"submit\" aria-label=\"{remove} {full}\">×</button></form>",
                    remove = text::REMOVE,
                ));
            }
            tags.push_str("</span>");
        }
        tags.push_str("</dd>");
    }
    tags.push_str("</dl>");
    let favorite_form = if caller.user.is_some() {
        let (value, label) = if favorite {
            ("0", text::UNFAVORITE)
        } else {
            ("1", text::FAVORITE)
        };
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/g/{id}/favorite\">{csrf}\
             <input type=\"hidden\" name=\"on\" value=\"{value}\">\
             <button class=\"plain\" type=\"submit\" aria-pressed=\"{favorite}\">{label}</button></form>"
        )
    } else {
        String::new()
    };
    let (edit, trash_note) = if editor {
        let (action, label) = if g.trashed_at.is_some() {
            ("restore", text::RESTORE)
        } else {
            ("trash", text::TRASH)
        };
        (
            format!(
                "<form class=\"add-tags\" method=\"post\" action=\"/g/{id}/tags\">{csrf}\
                 <label class=\"visually-hidden\" for=\"add\">{add}</label>\
                 <input id=\"add\" name=\"add\" placeholder=\"{placeholder}\" autocomplete=\"off\">\
                 <button type=\"submit\">{add}</button></form>\
                 <form class=\"inline\" method=\"post\" action=\"/g/{id}/{action}\">{csrf}\
                 <button class=\"plain\" type=\"submit\">{label}</button></form>",
                add = text::ADD_TAGS,
                placeholder = text::ADD_TAGS_PLACEHOLDER,
            ),
            if g.trashed_at.is_some() {
                format!("<p role=\"status\">{}</p>", text::IN_TRASH)
            } else {
                String::new()
            },
        )
    } else {
        (String::new(), String::new())
    };
    let (read_label, read_page) = match progress {
        Some(p) if !p.finished && p.page > 0 => (text::CONTINUE, p.page),
        _ => (text::READ, 0),
    };
    let original = if g.title_original.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"muted\" lang=\"ja\">{}</p>",
            escape(&g.title_original)
        )
    };
    let posted = g.posted_at.map_or(String::new(), |p| {
        format!("<br>{}: {}", text::POSTED, date(p))
    });
    let mut thumbs = String::from("<div class=\"thumbs\">");
    for p in &pages {
        let src = match p.thumbnail {
            Some(t) => format!("/api/v1/blobs/{t}"),
            None => format!("/api/v1/thumbnails/{}", p.blob.hash),
        };
        thumbs.push_str(&format!(
            "<a href=\"/g/{id}/read?page={n}\"><img loading=\"lazy\" src=\"{src}\" alt=\"{page_word} {human}\" width=\"100\" height=\"140\"></a>",
            n = p.position,
            human = p.position + 1,
            page_word = text::PAGE,
        ));
    }
    thumbs.push_str("</div>");
    let body = format!(
        "<div class=\"gallery-head\">{cover}<div>{trash_note}<h1>{title}</h1>{original}\
         <p>{pages} {pages_word} · {size_word}: {size}<br>{added_word}: {added}{posted}</p>{tags}\
         <div class=\"actions\"><a class=\"button\" href=\"/g/{id}/read?page={read_page}\">{read_label}</a>{favorite_form}{edit}</div>\
         </div></div>{thumbs}",
        title = escape(&g.title),
        pages = g.page_count,
        pages_word = text::PAGES,
        size_word = text::SIZE,
        size = megabytes(g.total_bytes),
        added_word = text::ADDED,
        added = date(g.added_at),
    );
    Ok(layout(&caller, &g.title, "", &body, "").into_response())
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

#[derive(Debug, serde::Deserialize)]
pub struct TagForm {
    #[serde(default)]
    add: String,
    #[serde(default)]
    remove: String,
}

/// `POST /g/{id}/tags` (a form): adds `ns:tag, ns:tag` and/or removes one tag, then back.
pub async fn tags_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<TagForm>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let parse = |text: &str| -> Result<Vec<db::TagName>, String> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        db::TagName::parse_list(text).map_err(|e| e.to_string())
    };
    let (add, remove) = match (parse(&form.add), parse(&form.remove)) {
        (Ok(a), Ok(r)) => (a, r),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(problem(&caller, StatusCode::BAD_REQUEST, &e, &back));
        }
    };
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        db.galleries().id_of(&public_id)?;
        if !add.is_empty() {
            db.tags().add(&public_id, &add, db::TagSource::User)?;
        }
        if !remove.is_empty() {
            db.tags().remove(&public_id, &remove)?;
        }
        Ok(())
    })
    .await??;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct FavoriteForm {
    on: String,
}

/// `POST /g/{id}/favorite` (a form, `on=1` or `on=0`): the caller's own favorite.
pub async fn favorite_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<FavoriteForm>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let back = format!("/g/{}", encode(&public_id));
    let on = form.on == "1";
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let id = db.galleries().id_of(&public_id)?;
        Ok(db.accounts().set_favorite(user, id, on)?)
    })
    .await??;
    Ok(Redirect::to(&back).into_response())
}

/// `POST /g/{id}/trash` (a form).
pub async fn trash_submit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || db.galleries().trash(&public_id)).await??;
    Ok(Redirect::to(&back).into_response())
}

/// `POST /g/{id}/restore` (a form).
pub async fn restore_submit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || db.galleries().restore(&public_id)).await??;
    Ok(Redirect::to(&back).into_response())
}

// ---- The account --------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
pub struct AccountParams {
    done: Option<String>,
}

/// The account page, with a message on top (and a new key, the only time it is shown).
async fn account_page(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    message: &str,
    new_key: Option<&str>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.clone();
    let db = state.db.clone();
    let keys = tokio::task::spawn_blocking(move || db.accounts().keys(user.id)).await??;
    let csrf = csrf_field(caller);
    let mut body = format!(
        "<h1>{account}</h1><p>{name} · {role}</p>",
        account = text::ACCOUNT,
        name = escape(&user.name),
        role = user.role,
    );
    if !message.is_empty() {
        body.push_str(&format!("<p role=\"status\">{}</p>", escape(message)));
    }
    if let Some(k) = new_key {
        body.push_str(&format!(
            "<p>{}</p><p><code class=\"new-key\">{}</code></p>",
            text::KEY_ONCE,
            escape(k)
        ));
    }
    body.push_str(&format!("<h2>{}</h2>", text::API_KEYS));
    if keys.is_empty() {
        body.push_str(&format!("<p class=\"muted\">{}</p>", text::NO_KEYS));
    } else {
        body.push_str("<ul class=\"keys\">");
        for k in &keys {
            let scope = match k.scope {
                db::KeyScope::Read => text::READ_ONLY,
                db::KeyScope::ReadWrite => text::READ_WRITE,
            };
            body.push_str(&format!(
                "<li><strong>{name}</strong> · {scope} · {created}{used} \
                 <form class=\"inline\" method=\"post\" action=\"/account/keys/{id}/revoke\">{csrf}\
                 <button class=\"plain\" type=\"submit\">{revoke}</button></form></li>",
                name = escape(&k.name),
                created = date(k.created_at),
                used = k
                    .used_at
                    .map_or(String::new(), |u| format!(" · {}", date(u))),
                id = k.id,
                revoke = text::REVOKE,
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/account/keys\">{csrf}\
         <p><label>{key_name}<input name=\"name\" required maxlength=\"100\"></label></p>\
         <p><label><input type=\"radio\" name=\"scope\" value=\"read\" checked> {ro}</label> \
         <label><input type=\"radio\" name=\"scope\" value=\"read-write\"> {rw}</label></p>\
         <p><button type=\"submit\">{new_key}</button></p></form>\
         <h2>{change}</h2><form method=\"post\" action=\"/account/password\">{csrf}\
         <p><label>{current}<input name=\"current\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><label>{new}<input name=\"new\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\"></label></p>\
         <p><label>{again}<input name=\"again\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\"></label></p>\
         <p><button type=\"submit\">{change}</button></p></form>",
        key_name = text::KEY_NAME,
        ro = text::READ_ONLY,
        rw = text::READ_WRITE,
        new_key = text::NEW_KEY,
        change = text::CHANGE_PASSWORD,
        current = text::CURRENT_PASSWORD,
        new = text::NEW_PASSWORD,
        again = text::AGAIN,
        min = auth::MIN_PASSWORD,
    ));
    Ok((status, layout(caller, text::ACCOUNT, "", &body, "")).into_response())
}

/// `GET /account`: the caller's account, API keys and password.
pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AccountParams>,
) -> Result<Response, ApiError> {
    let message = match p.done.as_deref() {
        Some("password") => text::PASSWORD_CHANGED,
        _ => "",
    };
    account_page(&state, &caller, StatusCode::OK, message, None).await
}

#[derive(Debug, serde::Deserialize)]
pub struct KeyForm {
    name: String,
    scope: String,
}

/// `POST /account/keys` (a form): makes a key and shows it, once.
pub async fn key_submit(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<KeyForm>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let scope = if form.scope == "read-write" {
        db::KeyScope::ReadWrite
    } else {
        db::KeyScope::Read
    };
    let db = state.db.clone();
    let made = tokio::task::spawn_blocking(move || auth::new_api_key(&db, user, &form.name, scope))
        .await?;
    match made {
        Ok((_, key)) => account_page(&state, &caller, StatusCode::CREATED, "", Some(&key)).await,
        Err(ApiError::BadRequest(m)) => {
            account_page(&state, &caller, StatusCode::BAD_REQUEST, &m, None).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /account/keys/{id}/revoke` (a form).
pub async fn key_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || db.accounts().revoke_key(user, id)).await??;
    Ok(Redirect::to("/account").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    again: String,
}

/// `POST /account/password` (a form): every session of the account ends; this one is renewed.
pub async fn password_submit(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<PasswordForm>,
) -> Result<Response, ApiError> {
    caller.user()?;
    if form.new != form.again {
        return account_page(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            text::PASSWORDS_DIFFER,
            None,
        )
        .await;
    }
    let db = state.db.clone();
    let config = state.auth.clone();
    let asker = caller.clone();
    let changed = crate::blocking(move || {
        auth::change_password(&db, &asker, &form.current, &form.new, &config)
    })
    .await;
    match changed {
        Ok(Some((cookie, _))) => {
            let mut response = Redirect::to("/account?done=password").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        // Sent with an API key: there is no session to renew.
        Ok(None) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(e @ (ApiError::WrongCredentials | ApiError::BadRequest(_))) => {
            account_page(
                &state,
                &caller,
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                None,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

// ---- The reader ---------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
pub struct ReadParams {
    page: Option<u32>,
}

/// How many pages ahead (and one behind) the reader preloads.
const PRELOAD: u32 = 3;

/// `GET /g/{id}/read?page=N`: one page (counting from 0); the URL carries the page, so the back
/// button and links work.
pub async fn reader(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Query(p): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let wanted = public_id.clone();
    let (g, pages) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        Ok((db.galleries().get(&wanted)?, db.galleries().pages(&wanted)?))
    })
    .await??;
    let Some(last) = pages.len().checked_sub(1) else {
        return Err(ApiError::NotFound("this gallery has no pages".into()));
    };
    let n = (p.page.unwrap_or(0) as usize).min(last);
    if p.page.is_some_and(|asked| asked as usize != n) {
        return Ok(
            Redirect::to(&format!("/g/{}/read?page={n}", encode(&public_id))).into_response(),
        );
    }
    let id = escape(&g.public_id);
    let url = |i: usize| format!("/g/{id}/read?page={i}");
    let prev = if n > 0 { url(n - 1) } else { String::new() };
    let next = if n < last { url(n + 1) } else { String::new() };
    let preload: Vec<String> = (n + 1..=(n + PRELOAD as usize).min(last))
        .chain(n.checked_sub(1))
        .map(|i| format!("/api/v1/blobs/{}", pages[i].blob.hash))
        .collect();
    let progress = if caller.user.is_some() {
        format!(" data-progress=\"/api/v1/galleries/{id}/progress\"")
    } else {
        String::new()
    };
    let link = |href: &str, label: &str, rel: &str| {
        if href.is_empty() {
            format!("<span class=\"muted\">{label}</span>")
        } else {
            format!("<a rel=\"{rel}\" href=\"{href}\">{label}</a>")
        }
    };
    let body = format!(
        "<div data-reader data-page=\"{n}\" data-prev=\"{prev}\" data-next=\"{next}\" \
         data-first=\"{first}\" data-last=\"{last_url}\" data-preload=\"{preload}\"{progress}>\
         <div class=\"reader-bar\"><a href=\"/g/{id}\">{back}</a><span>{page_word} {human} / {count}</span>\
         <span>{prev_link} · {next_link}</span></div>\
         <div class=\"reader-page\"><a href=\"{forward}\"><img src=\"/api/v1/blobs/{hash}\" alt=\"{page_word} {human}\"></a></div></div>",
        first = url(0),
        last_url = url(last),
        preload = preload.join(" "),
        back = text::BACK,
        page_word = text::PAGE,
        human = n + 1,
        count = pages.len(),
        prev_link = link(&prev, text::PREVIOUS, "prev"),
        next_link = link(&next, text::NEXT, "next"),
        forward = if next.is_empty() {
            format!("/g/{id}")
        } else {
            next.clone()
        },
        hash = pages[n].blob.hash,
    );
    Ok(layout(&caller, &g.title, "", &body, "reader").into_response())
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
