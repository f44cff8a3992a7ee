//! Server-rendered pages that work without JavaScript. For now: the first-run setup page, which
//! makes the first admin, only from the server itself and only while no admin exists.

use axum::extract::State;

use crate::extract::Form;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use library::ops::Error as OpsError;
use library::ops::accounts::{self, SecretError};

use crate::html::escape;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · LittlePanda</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"first-run\">{body}</main></body></html>\n",
        escape(title),
        css = crate::web::asset_url("app.css"),
    )
}

fn setup_form(message: &str) -> String {
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\"><strong>{}</strong></p>", escape(message))
    };
    page(
        "First run",
        &format!(
            "<h1>Welcome to LittlePanda</h1><p>Create the first administrator account.</p>{note}\
             <form method=\"post\" action=\"/setup\">\
             <p><label>Name<br><input name=\"name\" autocomplete=\"username\" required maxlength=\"64\"></label></p>\
             <p><label>Password (at least {min} characters)<br>\
             <input name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\"></label></p>\
             <p><label>Password again<br>\
             <input name=\"again\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\"></label></p>\
             <p><button type=\"submit\">Create the administrator</button></p></form>",
            min = auth::MIN_PASSWORD
        ),
    )
}

/// Whether setup may happen for this caller: no admin yet, and the caller is on this machine.
async fn setup_allowed(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<&'static str>, ApiError> {
    let db = state.db.clone();
    let has_admin = crate::blocking(move || Ok(accounts::has_admin(&db)?)).await?;
    Ok(if has_admin {
        Some("Setup is done: an administrator exists. Sign in instead.")
    } else if !crate::accounts::is_loopback(caller.addr) {
        Some(
            "The first-run setup works only from the server itself (open it at 127.0.0.1), or \
             create the administrator with `littlepanda user add NAME --role admin`.",
        )
    } else {
        None
    })
}

/// `GET /setup`.
pub async fn setup_page(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    Ok(match setup_allowed(&state, &caller).await? {
        Some(refusal) => (
            StatusCode::FORBIDDEN,
            Html(page(
                "First run",
                &format!("<h1>LittlePanda</h1><p>{}</p>", escape(refusal)),
            )),
        )
            .into_response(),
        None => Html(setup_form("")).into_response(),
    })
}

#[derive(Debug, serde::Deserialize)]
pub struct SetupForm {
    name: String,
    password: String,
    again: String,
}

/// `POST /setup` (a plain form): makes the first admin and signs them in.
pub async fn setup_submit(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<SetupForm>, ApiError>,
) -> Result<Response, ApiError> {
    if let Some(refusal) = setup_allowed(&state, &caller).await? {
        return Ok((
            StatusCode::FORBIDDEN,
            Html(page("First run", &escape(refusal))),
        )
            .into_response());
    }
    let Ok(Form(form)) = form else {
        return Ok((
            StatusCode::BAD_REQUEST,
            Html(setup_form("Fill in every field.")),
        )
            .into_response());
    };
    if form.password != form.again {
        return Ok((
            StatusCode::BAD_REQUEST,
            Html(setup_form("The two passwords differ.")),
        )
            .into_response());
    }
    let db = state.db.clone();
    let config = state.auth.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let user = match accounts::setup(&db, &form.name, &form.password) {
            Ok(u) => u,
            Err(OpsError::SetupDone) => {
                return Ok(Err("Setup is done: an administrator exists.".to_string()));
            }
            Err(
                e @ (OpsError::Secret(SecretError::TooShort | SecretError::TooLong)
                | OpsError::Db(db::Error::Invalid { .. })),
            ) => {
                return Ok(Err(e.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let (cookie, _) = auth::start_session(&db, user.id, &config, caller.https)?;
        Ok(Ok((user, cookie)))
    })
    .await??;
    match made {
        Err(message) => Ok((StatusCode::BAD_REQUEST, Html(setup_form(&message))).into_response()),
        Ok((user, cookie)) => {
            let mut response = (
                StatusCode::CREATED,
                Html(page(
                    "Ready",
                    &format!(
                        "<h1>Ready</h1><p>{} is the administrator and is signed in.</p>\
                         <p>Next, fill the library: upload archives from the browser, or run \
                         <code>littlepanda import DIR</code> on this machine.</p>\
                         <p class=\"actions\"><a class=\"button\" href=\"/manage\">Upload archives</a> \
                         <a class=\"button plain\" href=\"/\">Open the library</a></p>",
                        escape(&user.name)
                    ),
                )),
            )
                .into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
    }
}
