//! A gallery's page (details, tags by namespace, pages) and the forms that edit it: title, tags,
//! page order, cover (a page, or a part of one cut out), trash, restore and deletion for good.
//! Every form works without JavaScript; `gallery.js` adds tag autocomplete, dragging pages into
//! order and drawing the crop.

use super::*;
use library::ops::{galleries, reading};

/// `GET /g/{id}`: a gallery's details, tags by namespace, and its pages.
pub async fn gallery(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Query(origin): Query<Origin>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let user = caller.user.as_ref().map(|u| u.id);
    let (g, pages, mine) = crate::blocking(move || {
        let (g, pages) = browse::gallery_with_pages(&db, &public_id)?;
        let mine = reading::mine(&db, user, g.id)?;
        Ok((g, pages, mine))
    })
    .await?;
    let reading::Mine {
        progress,
        favorite,
        collections,
    } = mine;
    let id = escape(&g.public_id);
    let role = caller.user.as_ref().map(|u| u.role);
    let editor = role >= Some(Role::Editor);
    let admin = role == Some(Role::Admin);
    let csrf = csrf_field(&caller);
    let cover = g.cover.map_or(String::new(), |c| {
        format!(
            "<img src=\"/api/v1/thumbnails/{c}\" alt=\"{}\" width=\"320\" height=\"448\">",
            escape(&g.title)
        )
    });
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &g.tags {
        by_ns.entry(&t.tag.namespace).or_default().push(&t.tag.name);
    }
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
    let trashed = g.trashed_at.is_some();
    let mut edit = String::new();
    if editor {
        let (action, label) = if trashed {
            ("restore", text::RESTORE)
        } else {
            ("trash", text::TRASH)
        };
        edit.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"/g/{id}/{action}\">{csrf}\
             <button class=\"plain\" type=\"submit\">{label}</button></form>"
        ));
    }
    if admin {
        edit.push_str(&format!(
            "<details class=\"danger\"><summary class=\"button plain\">{purge}</summary>\
             <form method=\"post\" action=\"/g/{id}/purge\">{csrf}<p>{warning}</p>\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {understood}</label> \
             <button type=\"submit\">{purge}</button></form></details>",
            purge = text::PURGE,
            warning = text::PURGE_WARNING,
            understood = text::PURGE_CONFIRM,
        ));
    }
    let trash_note = if trashed {
        format!("<p role=\"status\" class=\"note\">{}</p>", text::IN_TRASH)
    } else {
        String::new()
    };
    let (read_label, read_page) = match progress {
        Some(p) if !p.finished && p.page > 0 => (text::CONTINUE, p.page),
        _ => (text::READ, 0),
    };
    let original = if g.title_original.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"muted original\" lang=\"ja\">{}</p>",
            escape(&g.title_original)
        )
    };
    let title_editor = if editor {
        format!(
            "<details class=\"edit-title\"><summary class=\"button plain\">{edit_title}</summary>\
             <form method=\"post\" action=\"/g/{id}/title\">{csrf}\
             <label>{title_word}<input name=\"title\" value=\"{title}\" required maxlength=\"1000\"></label>\
             <label>{original_word}<input name=\"title_original\" value=\"{original}\" maxlength=\"1000\"></label>\
             <button type=\"submit\">{save}</button></form></details>",
            edit_title = text::EDIT_TITLE,
            title_word = text::TITLE,
            original_word = text::ORIGINAL_TITLE,
            title = escape(&g.title),
            original = escape(&g.title_original),
            save = text::SAVE,
        )
    } else {
        String::new()
    };
    let add_tags = if editor {
        format!(
            "<form class=\"add-tags\" method=\"post\" action=\"/g/{id}/tags\">{csrf}\
             <label class=\"visually-hidden\" for=\"add\">{add}</label>\
             <input id=\"add\" name=\"add\" placeholder=\"{placeholder}\" autocomplete=\"off\" \
              data-suggest list=\"tag-suggestions\"><datalist id=\"tag-suggestions\"></datalist>\
             <button type=\"submit\">{add}</button></form>",
            add = text::ADD_TAGS,
            placeholder = text::ADD_TAGS_PLACEHOLDER,
        )
    } else {
        String::new()
    };
    let posted = g.posted_at.map_or(String::new(), |p| {
        format!("<dt>{}</dt><dd>{}</dd>", text::POSTED, date(p))
    });
    let source = if g.source_filename.is_empty() {
        String::new()
    } else {
        format!(
            "<dt>{}</dt><dd class=\"source\">{}</dd>",
            text::SOURCE,
            escape(&g.source_filename)
        )
    };
    let collect = if caller.user.is_some() {
        let options: String = collections
            .iter()
            .filter(|c| c.query.is_none())
            .map(|c| format!("<option value=\"{}\">{}</option>", c.id, escape(&c.name)))
            .collect();
        format!(
            "<form class=\"inline row collect\" method=\"post\" action=\"/g/{id}/collect\">{csrf}\
             <label><span class=\"visually-hidden\">{collection}</span><select name=\"collection\" data-new-collection>{options}\
             <option value=\"new\">{new_option}</option></select></label>\
             <label class=\"new-collection\"><span class=\"visually-hidden\">{new_name}</span>\
             <input name=\"new_name\" placeholder=\"{new_name}\" maxlength=\"100\"></label>\
             <button class=\"plain\" type=\"submit\">{add}</button></form>",
            collection = text::COLLECTION,
            new_option = text::NEW_COLLECTION_OPTION,
            new_name = text::NEW_COLLECTION_NAME,
            add = text::ADD_TO_COLLECTION,
        )
    } else {
        String::new()
    };
    let elsewhere = format!(
        "<a class=\"button plain\" href=\"https://e-hentai.org/?f_search={}\" rel=\"noreferrer noopener\" target=\"_blank\">{}</a>",
        encode(&g.title),
        text::SEARCH_EH
    );
    let count = pages.len();
    let thumbs = page_grid(&id, &pages, editor, &csrf, &origin);
    let category = if g.category.is_empty() {
        String::new()
    } else {
        format!(
            "<dt>{}</dt><dd>{}</dd>",
            text::CATEGORY,
            escape(&g.category)
        )
    };
    let summary = if g.summary.trim().is_empty() {
        String::new()
    } else {
        format!("<p class=\"summary\">{}</p>", escape(g.summary.trim()))
    };
    // Reading comes first, right below the title, so that it is on a phone's first screen.
    let body = format!(
        "<div class=\"gallery-head\">{cover}<div class=\"gallery-info\">{trash_note}<h1>{title}</h1>{original}\
         <div class=\"actions primary\"><a class=\"button\" href=\"/g/{id}/read?page={read_page}{suffix}\">{read_label}</a>\
         {favorite_form}</div></div></div>\
         <div class=\"gallery-details\">{summary}<dl class=\"facts\">{category}<dt>{pages_word}</dt><dd>{count}</dd>\
         <dt>{size_word}</dt><dd>{size}</dd><dt>{added_word}</dt><dd>{added}</dd>{posted}{source}</dl>\
         {tags}{add_tags}<div class=\"actions\">\
         <a class=\"button plain\" href=\"/api/v1/galleries/{id}/cbz\" download>{download}</a>\
         {collect}{elsewhere}{title_editor}{edit}</div></div>{thumbs}",
        title = escape(&g.title),
        suffix = escape(&origin.suffix()),
        pages_word = text::PAGES_WORD,
        size_word = text::SIZE,
        size = megabytes(g.total_bytes),
        added_word = text::ADDED,
        added = date(g.added_at),
        download = text::DOWNLOAD,
    );
    Ok(layout(&caller, &g.title, "", &body, "").into_response())
}

/// The pages as thumbnails. For editors it is a form: each page's number can be typed (or the
/// pages dragged, with `gallery.js`) to reorder them, and any page made the cover or cropped.
fn page_grid(id: &str, pages: &[db::Page], editor: bool, csrf: &str, origin: &Origin) -> String {
    let count = pages.len();
    let suffix = escape(&origin.suffix());
    let mut html = if editor {
        format!(
            "<form class=\"pages-form\" method=\"post\" action=\"/g/{id}/order\">{csrf}\
             <p class=\"muted\" id=\"order-help\">{help}</p><ol class=\"thumbs editable\" aria-describedby=\"order-help\">",
            help = text::ORDER_HELP,
        )
    } else {
        String::from("<ol class=\"thumbs\">")
    };
    for p in pages {
        let src = match p.thumbnail {
            Some(t) => format!("/api/v1/blobs/{t}"),
            None => format!("/api/v1/thumbnails/{}", p.blob.hash),
        };
        let n = p.position;
        let human = n + 1;
        html.push_str(&format!(
            "<li data-page=\"{n}\"><a href=\"/g/{id}/read?page={n}{suffix}\"><img loading=\"lazy\" src=\"{src}\" \
             alt=\"{page_word} {human}\" width=\"100\" height=\"140\" draggable=\"false\"></a>",
            page_word = text::PAGE,
        ));
        if editor {
            html.push_str(&format!(
                "<span class=\"page-tools\"><input type=\"hidden\" name=\"p\" value=\"{n}\"><label><span class=\"visually-hidden\">{position} {human}</span>\
                 <input class=\"at\" type=\"number\" name=\"at\" value=\"{human}\" min=\"1\" max=\"{count}\" required></label>\
                 <button class=\"plain\" type=\"submit\" formaction=\"/g/{id}/cover\" formnovalidate name=\"page\" value=\"{n}\" \
                  aria-label=\"{make_cover} ({page_word} {human})\">{cover_word}</button>\
                 <a class=\"button plain\" href=\"/g/{id}/cover?page={n}\" aria-label=\"{crop} ({page_word} {human})\">{crop_word}</a></span>",
                position = text::POSITION_OF,
                page_word = text::PAGE,
                make_cover = text::MAKE_COVER,
                cover_word = text::COVER,
                crop = text::CROP_COVER,
                crop_word = text::CROP,
            ));
        }
        html.push_str("</li>");
    }
    html.push_str("</ol>");
    if editor {
        html.push_str(&format!(
            "<p><button type=\"submit\">{}</button></p></form>",
            text::SAVE_ORDER
        ));
    }
    html
}

#[derive(Debug, serde::Deserialize)]
pub struct TitleForm {
    title: String,
    #[serde(default)]
    title_original: String,
}

/// `POST /g/{id}/title` (a form).
pub async fn title_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<TitleForm>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let db = state.db.clone();
    let title = form.title.trim().to_string();
    let original = form.title_original.trim().to_string();
    let change = db::DetailsChange {
        title: Some(title),
        title_original: Some(original),
        ..Default::default()
    };
    let done = crate::blocking(move || Ok(galleries::describe(&db, &public_id, &change)?)).await;
    match done {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(ApiError::BadRequest(m)) => Ok(problem(&caller, StatusCode::BAD_REQUEST, &m, &back)),
        Err(e) => Err(e),
    }
}

/// The page order a form asks for. Each page sends `p` (its current position, from 0) and then
/// `at` (the position it moves to, from 1), in the order the pages are on screen; ties keep that
/// order. Without JavaScript the screen order is the current one and the typed numbers decide;
/// with it, dragging changes the screen order and renumbers.
fn order_from_form(fields: &[(String, String)]) -> Result<Vec<u32>, String> {
    let number = |v: &str| -> Result<u32, String> {
        v.trim()
            .parse()
            .map_err(|_| format!("{v:?} is not a page number"))
    };
    let mut pages = Vec::new();
    let mut at = Vec::new();
    for (k, v) in fields {
        match k.as_str() {
            "p" => pages.push(number(v)?),
            "at" => at.push(number(v)?),
            _ => {}
        }
    }
    if pages.len() != at.len() {
        return Err("each page needs its new number".into());
    }
    let mut screen: Vec<usize> = (0..pages.len()).collect();
    screen.sort_by_key(|&i| (at[i], i));
    Ok(screen.into_iter().map(|i| pages[i]).collect())
}

/// `POST /g/{id}/order` (a form of `at` fields, as [`page_grid`] makes).
pub async fn order_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let order = match order_from_form(&fields) {
        Ok(o) => o,
        Err(m) => return Ok(problem(&caller, StatusCode::BAD_REQUEST, &m, &back)),
    };
    let db = state.db.clone();
    let done = crate::blocking(move || Ok(galleries::reorder(&db, &public_id, &order)?)).await;
    match done {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(ApiError::BadRequest(m)) => Ok(problem(&caller, StatusCode::BAD_REQUEST, &m, &back)),
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct CoverForm {
    page: u32,
    /// The part of the page, in percent of its width and height (all four, or none).
    x: Option<f64>,
    y: Option<f64>,
    w: Option<f64>,
    h: Option<f64>,
}

/// `POST /g/{id}/cover` (a form): a page, or a part of one, becomes the cover.
pub async fn cover_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<CoverForm>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let part = match (form.x, form.y, form.w, form.h) {
        (Some(x), Some(y), Some(w), Some(h)) => Some(library::import::Crop {
            x: x / 100.0,
            y: y / 100.0,
            w: w / 100.0,
            h: h / 100.0,
        }),
        _ => None,
    };
    match crate::galleries::set_cover(&state, public_id, form.page, part).await {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(ApiError::BadRequest(m)) => Ok(problem(&caller, StatusCode::BAD_REQUEST, &m, &back)),
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct CropParams {
    page: Option<u32>,
}

/// `GET /g/{id}/cover?page=N`: cut a cover out of a page (drag a rectangle with `gallery.js`,
/// or type its edges).
pub async fn crop_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Query(p): Query<CropParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let (g, pages) =
        crate::blocking(move || Ok(browse::gallery_with_pages(&db, &public_id)?)).await?;
    let n = p.page.unwrap_or(g.cover_page) as usize;
    let Some(page) = pages.get(n) else {
        return Err(ApiError::NotFound(
            Missing::Page,
            format!("this gallery has no page {}", n + 1),
        ));
    };
    let id = escape(&g.public_id);
    let field = |name: &str, label: &str, value: u32| {
        format!(
            "<label>{label} (%)<input type=\"number\" name=\"{name}\" min=\"0\" max=\"100\" step=\"any\" value=\"{value}\" required></label>"
        )
    };
    let body = format!(
        "<h1>{crop} · {page_word} {human}</h1><p class=\"muted\">{help}</p>\
         <div class=\"cropper\" data-cropper><img src=\"/api/v1/blobs/{hash}\" alt=\"{page_word} {human}\" \
          width=\"{w}\" height=\"{h}\" draggable=\"false\"><div class=\"crop-box\" hidden></div></div>\
         <form class=\"crop-form\" method=\"post\" action=\"/g/{id}/cover\">{csrf}\
         <input type=\"hidden\" name=\"page\" value=\"{n}\">{x}{y}{cw}{ch}\
         <p><button type=\"submit\">{save}</button> <a class=\"button plain\" href=\"/g/{id}\">{back}</a></p></form>",
        crop = text::CROP_COVER,
        page_word = text::PAGE,
        human = n + 1,
        help = text::CROP_HELP,
        hash = page.blob.hash,
        w = page.blob.width,
        h = page.blob.height,
        csrf = csrf_field(&caller),
        x = field("x", text::LEFT, 0),
        y = field("y", text::TOP, 0),
        cw = field("w", text::WIDTH, 100),
        ch = field("h", text::HEIGHT, 100),
        save = text::SAVE_COVER,
        back = text::BACK_TO,
    );
    Ok(layout(&caller, text::CROP_COVER, "", &body, "").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct PurgeForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /g/{id}/purge` (a form, `confirm=yes`): deletes the gallery for good.
pub async fn purge_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<PurgeForm>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    if form.confirm != "yes" {
        return Ok(problem(
            &caller,
            StatusCode::BAD_REQUEST,
            text::PURGE_UNCONFIRMED,
            &back,
        ));
    }
    crate::galleries::purge_gallery(&state, public_id).await?;
    Ok(Redirect::to("/manage/trash?done=purged").into_response())
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
    crate::blocking(move || Ok(galleries::tags(&db, &public_id, &add, &remove)?)).await?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct CollectForm {
    /// A collection's id, or `new` to make one named `new_name` on the way.
    collection: String,
    #[serde(default)]
    new_name: String,
}

/// `POST /g/{id}/collect` (a form): the gallery added to one of the caller's collections, or to
/// a new one made on the way.
pub async fn collect_submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Form(form): Form<CollectForm>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let back = format!("/g/{}", encode(&public_id));
    let db = state.db.clone();
    crate::blocking(move || {
        // The gallery is checked before a new collection is made for it.
        browse::must_exist(&db, &public_id)?;
        let collection = match form.collection.as_str() {
            "new" => reading::create_collection(&db, user, &form.new_name, None)?,
            other => other
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("{other:?} is not a collection")))?,
        };
        Ok(reading::collect(&db, user, collection, &public_id, true)?)
    })
    .await?;
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
    crate::blocking(move || Ok(reading::set_favorite(&db, user, &public_id, on)?)).await?;
    Ok(Redirect::to(&back).into_response())
}

/// `POST /g/{id}/trash` (a form).
pub async fn trash_submit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let back = format!("/g/{}", encode(&public_id));
    let db = state.db.clone();
    crate::blocking(move || Ok(galleries::trash(&db, &public_id)?)).await?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    back: String,
}

/// `POST /g/{id}/restore` (a form; `back=trash` returns to the trash).
pub async fn restore_submit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    Form(form): Form<RestoreForm>,
) -> Result<Response, ApiError> {
    let back = if form.back == "trash" {
        "/manage/trash?done=restored".to_string()
    } else {
        format!("/g/{}", encode(&public_id))
    };
    let db = state.db.clone();
    crate::blocking(move || Ok(galleries::restore(&db, &public_id)?)).await?;
    Ok(Redirect::to(&back).into_response())
}
