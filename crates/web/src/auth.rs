//! Who may read and who may act.
//!
//! - Bound to a loopback address, anyone on this machine may read (as with `gt status`); a
//!   request must name the bound address in its `Host` header, so a web page whose DNS name
//!   is rebound to 127.0.0.1 cannot read the town through a visitor's browser.
//! - Bound anywhere else, every request needs the token, and the dashboard refuses to start
//!   without one ([`Access::new`]).
//! - Actions (POST) always need the token. The browser gets it once, from the URL `gt
//!   dashboard` prints (`/?token=…`): the server answers with an `HttpOnly`, `SameSite=Strict`
//!   cookie and a redirect to the same page without the token. A cross-site page cannot send
//!   that cookie, cannot read it, and a POST carrying a foreign `Origin` is refused as well.
//! - Tokens are compared in constant time.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::error::Error;
use crate::state::Shared;

/// 32 random bytes as 64 lowercase hex digits.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token from the operating system's random source.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, in time independent of where they differ.
    fn matches(&self, candidate: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

/// The dashboard's access rules, fixed at start from where it is bound.
#[derive(Debug, Clone)]
pub struct Access {
    bind: SocketAddr,
    token: Option<Token>,
}

impl Access {
    /// Rules for a server bound to `bind`. Beyond loopback a token is required: without one
    /// the dashboard would show the town to the network.
    pub fn new(bind: SocketAddr, token: Option<Token>) -> Result<Self, Error> {
        if !bind.ip().is_loopback() && token.is_none() {
            return Err(Error::TokenRequired { bind });
        }
        Ok(Self { bind, token })
    }

    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// The URL to print: with the token, so opening it logs the browser in.
    pub fn login_url(&self) -> String {
        let base = format!("http://{}/", self.bind);
        match &self.token {
            Some(token) => format!("{base}?token={}", token.as_str()),
            None => base,
        }
    }

    fn cookie_name(&self) -> String {
        // Cookies are per host, not per port: two dashboards on one machine keep theirs apart.
        format!("gt_dashboard_{}", self.bind.port())
    }

    fn loopback(&self) -> bool {
        self.bind.ip().is_loopback()
    }

    /// Host names a loopback dashboard answers to.
    fn host_allowed(&self, host: &str) -> bool {
        let port = self.bind.port();
        [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            self.bind.to_string(),
        ]
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn token_matches(&self, candidate: &str) -> bool {
        self.token.as_ref().is_some_and(|t| t.matches(candidate))
    }

    fn cookie_matches(&self, headers: &HeaderMap) -> bool {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(k, v)| k == name && self.token_matches(v))
    }
}

/// The `token` parameter of a query string, if any.
fn query_token(query: &str) -> Option<&str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == "token").then_some(v))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

/// The middleware in front of every route.
pub async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let access = &shared.access;
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if access.loopback() && !access.host_allowed(&host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this dashboard answers only to its loopback address (the Host header names another)",
        );
    }
    if let Some(candidate) = request.uri().query().and_then(query_token) {
        if !access.token_matches(candidate) {
            return refuse(StatusCode::FORBIDDEN, "wrong token");
        }
        let cookie = format!(
            "{}={candidate}; HttpOnly; SameSite=Strict; Path=/",
            access.cookie_name()
        );
        let location = request.uri().path().to_owned();
        return (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, cookie), (header::LOCATION, location)],
        )
            .into_response();
    }
    let authorized = access.cookie_matches(headers);
    if request.method() != Method::GET && request.method() != Method::HEAD {
        if !authorized {
            return refuse(
                StatusCode::FORBIDDEN,
                "actions need the dashboard's token: open the URL `gt dashboard` printed",
            );
        }
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if origin.is_some_and(|o| o != format!("http://{host}")) {
            return refuse(StatusCode::FORBIDDEN, "an action from another site");
        }
    } else if !access.loopback() && !authorized {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its token: open the URL `gt dashboard` printed",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
    }

    #[test]
    fn beyond_loopback_a_token_is_required() {
        let err = Access::new("0.0.0.0:8080".parse().unwrap(), None).unwrap_err();
        assert!(matches!(err, Error::TokenRequired { .. }));
        assert!(Access::new("127.0.0.1:8080".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn the_query_token_is_found_among_parameters() {
        assert_eq!(query_token("a=1&token=abc"), Some("abc"));
        assert_eq!(query_token("tokens=abc"), None);
    }
}
