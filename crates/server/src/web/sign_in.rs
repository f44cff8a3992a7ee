//! Signing in and out with the web app's forms.

use super::*;

// ---- Signing in ---------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only a path of this site may be where a sign-in leads.
pub(super) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

pub(super) fn login_form(message: &str, next: &str) -> String {
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
