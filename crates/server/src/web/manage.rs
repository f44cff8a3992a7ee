//! The manage pages, for editors (and admins for what only they may do): uploads with live
//! progress, imports from the server's disk, import jobs followed live, the trash, the image
//! store, tag siblings and parents, and users.

use super::*;
use library::ops::tags;

/// The manage pages' navigation; the admin-only ones shown to admins.
fn manage_nav(caller: &Caller, here: &str) -> String {
    let admin = caller.user.as_ref().is_some_and(|u| u.role == Role::Admin);
    let mut links = vec![
        ("/manage", text::IMPORTS),
        ("/manage/trash", text::TRASH_TITLE),
        ("/manage/tags", text::TAG_TOOLS),
    ];
    if admin {
        links.push(("/manage/storage", text::STORAGE));
        links.push(("/manage/users", text::USERS));
    }
    let mut html = String::from("<nav class=\"subnav\" aria-label=\"Manage\">");
    for (href, label) in links {
        let current = if href == here {
            " aria-current=\"page\""
        } else {
            ""
        };
        html.push_str(&format!("<a href=\"{href}\"{current}>{label}</a>"));
    }
    html.push_str("</nav>");
    html
}

pub(super) fn status_line(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"status\" class=\"note\">{}</p>", escape(message))
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneParams {
    done: Option<String>,
    error: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::number")]
    count: Option<u64>,
}

impl DoneParams {
    pub(super) fn message(&self) -> String {
        match (&self.error, self.done.as_deref()) {
            (Some(e), _) => e.clone(),
            (None, Some("purged")) => text::PURGED.into(),
            (None, Some("restored")) => text::RESTORED.into(),
            (None, Some("import")) => text::IMPORT_STARTED.into(),
            (None, Some("compacted")) => text::COMPACTED.into(),
            (None, Some("saved")) => text::SAVED.into(),
            (None, Some("collection-made")) => text::COLLECTION_MADE.into(),
            (None, Some("collection-deleted")) => text::COLLECTION_DELETED.into(),
            (None, Some("renamed")) => format!("{} {}", self.count.unwrap_or(0), text::RENAMED),
            _ => String::new(),
        }
    }
}

fn redirect_with_error(to: &str, e: &ApiError) -> Response {
    Redirect::to(&format!("{to}?error={}", encode(&e.to_string()))).into_response()
}

/// `GET /manage`: uploads, imports from the server, and the latest import jobs.
pub async fn manage(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<DoneParams>,
) -> Result<Response, ApiError> {
    let admin = caller.user.as_ref().is_some_and(|u| u.role == Role::Admin);
    let jobs = {
        let state = state.clone();
        crate::blocking(move || crate::jobs::recent(&state, 30)).await?
    };
    let mut body = format!(
        "<h1>{}</h1>{}{}",
        text::MANAGE,
        manage_nav(&caller, "/manage"),
        status_line(&p.message())
    );
    body.push_str(&format!(
        "<h2>{upload}</h2><div class=\"dropzone\" data-upload hidden data-waiting=\"{waiting}\" \
         data-importing=\"{importing}\" data-imported=\"{imported}\" data-duplicate=\"{duplicate}\" \
         data-failed=\"{failed}\" data-broken=\"{broken}\" data-open=\"{open}\">\
         <p>{drop}</p><label class=\"button\">{pick}<input class=\"visually-hidden\" type=\"file\" multiple \
          accept=\".zip,.cbz,.rar,.cbr,.7z,.cb7,.tar,.cbt,.gz,.tgz\"></label><ol class=\"uploads\"></ol></div>\
         <noscript><p>{noscript}</p></noscript>",
        upload = text::UPLOAD,
        waiting = text::UPLOAD_WAITING,
        importing = text::UPLOAD_IMPORTING,
        imported = text::UPLOAD_IMPORTED,
        duplicate = text::UPLOAD_DUPLICATE,
        failed = text::UPLOAD_FAILED,
        broken = text::UPLOAD_BROKEN,
        open = text::OPEN,
        drop = text::DROP_HERE,
        pick = text::PICK_FILES,
        noscript = text::UPLOAD_NEEDS_JS,
    ));
    if admin {
        let roots: Vec<String> = state
            .import_roots
            .iter()
            .map(|r| escape(&r.display().to_string()))
            .collect();
        if roots.is_empty() {
            body.push_str(&format!(
                "<h2>{}</h2><p class=\"muted\">{}</p>",
                text::SERVER_IMPORT,
                text::NO_ROOTS
            ));
        } else {
            body.push_str(&format!(
                "<h2>{title}</h2><form class=\"row\" method=\"post\" action=\"/manage/import\">{csrf}\
                 <label class=\"grow\">{below} {roots}<input name=\"path\" required value=\"{first}\"></label>\
                 <button type=\"submit\">{start}</button></form>",
                title = text::SERVER_IMPORT,
                csrf = csrf_field(&caller),
                below = text::BELOW_ROOTS,
                roots = roots.join(", "),
                first = roots[0],
                start = text::START_IMPORT,
            ));
        }
    }
    body.push_str(&format!(
        "<h2>{}</h2><table class=\"jobs\" data-jobs data-queued=\"{}\" data-running=\"{}\" data-done=\"{}\" \
         data-failed=\"{}\" data-thumbnails=\"{}\"{}><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        text::JOBS,
        text::JOB_QUEUED,
        text::JOB_RUNNING,
        text::JOB_DONE,
        text::JOB_FAILED,
        text::JOB_THUMBNAILS,
        if jobs.is_empty() { " hidden" } else { "" },
        text::JOB_WHAT,
        text::JOB_STATE,
        text::JOB_PROGRESS,
        text::JOB_FAILURES,
    ));
    for j in &jobs {
        let state_word = match j.state {
            db::JobState::Queued => text::JOB_QUEUED,
            db::JobState::Running => text::JOB_RUNNING,
            db::JobState::Done => text::JOB_DONE,
            db::JobState::Failed => text::JOB_FAILED,
        };
        let failures: String = j
            .failures
            .iter()
            .map(|f| format!("<div>{}</div>", escape(f)))
            .collect();
        body.push_str(&format!(
            "<tr data-job=\"{id}\" class=\"{class}\"><td>{what}</td><td>{state_word}</td>\
             <td><progress max=\"{max}\" value=\"{done}\"></progress><span> {done} / {total}</span></td><td>{failures}</td></tr>",
            id = j.id,
            class = j.state.as_str(),
            what = match j.kind {
                db::JobKind::Thumbnails => text::JOB_THUMBNAILS.to_string(),
                _ => escape(&j.current),
            },
            max = j.total.max(1),
            done = j.done,
            total = j.total,
        ));
    }
    body.push_str("</tbody></table>");
    if jobs.is_empty() {
        body.push_str(&format!(
            "<p class=\"muted\" data-no-jobs>{}</p>",
            text::NO_JOBS
        ));
    }
    Ok(layout(&caller, text::MANAGE, "", &body, "").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct ImportForm {
    path: String,
}

/// `POST /manage/import` (a form): starts importing a path below an import root.
pub async fn import_submit(
    State(state): State<AppState>,
    Form(form): Form<ImportForm>,
) -> Result<Response, ApiError> {
    match crate::galleries::start_server_import(&state, form.path).await {
        Ok(_) => Ok(Redirect::to("/manage?done=import").into_response()),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Forbidden(_))) => {
            Ok(redirect_with_error("/manage", &e))
        }
        Err(e) => Err(e),
    }
}

/// Galleries on one page of the trash.
const TRASH_PAGE: u32 = 100;

#[derive(Debug, serde::Deserialize)]
pub struct TrashParams {
    #[serde(flatten)]
    done: DoneParams,
    page: Option<u32>,
}

/// `GET /manage/trash`: trashed galleries, newest first, to restore or (admins) delete for good.
pub async fn trash(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<TrashParams>,
) -> Result<Response, ApiError> {
    let admin = caller.user.as_ref().is_some_and(|u| u.role == Role::Admin);
    let page = p.page.unwrap_or(1).max(1);
    let db = state.db.clone();
    let listed = crate::blocking(move || {
        Ok(browse::list(
            &db,
            &db::ListQuery {
                offset: u64::from(page - 1) * u64::from(TRASH_PAGE),
                limit: TRASH_PAGE + 1,
                trashed: true,
                ..db::ListQuery::default()
            },
        )?)
    })
    .await?;
    let more = listed.len() > TRASH_PAGE as usize;
    let csrf = csrf_field(&caller);
    let mut body = format!(
        "<h1>{}</h1>{}{}",
        text::TRASH_TITLE,
        manage_nav(&caller, "/manage/trash"),
        status_line(&p.done.message())
    );
    if listed.is_empty() {
        body.push_str(&format!("<p class=\"muted\">{}</p>", text::TRASH_EMPTY));
    } else {
        body.push_str("<ul class=\"trash\">");
        for g in listed.iter().take(TRASH_PAGE as usize) {
            let id = escape(&g.public_id);
            let purge = if admin {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/g/{id}/purge\">{csrf}\
                     <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {sure}</label> \
                     <button class=\"plain\" type=\"submit\">{purge}</button></form>",
                    sure = text::PURGE_CONFIRM,
                    purge = text::PURGE,
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<li><a href=\"/g/{id}\">{title}</a> <span class=\"muted\">{pages} {pages_word} · {size}</span>\
                 <span class=\"row\"><form class=\"inline\" method=\"post\" action=\"/g/{id}/restore\">{csrf}\
                 <input type=\"hidden\" name=\"back\" value=\"trash\">\
                 <button class=\"plain\" type=\"submit\">{restore}</button></form>{purge}</span></li>",
                title = escape(&g.title),
                pages = g.page_count,
                pages_word = text::PAGES,
                size = megabytes(g.total_bytes),
                restore = text::RESTORE,
            ));
        }
        body.push_str("</ul>");
        body.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
        if page > 1 {
            body.push_str(&format!(
                "<a rel=\"prev\" href=\"/manage/trash?page={}\">‹</a>",
                page - 1
            ));
        }
        if more {
            body.push_str(&format!(
                "<a rel=\"next\" href=\"/manage/trash?page={}\">›</a>",
                page + 1
            ));
        }
        body.push_str("</nav>");
    }
    Ok(layout(&caller, text::TRASH_TITLE, "", &body, "").into_response())
}

/// `GET /manage/storage`: the image store's volumes and garbage, and compaction.
pub async fn storage(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<DoneParams>,
) -> Result<Response, ApiError> {
    let mut body = format!(
        "<h1>{}</h1>{}{}",
        text::STORAGE,
        manage_nav(&caller, "/manage/storage"),
        status_line(&p.message())
    );
    match state.lpfs.clone() {
        None => body.push_str(&format!("<p class=\"muted\">{}</p>", text::NOT_LOCAL_STORE)),
        Some(store) => {
            let stats = crate::blocking(move || Ok(library::ops::store::stats(&store))).await?;
            body.push_str(&format!(
                "<dl class=\"facts\"><dt>{volumes}</dt><dd>{v}</dd><dt>{images}</dt><dd>{b}</dd>\
                 <dt>{live}</dt><dd>{lb}</dd><dt>{files}</dt><dd>{vb}</dd><dt>{garbage}</dt><dd>{gb}</dd></dl>\
                 <table class=\"volumes\"><thead><tr><th>#</th><th>{files}</th><th>{live}</th><th>{garbage}</th></tr></thead><tbody>",
                volumes = text::VOLUMES,
                v = stats.volumes,
                images = text::IMAGES,
                b = stats.blobs,
                live = text::LIVE_BYTES,
                lb = megabytes(stats.live_bytes),
                files = text::VOLUME_BYTES,
                vb = megabytes(stats.volume_bytes),
                garbage = text::GARBAGE_BYTES,
                gb = megabytes(stats.garbage_bytes),
            ));
            for v in &stats.per_volume {
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    v.id,
                    megabytes(v.bytes),
                    megabytes(v.live_bytes),
                    megabytes(v.bytes.saturating_sub(v.live_bytes)),
                ));
            }
            body.push_str(&format!(
                "</tbody></table><form method=\"post\" action=\"/manage/compact\">{csrf}\
                 <p class=\"muted\">{help}</p><button type=\"submit\">{compact}</button></form>",
                csrf = csrf_field(&caller),
                help = text::COMPACT_HELP,
                compact = text::COMPACT,
            ));
        }
    }
    Ok(layout(&caller, text::STORAGE, "", &body, "").into_response())
}

/// `POST /manage/compact` (a form): compacts volumes with a fifth or more garbage.
pub async fn compact_submit(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(store) = state.lpfs.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    crate::blocking(move || Ok(library::ops::store::compact(&store, None)?)).await?;
    Ok(Redirect::to("/manage/storage?done=compacted").into_response())
}

/// `GET /manage/tags`: tag siblings (an alias read as its canonical tag) and parents (a tag that
/// implies another).
pub async fn tag_tools(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<DoneParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let (siblings, parents) =
        crate::blocking(move || Ok(library::ops::tags::relations(&db)?)).await?;
    let csrf = csrf_field(&caller);
    let mut body = format!(
        "<h1>{}</h1>{}{}",
        text::TAG_TOOLS,
        manage_nav(&caller, "/manage/tags"),
        status_line(&p.message())
    );
    let pair_form = |action: &str, a: &str, b: &str, submit: &str| {
        format!(
            "<form class=\"row\" method=\"post\" action=\"/manage/tags\">{csrf}\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">\
             <label class=\"grow\">{a}<input name=\"a\" required data-suggest list=\"tag-suggestions\" autocomplete=\"off\"></label>\
             <label class=\"grow\">{b}<input name=\"b\" required data-suggest list=\"tag-suggestions\" autocomplete=\"off\"></label>\
             <button type=\"submit\">{submit}</button></form>"
        )
    };
    let remove = |action: &str, a: &str, b: &str| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/manage/tags\">{csrf}\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">\
             <input type=\"hidden\" name=\"a\" value=\"{a}\"><input type=\"hidden\" name=\"b\" value=\"{b}\">\
             <button class=\"plain\" type=\"submit\">{}</button></form>",
            text::REMOVE
        )
    };
    body.push_str("<datalist id=\"tag-suggestions\"></datalist>");
    body.push_str(&format!(
        "<h2>{}</h2><p class=\"muted\">{}</p>",
        text::RENAME_TAG,
        text::RENAME_HELP
    ));
    body.push_str(&pair_form(
        "rename",
        text::FROM_TAG,
        text::TO_TAG,
        text::RENAME,
    ));
    body.push_str(&format!(
        "<h2>{}</h2><p class=\"muted\">{}</p>",
        text::SIBLINGS,
        text::SIBLINGS_HELP
    ));
    body.push_str(&pair_form(
        "sibling",
        text::ALIAS,
        text::CANONICAL,
        text::ADD,
    ));
    body.push_str("<ul class=\"pairs\">");
    for (alias, canonical) in &siblings {
        let (a, c) = (escape(&alias.to_string()), escape(&canonical.to_string()));
        body.push_str(&format!(
            "<li>{a} → {c} {}</li>",
            remove("unsibling", &a, &c)
        ));
    }
    body.push_str("</ul>");
    body.push_str(&format!(
        "<h2>{}</h2><p class=\"muted\">{}</p>",
        text::PARENTS,
        text::PARENTS_HELP
    ));
    body.push_str(&pair_form("parent", text::CHILD, text::PARENT, text::ADD));
    body.push_str("<ul class=\"pairs\">");
    for (child, parent) in &parents {
        let (c, p) = (escape(&child.to_string()), escape(&parent.to_string()));
        body.push_str(&format!(
            "<li>{c} ⊂ {p} {}</li>",
            remove("unparent", &c, &p)
        ));
    }
    body.push_str("</ul>");
    Ok(layout(&caller, text::TAG_TOOLS, "", &body, "").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct TagToolForm {
    action: String,
    a: String,
    #[serde(default)]
    b: String,
}

/// `POST /manage/tags` (a form): adds or removes a sibling or a parent.
pub async fn tag_tools_submit(
    State(state): State<AppState>,
    Form(form): Form<TagToolForm>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let done = crate::blocking(move || {
        let a = db::TagName::parse(&form.a)?;
        let b = || db::TagName::parse(&form.b);
        match form.action.as_str() {
            "rename" => {
                let changed = tags::rename(&db, &a, &b()?)?;
                return Ok(Some(changed));
            }
            "sibling" => tags::set_sibling(&db, &a, &b()?)?,
            "unsibling" => tags::remove_sibling(&db, &a)?,
            "parent" => tags::add_parent(&db, &a, &b()?)?,
            "unparent" => tags::remove_parent(&db, &a, &b()?)?,
            other => {
                return Err(ApiError::BadRequest(format!("no tag action {other:?}")));
            }
        }
        Ok(None)
    })
    .await;
    match done {
        Ok(Some(changed)) => {
            Ok(Redirect::to(&format!("/manage/tags?done=renamed&count={changed}")).into_response())
        }
        Ok(None) => Ok(Redirect::to("/manage/tags?done=saved").into_response()),
        Err(e @ (ApiError::BadRequest(_) | ApiError::NotFound(..))) => {
            Ok(redirect_with_error("/manage/tags", &e))
        }
        Err(e) => Err(e),
    }
}

/// `GET /manage/users`: accounts, their roles, and a form for a new one.
pub async fn users(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<DoneParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let users = crate::blocking(move || Ok(accounts::users(&db)?)).await?;
    let csrf = csrf_field(&caller);
    let roles = |selected: Role| -> String {
        [Role::Reader, Role::Editor, Role::Admin]
            .iter()
            .map(|r| {
                let s = if *r == selected { " selected" } else { "" };
                format!("<option value=\"{r}\"{s}>{r}</option>")
            })
            .collect()
    };
    let mut body = format!(
        "<h1>{}</h1>{}{}<table class=\"users\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        text::USERS,
        manage_nav(&caller, "/manage/users"),
        status_line(&p.message()),
        text::NAME,
        text::ROLE,
        text::NEW_PASSWORD,
    );
    for u in &users {
        let name = escape(&u.name);
        body.push_str(&format!(
            "<tr><td>{name}</td>\
             <td><form class=\"row\" method=\"post\" action=\"/manage/users\">{csrf}\
              <input type=\"hidden\" name=\"action\" value=\"role\"><input type=\"hidden\" name=\"name\" value=\"{name}\">\
              <label class=\"visually-hidden\" for=\"role-{id}\">{role_word}</label>\
              <select id=\"role-{id}\" name=\"role\">{options}</select><button class=\"plain\" type=\"submit\">{save}</button></form></td>\
             <td><form class=\"row\" method=\"post\" action=\"/manage/users\">{csrf}\
              <input type=\"hidden\" name=\"action\" value=\"password\"><input type=\"hidden\" name=\"name\" value=\"{name}\">\
              <label class=\"visually-hidden\" for=\"pw-{id}\">{new_pw}</label>\
              <input id=\"pw-{id}\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\">\
              <button class=\"plain\" type=\"submit\">{set}</button></form></td>\
             <td><form class=\"row\" method=\"post\" action=\"/manage/users\">{csrf}\
              <input type=\"hidden\" name=\"action\" value=\"remove\"><input type=\"hidden\" name=\"name\" value=\"{name}\">\
              <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {sure}</label>\
              <button class=\"plain\" type=\"submit\">{remove}</button></form></td></tr>",
            id = u.id,
            role_word = text::ROLE,
            options = roles(u.role),
            save = text::SAVE,
            new_pw = text::NEW_PASSWORD,
            min = auth::MIN_PASSWORD,
            set = text::SET_PASSWORD,
            sure = text::PURGE_CONFIRM,
            remove = text::REMOVE_USER,
        ));
    }
    body.push_str(&format!(
        "</tbody></table><h2>{add}</h2><form class=\"row\" method=\"post\" action=\"/manage/users\">{csrf}\
         <input type=\"hidden\" name=\"action\" value=\"add\">\
         <label class=\"grow\">{name}<input name=\"name\" required maxlength=\"64\" autocomplete=\"off\"></label>\
         <label class=\"grow\">{password}<input name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\"></label>\
         <label>{role}<select name=\"role\">{options}</select></label><button type=\"submit\">{add}</button></form>",
        add = text::ADD_USER,
        name = text::NAME,
        password = text::PASSWORD,
        min = auth::MIN_PASSWORD,
        role = text::ROLE,
        options = roles(Role::Reader),
    ));
    Ok(layout(&caller, text::USERS, "", &body, "").into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct UserForm {
    action: String,
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /manage/users` (a form): adds a user, or changes one's role or password, or removes one.
pub async fn users_submit(
    State(state): State<AppState>,
    Form(form): Form<UserForm>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let done = crate::blocking(move || {
        match form.action.as_str() {
            "add" => {
                accounts::add_user(&db, &form.name, &form.password, &form.role)?;
            }
            "role" => {
                accounts::set_role(&db, &form.name, &form.role)?;
            }
            "password" => accounts::reset_password(&db, &form.name, &form.password)?,
            "remove" if form.confirm == "yes" => accounts::remove_user(&db, &form.name)?,
            "remove" => return Err(ApiError::BadRequest(text::PURGE_UNCONFIRMED.into())),
            other => return Err(ApiError::BadRequest(format!("no user action {other:?}"))),
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => Ok(Redirect::to("/manage/users?done=saved").into_response()),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::NotFound(..))) => {
            Ok(redirect_with_error("/manage/users", &e))
        }
        Err(e) => Err(e),
    }
}
