//! The caller's collections and saved searches: made, renamed and deleted here, from the grid
//! ("Save this search") and from a gallery's page ("Add to collection", with a new one made on
//! the way). Each works as a plain form.

use super::*;
use library::ops::reading;

/// `GET /collections`: the caller's collections and saved searches, each to open, rename or
/// delete, and a form for a new one.
pub async fn collections_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<DoneParams>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let list = crate::blocking(move || Ok(reading::collections(&db, user)?)).await?;
    let csrf = csrf_field(&caller);
    let mut body = format!(
        "<h1>{title}</h1>{message}",
        title = text::COLLECTIONS,
        message = status_line(&p.message()),
    );
    if list.is_empty() {
        body.push_str(&format!("<p class=\"muted\">{}</p>", text::NO_COLLECTIONS));
    } else {
        body.push_str("<ul class=\"collections\">");
        for c in &list {
            let (what, open) = match &c.query {
                Some(q) => (
                    format!("{} <code>{}</code>", text::SAVED_SEARCH, escape(q)),
                    format!("/?q={}", encode(q)),
                ),
                None => (
                    match c.galleries {
                        1 => format!("1 {}", text::GALLERY),
                        n => format!("{n} {}", text::GALLERIES),
                    },
                    format!(
                        "/?q={}",
                        encode(&format!("in:\"{}\"", c.name.replace('"', "")))
                    ),
                ),
            };
            body.push_str(&format!(
                "<li><a class=\"name\" href=\"{open}\">{name}</a><span class=\"muted\">{what}</span>\
                 <form class=\"row\" method=\"post\" action=\"/collections\">{csrf}\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label class=\"grow\"><span class=\"visually-hidden\">{new_name}</span>\
                 <input name=\"name\" value=\"{name}\" required maxlength=\"100\"></label>\
                 <button class=\"plain\" type=\"submit\" name=\"action\" value=\"rename\">{rename}</button>\
                 <button class=\"plain\" type=\"submit\" name=\"action\" value=\"delete\" formnovalidate>{delete}</button></form></li>",
                id = c.id,
                name = escape(&c.name),
                new_name = text::TO_TAG,
                rename = text::RENAME,
                delete = text::DELETE,
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<h2>{new}</h2><form class=\"row\" method=\"post\" action=\"/collections\">{csrf}\
         <input type=\"hidden\" name=\"action\" value=\"create\">\
         <label class=\"grow\">{name_word}<input name=\"name\" required maxlength=\"100\"></label>\
         <label class=\"grow\">{query_word}<input name=\"query\" placeholder=\"{query_hint}\"></label>\
         <button type=\"submit\">{make}</button></form>",
        new = text::NEW_COLLECTION,
        name_word = text::NAME,
        query_word = text::SAVED_QUERY,
        query_hint = text::SAVED_QUERY_HINT,
        make = text::MAKE,
    ));
    Ok(layout(&caller, text::COLLECTIONS, "", &body, "").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct CollectionForm {
    action: String,
    #[serde(default, deserialize_with = "crate::extract::number")]
    id: Option<i64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    /// Where to go afterwards (a path of this site); the collections page by default.
    back: Option<String>,
}

/// `POST /collections` (a form): `action=create` (with `query`, a saved search), `rename` or
/// `delete` one of the caller's collections.
pub async fn collections_submit(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<CollectionForm>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let query = Some(form.query.trim().to_string()).filter(|q| !q.is_empty());
    let (action, name) = (form.action.clone(), form.name.clone());
    let done = crate::blocking(move || match (action.as_str(), form.id) {
        ("create", _) => {
            reading::create_collection(&db, user, &name, query.as_deref())?;
            Ok("collection-made")
        }
        ("rename", Some(id)) => {
            reading::rename_collection(&db, user, id, &name)?;
            Ok("saved")
        }
        ("delete", Some(id)) => {
            reading::remove_collection(&db, user, id)?;
            Ok("collection-deleted")
        }
        _ => Err(ApiError::BadRequest(
            "action is create, rename or delete (with the collection's id)".into(),
        )),
    })
    .await?;
    let to = match form.back.as_deref() {
        Some(back) => local_path(Some(back)),
        None => format!("/collections?done={}", encode(done)),
    };
    Ok(Redirect::to(&to).into_response())
}
