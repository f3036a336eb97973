//! Bearer-token access to the API. A listener on a loopback address may run without a token;
//! any other address needs one (the server refuses to start without it). With a token set,
//! every request must carry `Authorization: Bearer TOKEN`, compared in constant time.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Whether a listener on `addr` may run without a token.
pub fn token_optional(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Whether `header` (an `Authorization` value) carries `token`.
pub fn bearer_matches(header: Option<&[u8]>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
        return false;
    };
    // Lengths are compared first; a token's length is not a secret worth hiding.
    given.len() == token.len() && bool::from(given.ct_eq(token.as_bytes()))
}

/// Middleware: refuses requests without the token (when one is set).
pub async fn require_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token {
        let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if !bearer_matches(header, &token) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(bearer_matches(Some(b"Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some(b"Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some(b"Bearer s3cretx"), "s3cret"));
        assert!(!bearer_matches(Some(b"bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some(b"s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }

    #[test]
    fn only_loopback_listeners_may_skip_the_token() {
        assert!(token_optional("127.0.0.1:8080".parse().unwrap()));
        assert!(token_optional("[::1]:8080".parse().unwrap()));
        assert!(!token_optional("0.0.0.0:8080".parse().unwrap()));
        assert!(!token_optional("192.0.2.1:8080".parse().unwrap()));
    }
}
