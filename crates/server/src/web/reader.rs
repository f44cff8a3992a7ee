//! The reader: the page in the URL rendered on the server (it reads without JavaScript, one page
//! per request), and the data `reader.js` needs to read the whole gallery without reloading:
//! single, double and vertical (webtoon) modes, either direction, fit modes, swipe, tap zones
//! and pinch zoom, a page slider with thumbnail previews, preloading both ways, progress saved
//! per user, and the previous and next gallery of the search it was opened from.

use super::*;

#[derive(Debug, serde::Deserialize)]
pub struct ReadParams {
    page: Option<u32>,
    #[serde(flatten)]
    from: Origin,
}

/// A neighbour in the search the reader was opened from.
#[derive(Debug, serde::Serialize)]
struct Neighbour {
    url: String,
    title: String,
}

/// The galleries before and after `id` in the search `from` names, when `from` still holds
/// `id` at its position (the library may have changed since; then there are none).
fn neighbours(state: &AppState, caller: &Caller, id: i64, from: &Origin) -> [Option<Neighbour>; 2] {
    let (Some(live), Some(at)) = (state.search.as_ref(), from.i) else {
        return [None, None];
    };
    let q = from.q.clone().unwrap_or_default();
    let start = at.saturating_sub(1);
    let Ok(found) = live.search(&q, caller.asker(), start, 3) else {
        return [None, None];
    };
    let Some(k) = found.ids.iter().position(|&g| g == id) else {
        return [None, None];
    };
    if start + k != at {
        return [None, None];
    }
    let pick = |j: Option<usize>| -> Option<(i64, usize)> {
        let j = j?;
        found.ids.get(j).map(|&g| (g, start + j))
    };
    let wanted = [pick(k.checked_sub(1)), pick(Some(k + 1))];
    let ids: Vec<i64> = wanted.iter().flatten().map(|(g, _)| *g).collect();
    let Ok(summaries) = browse::summaries(&state.db, &ids) else {
        return [None, None];
    };
    wanted.map(|w| {
        let (g, i) = w?;
        let s = summaries.iter().find(|s| s.id == g)?;
        let there = Origin {
            q: from.q.clone(),
            i: Some(i),
        };
        Some(Neighbour {
            url: format!("/g/{}/read?page=0{}", encode(&s.public_id), there.suffix()),
            title: s.title.clone(),
        })
    })
}

/// JSON made safe inside a `<script type="application/json">` element.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `GET /g/{id}/read?page=N[&q=…&i=…]`: one page (counting from 0); the URL carries the page, so
/// the back button and links work.
pub async fn reader(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    Query(p): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let wanted = public_id.clone();
    let (g, pages) = crate::blocking(move || Ok(browse::gallery_with_pages(&db, &wanted)?)).await?;
    let Some(last) = pages.len().checked_sub(1) else {
        return Err(ApiError::NotFound(
            Missing::Page,
            "this gallery has no pages".into(),
        ));
    };
    let n = (p.page.unwrap_or(0) as usize).min(last);
    let suffix = p.from.suffix();
    if p.page.is_some_and(|asked| asked as usize != n) {
        return Ok(
            Redirect::to(&format!("/g/{}/read?page={n}{suffix}", encode(&public_id)))
                .into_response(),
        );
    }
    let [before, after] = {
        let (state, caller, from, id) = (state.clone(), caller.clone(), p.from.clone(), g.id);
        crate::blocking(move || Ok(neighbours(&state, &caller, id, &from))).await?
    };
    let id = escape(&g.public_id);
    let url = |i: usize| format!("/g/{id}/read?page={i}{}", escape(&suffix));
    let back = format!("/g/{id}{}", escape(&p.from.query()));
    let direction = match g.reading_direction {
        db::ReadingDirection::LeftToRight => "ltr",
        db::ReadingDirection::RightToLeft => "rtl",
        db::ReadingDirection::Vertical => "vertical",
    };
    let data = serde_json::json!({
        "gallery": g.public_id,
        "page": n,
        "direction": direction,
        "progress": caller.user.as_ref().map(|_| format!("/api/v1/galleries/{}/progress", g.public_id)),
        "back": format!("/g/{}{}", g.public_id, p.from.query()),
        "previous": before,
        "next": after,
        "pages": pages.iter().map(|pg| serde_json::json!([
            pg.blob.hash.to_string(),
            pg.blob.width,
            pg.blob.height,
            pg.thumbnail.map(|t| t.to_string()),
        ])).collect::<Vec<_>>(),
        "text": {
            "page": text::PAGE,
            "end": text::LAST_PAGE,
            "start": text::FIRST_PAGE,
        },
    });
    let link = |href: String, label: &str, rel: &str| {
        if href.is_empty() {
            format!("<span class=\"muted\">{label}</span>")
        } else {
            format!("<a class=\"button plain\" rel=\"{rel}\" href=\"{href}\">{label}</a>")
        }
    };
    let prev = if n > 0 { url(n - 1) } else { String::new() };
    let next = if n < last { url(n + 1) } else { String::new() };
    let neighbour = |nb: &Option<Neighbour>, label: &str, rel: &str| {
        nb.as_ref().map_or(String::new(), |nb| {
            format!(
                "<a class=\"button\" rel=\"{rel}\" href=\"{}\">{label}: {}</a>",
                escape(&nb.url),
                escape(&nb.title)
            )
        })
    };
    let radio = |name: &str, options: &[(&str, &str)]| -> String {
        options
            .iter()
            .map(|(value, label)| {
                format!(
                    "<label><input type=\"radio\" name=\"{name}\" value=\"{value}\"> {label}</label>"
                )
            })
            .collect()
    };
    let back_short = text::BACK_TO;
    let body = format!(
        "<div class=\"reader\" data-reader>\
         <script type=\"application/json\" id=\"reader-data\">{data}</script>\
         <div class=\"reader-bar\"><a class=\"button reader-back\" href=\"{back}\" aria-label=\"{back_label}\">‹ {back_short}</a>\
         <span class=\"reader-title\">{title}</span>\
         <span class=\"reader-count\" aria-live=\"polite\">{page_word} {human} / {count}</span>\
         <button class=\"plain\" type=\"button\" data-settings hidden aria-expanded=\"false\" \
          aria-controls=\"reader-settings\">{settings}</button></div>\
         <form class=\"reader-settings\" id=\"reader-settings\" hidden>\
         <fieldset><legend>{mode}</legend>{modes}</fieldset>\
         <fieldset><legend>{direction_word}</legend>{directions}</fieldset>\
         <fieldset><legend>{fit}</legend>{fits}</fieldset>\
         <label>{preload_word} <input type=\"number\" name=\"preload\" min=\"0\" max=\"10\"></label></form>\
         <div class=\"reader-stage\" tabindex=\"-1\"><a href=\"{forward}\">\
         <img src=\"/api/v1/blobs/{hash}\" alt=\"{page_word} {human}\" width=\"{w}\" height=\"{h}\"></a></div>\
         <div class=\"reader-end\" hidden role=\"dialog\" aria-live=\"polite\"><p data-end-text></p>\
         {prev_gallery}{next_gallery}<a class=\"button plain\" href=\"{back}\">{back_label}</a></div>\
         <div class=\"reader-foot\">{prev_link}\
         <div class=\"reader-slider\" hidden><span class=\"bubble\" hidden><img alt=\"\"><span></span></span>\
         <input type=\"range\" min=\"1\" max=\"{count}\" value=\"{human}\" aria-label=\"{page_word}\"></div>\
         {next_link}</div></div>",
        data = script_json(&data),
        back_label = text::BACK,
        title = escape(&g.title),
        page_word = text::PAGE,
        human = n + 1,
        count = pages.len(),
        settings = text::READER_SETTINGS,
        mode = text::MODE,
        modes = radio(
            "mode",
            &[
                ("single", text::SINGLE),
                ("double", text::DOUBLE),
                ("webtoon", text::WEBTOON)
            ]
        ),
        direction_word = text::DIRECTION,
        directions = radio("dir", &[("ltr", text::LTR), ("rtl", text::RTL)]),
        fit = text::FIT,
        fits = radio(
            "fit",
            &[
                ("height", text::FIT_HEIGHT),
                ("width", text::FIT_WIDTH),
                ("original", text::FIT_ORIGINAL)
            ]
        ),
        preload_word = text::PRELOAD,
        forward = if next.is_empty() {
            back.clone()
        } else {
            next.clone()
        },
        hash = pages[n].blob.hash,
        w = pages[n].blob.width,
        h = pages[n].blob.height,
        prev_gallery = neighbour(&before, text::PREVIOUS_GALLERY, "prev"),
        next_gallery = neighbour(&after, text::NEXT_GALLERY, "next"),
        prev_link = link(prev, text::PREVIOUS, "prev"),
        next_link = link(next, text::NEXT, "next"),
    );
    Ok(layout(&caller, &g.title, "", &body, "reader").into_response())
}
