//! The account page: API keys (made and revoked) and the password.

use super::*;

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
    let keys = crate::blocking(move || Ok(accounts::keys(&db, user.id)?)).await?;
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
    let made = crate::accounts::make_key(&state, &caller, form.name, Some(form.scope)).await;
    match made {
        Ok(accounts::NewKey { key, .. }) => {
            account_page(&state, &caller, StatusCode::CREATED, "", Some(&key)).await
        }
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
    match crate::blocking(move || Ok(accounts::revoke_key(&db, user, id)?)).await {
        // Revoked already (a second click, another tab): the page shows the keys as they are.
        Ok(()) | Err(ApiError::NotFound(Missing::ApiKey, _)) => {
            Ok(Redirect::to("/account").into_response())
        }
        Err(e) => Err(e),
    }
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
        accounts::change_password(&db, asker.user()?, &form.current, &form.new)?;
        auth::renew_session(&db, &asker, &config)
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
