//! The one place where errors become HTTP responses: a status and a JSON body with a stable,
//! machine-readable code, `{"error": "...", "code": "..."}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use library::ops::accounts::SecretError;

/// An error as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedHash(#[from] lpfs::ParseHashError),
    #[error("no blob with this hash is stored")]
    BlobNotFound,
    #[error("no such route")]
    RouteNotFound,
    #[error("the requested range is outside the blob's {len} bytes")]
    RangeNotSatisfiable { len: u64 },
    #[error("the request body is larger than the {limit} bytes allowed")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    BadRequest(String),
    #[error("{message} (at character {position})")]
    BadQuery { message: String, position: usize },
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("no thumbnail: {0}")]
    ThumbnailUnavailable(String),
    #[error("a stored blob is damaged; it is not served")]
    BlobDamaged(#[source] lpfs::Error),
    #[error("sign in first")]
    SignInRequired,
    #[error("wrong name or password")]
    WrongCredentials,
    #[error("unknown or revoked API key")]
    BadKey,
    #[error("{0}")]
    Forbidden(String),
    #[error("missing or wrong CSRF token: reload the page and try again")]
    CsrfRejected,
    #[error("a request from another site was refused")]
    CrossSite,
    #[error("too many failed sign-ins: try again in {retry_after_s} s")]
    TooManyAttempts { retry_after_s: i64 },
    #[error("{1}")]
    NotFound(Missing, String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What a request named that does not exist: each has its own error code, so a client can tell
/// a gallery that is gone from a collection that never was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Gallery,
    Page,
    Job,
    Collection,
    ApiKey,
    Asset,
    Tag,
    User,
}

impl Missing {
    /// The error code of the missing thing.
    pub fn code(self) -> &'static str {
        match self {
            Self::Gallery => "gallery-not-found",
            Self::Page => "page-not-found",
            Self::Job => "job-not-found",
            Self::Collection => "collection-not-found",
            Self::ApiKey => "api-key-not-found",
            Self::Asset => "asset-not-found",
            Self::Tag => "tag-not-found",
            Self::User => "user-not-found",
        }
    }
}

/// Every error code, as the OpenAPI document lists them.
pub const ALL_CODES: [&str; 27] = [
    "malformed-hash",
    "blob-not-found",
    "thumbnail-unavailable",
    "route-not-found",
    "range-not-satisfiable",
    "payload-too-large",
    "bad-request",
    "bad-query",
    "method-not-allowed",
    "blob-damaged",
    "sign-in-required",
    "wrong-credentials",
    "bad-api-key",
    "forbidden",
    "csrf",
    "cross-site",
    "too-many-attempts",
    "conflict",
    "internal",
    "gallery-not-found",
    "page-not-found",
    "job-not-found",
    "collection-not-found",
    "api-key-not-found",
    "asset-not-found",
    "tag-not-found",
    "user-not-found",
];

impl ApiError {
    /// The stable code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedHash(_) => "malformed-hash",
            Self::BlobNotFound => "blob-not-found",
            Self::ThumbnailUnavailable(_) => "thumbnail-unavailable",
            Self::RouteNotFound => "route-not-found",
            Self::RangeNotSatisfiable { .. } => "range-not-satisfiable",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::BadRequest(_) => "bad-request",
            Self::BadQuery { .. } => "bad-query",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::BlobDamaged(_) => "blob-damaged",
            Self::SignInRequired => "sign-in-required",
            Self::WrongCredentials => "wrong-credentials",
            Self::BadKey => "bad-api-key",
            Self::Forbidden(_) => "forbidden",
            Self::CsrfRejected => "csrf",
            Self::CrossSite => "cross-site",
            Self::TooManyAttempts { .. } => "too-many-attempts",
            Self::NotFound(what, _) => what.code(),
            Self::Conflict(_) => "conflict",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedHash(_) | Self::BadRequest(_) | Self::BadQuery { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::BlobNotFound
            | Self::RouteNotFound
            | Self::ThumbnailUnavailable(_)
            | Self::NotFound(..) => StatusCode::NOT_FOUND,
            Self::SignInRequired | Self::WrongCredentials | Self::BadKey => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_) | Self::CsrfRejected | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BlobDamaged(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<lpfs::Error> for ApiError {
    fn from(e: lpfs::Error) -> Self {
        match e {
            lpfs::Error::Corrupt { .. } => Self::BlobDamaged(e),
            lpfs::Error::Range { len, .. } => Self::RangeNotSatisfiable { len },
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<db::Error> for ApiError {
    fn from(e: db::Error) -> Self {
        match e {
            db::Error::GalleryNotFound(id) => {
                Self::NotFound(Missing::Gallery, format!("no gallery {id}"))
            }
            db::Error::JobNotFound(id) => Self::NotFound(Missing::Job, format!("no job {id}")),
            db::Error::UserNotFound(name) => {
                Self::NotFound(Missing::User, format!("no user {name:?}"))
            }
            db::Error::Invalid { .. } => Self::BadRequest(e.to_string()),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<library::import::ImportError> for ApiError {
    fn from(e: library::import::ImportError) -> Self {
        use library::import::ImportError as E;
        match e {
            E::Db(e) => e.into(),
            E::Store(e) => e.into(),
            E::Invalid(m) => Self::BadRequest(m),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<library::ops::Error> for ApiError {
    fn from(e: library::ops::Error) -> Self {
        use library::ops::Error as E;
        match e {
            E::CollectionNotFound(id) => {
                Self::NotFound(Missing::Collection, format!("no collection {id} of yours"))
            }
            E::TagNotFound(m) => Self::NotFound(Missing::Tag, m),
            E::Invalid(m) => Self::BadRequest(m),
            E::WrongCredentials => Self::WrongCredentials,
            E::TooManyAttempts { retry_after_s } => Self::TooManyAttempts { retry_after_s },
            E::SetupDone => Self::Forbidden(E::SetupDone.to_string()),
            E::ApiKeyNotFound(id) => {
                Self::NotFound(Missing::ApiKey, format!("no API key {id} of yours"))
            }
            E::Refused(m) => Self::Forbidden(m),
            E::ImageNotFound => Self::BlobNotFound,
            E::NoThumbnail(why) => Self::ThumbnailUnavailable(why),
            E::Secret(s @ (SecretError::TooShort | SecretError::TooLong)) => {
                Self::BadRequest(s.to_string())
            }
            E::Secret(s @ SecretError::Failed(_)) => Self::Internal(Box::new(s)),
            E::BadQuery { message, position } => Self::BadQuery { message, position },
            E::Db(e) => e.into(),
            E::Import(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        library::ops::Error::from(e).into()
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(Box::new(e))
    }
}

/// What an error response told the client, attached to it so that a browser's page request can be
/// answered with the app's error page instead of JSON (see `auth::guard`).
#[derive(Debug, Clone)]
pub struct Shown(pub String);

/// The cause of a server error, attached to the response for the logging middleware (and never
/// sent to the client).
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        if let Self::BadQuery { position, .. } = &self {
            body["position"] = (*position).into();
        }
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(Shown(self.to_string()));
        if let Self::TooManyAttempts { retry_after_s } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        if let Self::RangeNotSatisfiable { len } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        if status.is_server_error() {
            let mut detail = self.to_string();
            let mut source = std::error::Error::source(&self);
            while let Some(s) = source {
                detail.push_str(": ");
                detail.push_str(&s.to_string());
                source = s.source();
            }
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's list of codes holds every code an error can have.
    #[test]
    fn every_code_is_listed() {
        let errors = [
            ApiError::BlobNotFound,
            ApiError::RouteNotFound,
            ApiError::RangeNotSatisfiable { len: 1 },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::BadRequest(String::new()),
            ApiError::BadQuery {
                message: String::new(),
                position: 0,
            },
            ApiError::MethodNotAllowed,
            ApiError::ThumbnailUnavailable(String::new()),
            ApiError::SignInRequired,
            ApiError::WrongCredentials,
            ApiError::BadKey,
            ApiError::Forbidden(String::new()),
            ApiError::CsrfRejected,
            ApiError::CrossSite,
            ApiError::TooManyAttempts { retry_after_s: 1 },
            ApiError::Conflict(String::new()),
            ApiError::Internal("x".into()),
            ApiError::MalformedHash("x".parse::<lpfs::BlobHash>().expect_err("not a hash")),
        ];
        let missing = [
            Missing::Gallery,
            Missing::Page,
            Missing::Job,
            Missing::Collection,
            Missing::ApiKey,
            Missing::Asset,
            Missing::Tag,
            Missing::User,
        ]
        .map(|m| ApiError::NotFound(m, String::new()));
        for e in errors.iter().chain(&missing) {
            assert!(ALL_CODES.contains(&e.code()), "{} is not listed", e.code());
        }
        assert!(ALL_CODES.contains(&"blob-damaged"));
    }
}
