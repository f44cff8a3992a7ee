//! Query-string and form extractors whose rejections are [`ApiError`]s, so a bad query or form
//! gets the app's error (the JSON shape for the API, the error page for a browser: see
//! `auth::guard`) rather than axum's plain-text answer. They keep axum's names, so a handler
//! reads the same with either.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::error::ApiError;

/// `axum::extract::Query`, with rejections as [`ApiError::BadRequest`].
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(r) => Err(ApiError::BadRequest(r.body_text())),
        }
    }
}

/// `axum::extract::Path`, with rejections as [`ApiError::BadRequest`] (a collection id that is
/// not a number, say), in the API's error shape rather than axum's plain text.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(r) => Err(ApiError::BadRequest(r.body_text())),
        }
    }
}

/// `axum::extract::Form`, with rejections as [`ApiError::BadRequest`].
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Form::<T>::from_request(req, state).await {
            Ok(axum::extract::Form(v)) => Ok(Self(v)),
            Err(r) => Err(ApiError::BadRequest(r.body_text())),
        }
    }
}

/// Deserializes an optional whole number that may come as text, as every value of a query string
/// does once `#[serde(flatten)]` is involved (serde then buffers values as strings, and
/// `serde_urlencoded` no longer parses them).
pub fn number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + TryFrom<u64>,
    T::Err: std::fmt::Display,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match <Option<Raw> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => T::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{n} is out of range"))),
        Some(Raw::Text(s)) if s.is_empty() => Ok(None),
        Some(Raw::Text(s)) => s
            .parse()
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a whole number: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        #[serde(default, deserialize_with = "number")]
        i: Option<usize>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        page: Option<u32>,
        #[serde(flatten)]
        inner: Inner,
    }

    /// The reader's link `?page=0&i=0` was refused: flattened numbers arrive as text.
    #[test]
    fn flattened_numbers_in_a_query_string_parse() {
        let o: Outer = serde_urlencoded_parse("page=0&i=0");
        assert_eq!((o.page, o.inner.i), (Some(0), Some(0)));
        let o: Outer = serde_urlencoded_parse("page=3");
        assert_eq!((o.page, o.inner.i), (Some(3), None));
        let o: Outer = serde_urlencoded_parse("i=");
        assert_eq!(o.inner.i, None);
    }

    fn serde_urlencoded_parse<T: serde::de::DeserializeOwned>(q: &str) -> T {
        let uri: axum::http::Uri = format!("/?{q}").parse().unwrap();
        axum::extract::Query::<T>::try_from_uri(&uri).unwrap().0
    }
}
