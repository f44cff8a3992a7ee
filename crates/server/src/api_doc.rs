//! The native API's contract: an OpenAPI 3.1 document generated from the handlers' annotations
//! (`#[utoipa::path]` on each `/api/v1` handler), served at `/api/v1/openapi.json`, and a
//! human-readable page over it at `/api/docs/` (Swagger UI, built into the binary).
//!
//! Each operation names its own success responses and the errors only it gives; the errors any
//! operation can give (the gate's 401 and 403, a malformed request's 400, a body over the limit,
//! a server error) are added here to every operation they apply to, so the document cannot
//! forget one. Access is stated per operation as security requirements whose scope is the
//! route's access rule (`read`, `own`, `edit`, `admin`); a test checks it against the route table.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Schema, Type, schema::SchemaType,
};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::error::ApiError;

/// The error body every failure answers with.
#[derive(Debug)]
pub struct ErrorBody;

impl PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        let codes = crate::error::ALL_CODES.to_vec();
        ObjectBuilder::new()
            .description(Some(
                "What went wrong: `error` for people, `code` for programs (stable).",
            ))
            .property(
                "error",
                ObjectBuilder::new().schema_type(SchemaType::new(Type::String)),
            )
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some(codes)),
            )
            .property(
                "position",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::Integer))
                    .minimum(Some(0))
                    .description(Some(
                        "For `bad-query`: the character of the query where it went wrong.",
                    )),
            )
            .required("error")
            .required("code")
            .into()
    }
}

impl ToSchema for ErrorBody {}

/// Bytes of a file: an image, an archive.
#[derive(Debug)]
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for Binary {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LittlePanda",
        description = "The native API of a LittlePanda library: galleries, pages, tags, imports, \
            collections, reading state, accounts and the blob store. Sign in with an API key \
            (`Authorization: Bearer KEY`, made on the account page or with \
            `POST /api/v1/account/keys`), or with the session cookie of `POST /api/v1/login` plus \
            its CSRF token in `X-CSRF-Token` on every change. Times are milliseconds since the \
            Unix epoch. Errors answer `{error, code}`; `code` is stable.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        crate::health,
        crate::openapi_json,
        crate::store_stats,
        crate::store_compact,
        crate::accounts::session,
        crate::accounts::login,
        crate::accounts::logout,
        crate::accounts::setup,
        crate::accounts::account,
        crate::accounts::change_password,
        crate::accounts::keys,
        crate::accounts::create_key,
        crate::accounts::revoke_key,
        crate::accounts::users,
        crate::accounts::create_user,
        crate::accounts::set_role,
        crate::accounts::reset_password,
        crate::accounts::remove_user,
        crate::accounts::progress,
        crate::accounts::set_progress,
        crate::accounts::clear_progress,
        crate::accounts::add_favorite,
        crate::accounts::remove_favorite,
        crate::accounts::collections,
        crate::accounts::create_collection,
        crate::accounts::rename_collection,
        crate::accounts::remove_collection,
        crate::accounts::add_to_collection,
        crate::accounts::remove_from_collection,
        crate::blobs::put_blob,
        crate::blobs::get_blob,
        crate::blobs::head_blob,
        crate::thumbnails::get_thumbnail,
        crate::search::search,
        crate::search::list,
        crate::search::suggest,
        crate::tags::list,
        crate::tags::relations,
        crate::tags::rename,
        crate::tags::set_sibling,
        crate::tags::remove_sibling,
        crate::tags::add_parent,
        crate::tags::remove_parent,
        crate::galleries::gallery,
        crate::galleries::edit,
        crate::galleries::purge,
        crate::galleries::pages,
        crate::galleries::download,
        crate::galleries::reorder,
        crate::galleries::cover,
        crate::galleries::edit_tags,
        crate::galleries::trash,
        crate::galleries::restore,
        crate::galleries::upload,
        crate::galleries::import_server_path,
        crate::jobs::list,
        crate::jobs::job,
        crate::jobs::events,
    ),
    components(schemas(ErrorBody, Binary)),
    modifiers(&Common),
    tags(
        (name = "galleries", description = "Galleries: details, pages, editing, trash and purge."),
        (name = "search", description = "The search language over the whole library."),
        (name = "tags", description = "Tags: counts, renaming and merging, siblings and parents."),
        (name = "imports", description = "Uploads, server-path imports and their jobs."),
        (name = "reading", description = "Each user's own: progress, favorites, collections."),
        (name = "accounts", description = "Signing in, API keys, users."),
        (name = "store", description = "The blob store: images by hash, statistics, compaction."),
        (name = "server", description = "Health and this document."),
    ),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Adds the security schemes and the responses every operation shares.
struct Common;

/// The shared responses: (status, name, description).
const SHARED: [(&str, &str, &str); 5] = [
    (
        "400",
        "BadRequest",
        "The request is malformed (`bad-request`, `bad-query`, `malformed-hash`).",
    ),
    (
        "401",
        "Unauthorized",
        "Not signed in, or an unknown key (`sign-in-required`, `bad-api-key`).",
    ),
    (
        "403",
        "Forbidden",
        "Signed in, but not allowed (`forbidden`, `csrf`, `cross-site`).",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than allowed (`payload-too-large`).",
    ),
    (
        "500",
        "ServerError",
        "Something failed on the server (`internal`, `blob-damaged`).",
    ),
];

impl Modify for Common {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key, as `Authorization: Bearer KEY`. A `read` key reads; a \
                         `read-write` key may do what its user's role allows.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie `POST /api/v1/login` sets.",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token, which every change made with the session cookie \
                 carries.",
            ))),
        );
        for (_, name, description) in SHARED {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            components.responses.insert(
                name.to_string(),
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .into(),
            );
        }
        for item in doc.paths.paths.values_mut() {
            for (changes, op) in [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
                (false, &mut item.head),
            ] {
                let Some(op) = op else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let takes_input = op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                for (status, name, _) in SHARED {
                    let applies = match status {
                        "400" => takes_input,
                        "401" => secured,
                        // A change from another site is refused, whoever makes it.
                        "403" => secured || changes,
                        "413" => op.request_body.is_some(),
                        _ => true,
                    };
                    if applies {
                        op.responses
                            .responses
                            .entry(status.to_string())
                            .or_insert_with(|| Ref::from_response_name(name).into());
                    }
                }
            }
        }
    }
}

/// The document, made once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// `GET /api/docs`: to the docs page's folder, where its relative links work.
pub async fn docs_root() -> Redirect {
    Redirect::permanent("/api/docs/")
}

/// `GET /api/docs/{*file}`: the Swagger UI page over `/api/v1/openapi.json`, and its files.
pub async fn docs(file: Option<Path<String>>) -> Result<Response, ApiError> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")))
        .clone();
    let file = file.map(|Path(f)| f).unwrap_or_default();
    let found = utoipa_swagger_ui::serve(&file, config)
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    let Some(found) = found else {
        return Err(ApiError::NotFound(
            crate::error::Missing::Asset,
            format!("no file {file:?} in the API docs"),
        ));
    };
    let mut response = (StatusCode::OK, Body::from(found.bytes.into_owned())).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&found.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if found.gzpipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    // Swagger UI sets styles inline; nothing else is loosened.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
    );
    Ok(response)
}
