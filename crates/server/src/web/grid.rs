//! The grid: the library, search results and tag pages as covers, 40 to a page.

use super::*;
use library::ops::{galleries, reading};

/// Galleries on one page of the grid.
const PER_PAGE: usize = 40;

#[derive(Debug, serde::Deserialize)]
pub struct GridParams {
    #[serde(default)]
    q: String,
    page: Option<usize>,
    /// An order (`title`, `added:asc`, …) for a query that names none.
    #[serde(default)]
    sort: String,
}

/// The orders offered beside the search box: value and label.
const SORTS: [(&str, &str); 9] = [
    ("", "Newest"),
    ("added:asc", "Oldest"),
    ("title", "Title A–Z"),
    ("title:desc", "Title Z–A"),
    ("posted", "Posted, newest"),
    ("pages", "Most pages"),
    ("pages:asc", "Fewest pages"),
    ("size", "Largest"),
    ("random", "Random"),
];

/// `GET /?q=…&sort=…&page=N`: the library, or what a search finds, as a grid of covers.
pub async fn grid(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<GridParams>,
) -> Result<Response, ApiError> {
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let page = p.page.unwrap_or(1).max(1);
    let sort = SORTS
        .iter()
        .find(|(v, _)| *v == p.sort.trim())
        .map_or("", |(v, _)| *v);
    // The query as run: the box's text, with the picked order when the text names none.
    let q = if sort.is_empty() || p.q.contains("sort:") {
        p.q.clone()
    } else {
        format!("{} sort:{sort}", p.q)
    };
    let asker = caller.asker();
    let db = state.db.clone();
    let user = caller.user.as_ref().map(|u| u.id);
    let (found, collections) = crate::blocking(move || {
        let collections = match user {
            Some(u) => reading::collections(&db, u)?,
            None => Vec::new(),
        };
        let found = match browse::search(&live, &db, &q, asker, (page - 1) * PER_PAGE, PER_PAGE) {
            Ok(f) => Ok((f.total, f.galleries)),
            Err(e @ OpsError::BadQuery { .. }) => Err(e.to_string()),
            Err(e) => return Err(ApiError::from(e)),
        };
        Ok((found, collections))
    })
    .await?;
    let editor = caller.user.as_ref().is_some_and(|u| u.role >= Role::Editor);
    let mut body = toolbar(&p.q, sort, &collections, &caller);
    match found {
        Err(message) => body.push_str(&format!("<p role=\"alert\">{}</p>", escape(&message))),
        Ok((0, _)) if p.q.trim().is_empty() => {
            let upload = if editor {
                format!(" <a class=\"button\" href=\"/manage\">{}</a>", text::UPLOAD)
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<p class=\"empty\">{}{upload}</p>",
                text::EMPTY_LIBRARY
            ));
        }
        Ok((0, _)) => body.push_str(&format!("<p>{}</p>", text::NOTHING_FOUND)),
        Ok((total, galleries)) => {
            let select = if caller.user.is_some() {
                format!(
                    "<button class=\"plain\" type=\"button\" data-select hidden aria-pressed=\"false\">{}</button>",
                    text::SELECT
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<div class=\"result-head\"><p class=\"muted\">{total} {}</p>{select}</div>\
                 <div class=\"grid\" data-infinite>",
                text::GALLERIES
            ));
            for (k, g) in galleries.iter().enumerate() {
                let origin = Origin {
                    q: Some(p.q.clone()),
                    i: Some((page - 1) * PER_PAGE + k),
                };
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
                body.push_str(&format!(
                    "<div class=\"cell\"><a class=\"card\" href=\"/g/{id}{origin}\"><img class=\"cover\" loading=\"lazy\" src=\"{cover}\" \
                     alt=\"{title}\" width=\"250\" height=\"350\"><span class=\"meta\"><span class=\"title\">{title}</span>\
                     <span class=\"muted\">{pages} {pages_word}{language}</span></span></a>\
                     <label class=\"pick\"><input type=\"checkbox\" name=\"g\" value=\"{id}\" form=\"batch\">\
                     <span class=\"visually-hidden\">{select} {title}</span></label></div>",
                    id = escape(&g.public_id),
                    origin = escape(&origin.query()),
                    title = escape(&g.title),
                    pages = g.page_count,
                    pages_word = text::PAGES,
                    select = text::SELECT,
                ));
            }
            body.push_str("</div>");
            let extra = if sort.is_empty() {
                String::new()
            } else {
                format!("&sort={}", encode(sort))
            };
            body.push_str(&pagination(
                &p.q,
                &extra,
                page,
                (total as usize).div_ceil(PER_PAGE),
            ));
            if caller.user.is_some() {
                body.push_str(&batch_bar(&caller, editor, &collections, &p.q, sort));
            }
        }
    }
    let title = if p.q.trim().is_empty() {
        text::APP
    } else {
        p.q.as_str()
    };
    Ok(layout(&caller, title, &p.q, &body, "").into_response())
}

/// Filters (one click each) and the order of the results.
fn toolbar(q: &str, sort: &str, collections: &[db::Collection], caller: &Caller) -> String {
    let week_ago = date(db::now_ms() - 7 * 86_400_000);
    let mut filters = vec![
        (text::ALL.to_string(), String::new()),
        (text::NEW.to_string(), format!("added:>{week_ago}")),
        (text::UNREAD.to_string(), "unread".to_string()),
        (text::UNTAGGED.to_string(), "untagged".to_string()),
        (text::FAVORITES.to_string(), "favorite".to_string()),
    ];
    for c in collections {
        filters.push((
            c.name.clone(),
            format!("in:\"{}\"", c.name.replace('"', "")),
        ));
    }
    let mut html =
        String::from("<div class=\"toolbar\"><nav class=\"filters\" aria-label=\"Filters\">");
    for (label, query) in &filters {
        let current = if query.trim() == q.trim() {
            " aria-current=\"true\""
        } else {
            ""
        };
        html.push_str(&format!(
            "<a class=\"chip\" href=\"/?q={}\"{current}>{}</a>",
            encode(query),
            escape(label)
        ));
    }
    let signed_in = caller.user.is_some();
    if signed_in {
        html.push_str(&format!(
            "<a class=\"chip plain-chip\" href=\"/collections\">{}</a>",
            text::EDIT_COLLECTIONS
        ));
    }
    html.push_str("</nav>");
    // A search that is not one of the filters above can be kept as a saved search.
    if signed_in && !q.trim().is_empty() && !filters.iter().any(|(_, f)| f.trim() == q.trim()) {
        html.push_str(&format!(
            "<form class=\"save-search\" method=\"post\" action=\"/collections\">{csrf}\
             <input type=\"hidden\" name=\"action\" value=\"create\">\
             <input type=\"hidden\" name=\"query\" value=\"{q}\">\
             <input type=\"hidden\" name=\"back\" value=\"/?q={back}\">\
             <details><summary class=\"button plain\">{save}</summary>\
             <label><span class=\"visually-hidden\">{name}</span><input name=\"name\" value=\"{q}\" required maxlength=\"100\"></label>\
             <button type=\"submit\">{save}</button></details></form>",
            csrf = csrf_field(caller),
            q = escape(q),
            back = escape(&encode(q)),
            save = text::SAVE_SEARCH,
            name = text::NAME,
        ));
    }
    html.push_str(&format!(
        "<form class=\"sort\" method=\"get\" action=\"/\"><input type=\"hidden\" name=\"q\" value=\"{q}\">\
         <label>{order} <select name=\"sort\" data-autosubmit>",
        q = escape(q),
        order = text::ORDER,
    ));
    for (value, label) in SORTS {
        let selected = if value == sort { " selected" } else { "" };
        html.push_str(&format!(
            "<option value=\"{value}\"{selected}>{label}</option>"
        ));
    }
    html.push_str(&format!(
        "</select></label><button class=\"plain\" type=\"submit\">{}</button></form></div>",
        text::APPLY
    ));
    html
}

/// The batch bar: what can be done to the selected galleries (shown while selecting).
fn batch_bar(
    caller: &Caller,
    editor: bool,
    collections: &[db::Collection],
    q: &str,
    sort: &str,
) -> String {
    let csrf = csrf_field(caller);
    let back = format!(
        "/?q={}{}",
        encode(q),
        if sort.is_empty() {
            String::new()
        } else {
            format!("&sort={}", encode(sort))
        }
    );
    let mut html = format!(
        "<form id=\"batch\" class=\"batch\" method=\"post\" action=\"/batch/collect\" hidden>{csrf}\
         <input type=\"hidden\" name=\"back\" value=\"{back}\"><span><span data-count>0</span> {selected}</span>",
        back = escape(&back),
        selected = text::SELECTED,
    );
    if editor {
        html.push_str(&format!(
            "<label class=\"grow\"><span class=\"visually-hidden\">{tags}</span>\
             <input name=\"tags\" placeholder=\"{tags}\" data-suggest list=\"batch-tags\" autocomplete=\"off\"></label>\
             <datalist id=\"batch-tags\"></datalist>\
             <button type=\"submit\" formaction=\"/batch/tags\" name=\"op\" value=\"add\">{add}</button>\
             <button class=\"plain\" type=\"submit\" formaction=\"/batch/tags\" name=\"op\" value=\"remove\">{remove}</button>\
             <button class=\"plain\" type=\"submit\" formaction=\"/batch/trash\">{trash}</button>",
            tags = text::ADD_TAGS_PLACEHOLDER,
            add = text::ADD_TAGS,
            remove = text::REMOVE_TAGS,
            trash = text::TRASH,
        ));
    }
    let picked: Vec<&db::Collection> = collections.iter().filter(|c| c.query.is_none()).collect();
    if !picked.is_empty() {
        html.push_str(&format!(
            "<label><span class=\"visually-hidden\">{to}</span><select name=\"collection\">",
            to = text::COLLECTION
        ));
        for c in picked {
            html.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                c.id,
                escape(&c.name)
            ));
        }
        html.push_str(&format!(
            "</select></label><button class=\"plain\" type=\"submit\">{}</button>",
            text::ADD_TO_COLLECTION
        ));
    }
    html.push_str("</form>");
    html
}

/// The galleries a batch form names (`g` fields), at most a few thousand.
fn picked(fields: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "g")
        .map(|(_, v)| v.clone())
        .collect();
    if ids.len() > 5000 {
        return Err(ApiError::BadRequest(
            "at most 5000 galleries at once".into(),
        ));
    }
    Ok(ids)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn back_to(fields: &[(String, String)]) -> String {
    super::local_path(Some(field(fields, "back")))
}

/// `POST /batch/tags` (the batch form, `op=add|remove`): tags added to or removed from each
/// selected gallery.
pub async fn batch_tags(
    State(state): State<AppState>,
    caller: Caller,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let back = back_to(&fields);
    let ids = picked(&fields)?;
    let tags = match db::TagName::parse_list(field(&fields, "tags")) {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => return Ok(Redirect::to(&back).into_response()),
        Err(e) => {
            return Ok(problem(
                &caller,
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                &back,
            ));
        }
    };
    let add = field(&fields, "op") != "remove";
    let db = state.db.clone();
    crate::blocking(move || {
        let (added, removed): (&[db::TagName], &[db::TagName]) =
            if add { (&tags, &[]) } else { (&[], &tags) };
        for id in &ids {
            galleries::tags(&db, id, added, removed)?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to(&back).into_response())
}

/// `POST /batch/trash` (the batch form): each selected gallery moved to the trash.
pub async fn batch_trash(
    State(state): State<AppState>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let back = back_to(&fields);
    let ids = picked(&fields)?;
    let db = state.db.clone();
    crate::blocking(move || {
        for id in &ids {
            galleries::trash(&db, id)?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to(&back).into_response())
}

/// `POST /batch/collect` (the batch form, `collection=ID`): each selected gallery added to one of
/// the caller's collections.
pub async fn batch_collect(
    State(state): State<AppState>,
    caller: Caller,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let back = back_to(&fields);
    let ids = picked(&fields)?;
    let collection: i64 = field(&fields, "collection")
        .parse()
        .map_err(|_| ApiError::BadRequest("pick a collection".into()))?;
    let db = state.db.clone();
    crate::blocking(move || {
        for id in &ids {
            reading::collect(&db, user, collection, id, true)?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to(&back).into_response())
}

fn pagination(q: &str, extra: &str, page: usize, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let link = |n: usize| format!("/?q={}{extra}&page={n}", encode(q));
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

#[derive(Debug, serde::Deserialize)]
pub struct RandomParams {
    #[serde(default)]
    q: String,
}

/// `GET /random?q=…`: opens one gallery picked at random from what the search finds (the whole
/// library without one); back to the grid when it finds nothing.
pub async fn random(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<RandomParams>,
) -> Result<Response, ApiError> {
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let asker = caller.asker();
    let db = state.db.clone();
    let q = p.q.clone();
    let picked = crate::blocking(move || {
        // The text's own order, if any, gives way to a random one.
        let query = format!("{} sort:random", without_sort(&q));
        let found = browse::search(&live, &db, &query, asker, 0, 1)?;
        Ok(found.galleries.into_iter().next())
    })
    .await?;
    Ok(match picked {
        Some(g) => Redirect::to(&format!("/g/{}", encode(&g.public_id))).into_response(),
        None => Redirect::to(&format!("/?q={}", encode(&p.q))).into_response(),
    })
}

/// A query's text without its `sort:` terms.
fn without_sort(q: &str) -> String {
    q.split_whitespace()
        .filter(|w| !w.starts_with("sort:"))
        .collect::<Vec<_>>()
        .join(" ")
}
