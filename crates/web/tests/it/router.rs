//! The router through `tower::ServiceExt::oneshot`: status codes, escaping, and who may do
//! what.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use tower::ServiceExt as _;

use crate::fixture::{Fixture, HOSTILE};

const LOOPBACK: &str = "127.0.0.1:8080";

async fn send(app: &axum::Router, request: Request<Body>) -> Response {
    app.clone().oneshot(request).await.unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, LOOPBACK)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, form: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, LOOPBACK)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    fx: Fixture,
    app: axum::Router,
    token: web::Token,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(dir.path());
    let token = web::Token::generate().unwrap();
    let app = web::router(fx.dashboard(LOOPBACK.parse().unwrap(), Some(token.clone())));
    Setup {
        _dir: dir,
        fx,
        app,
        token,
    }
}

/// The cookie the login redirect sets.
async fn login(s: &Setup) -> String {
    let response = send(&s.app, get(&format!("/?token={}", s.token.as_str()))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_every_panel_and_escapes_titles() {
    let s = setup();
    let response = send(&s.app, get("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = text(response).await;
    for id in [
        "convoys",
        "agents",
        "queue",
        "escalations",
        "mail",
        "events",
    ] {
        assert!(
            page.contains(&format!("<section id=\"{id}\"")),
            "{id} missing"
        );
    }
    assert!(page.contains("Reporting"));
    assert!(page.contains("0/2"));
    assert!(page.contains("app/polecats/nux"), "{page}");
    assert!(page.contains(&s.fx.failed_mr));
    assert!(page.contains("gate `cargo test` failed"));
    assert!(page.contains("sse-connect=\"/events/stream\""));
    // Nothing from a CDN.
    assert!(!page.contains("https://"));
    // The hostile bead appears in the events panel only as text.
    assert!(!page.contains(HOSTILE));
    assert!(!page.contains("<script>alert"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bead_page_shows_its_history_escaped() {
    let s = setup();
    let response = send(&s.app, get(&format!("/bead/{}", s.fx.hostile))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = text(response).await;
    assert!(
        page.contains(
            "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"
        )
    );
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("history (1)"));
    assert!(page.contains("created"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_things_are_404() {
    let s = setup();
    let response = send(&s.app, get("/bead/zz-nope")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("zz-nope"));
    assert_eq!(
        send(&s.app, get("/panel/nope")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&s.app, get("/assets/nope.js")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_embedded() {
    let s = setup();
    let response = send(&s.app, get("/assets/htmx.min.js")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("htmx"));
    let response = send(&s.app, get("/assets/htmx-ext-sse.min.js")).await;
    assert!(text(response).await.contains("defineExtension(\"sse\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn panels_render_alone() {
    let s = setup();
    let response = send(&s.app, get("/panel/convoys")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let panel = text(response).await;
    assert!(panel.starts_with("<h2>convoys (1)</h2>"));
    assert!(panel.contains(&s.fx.convoy));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_header_is_refused_on_loopback() {
    let s = setup();
    let request = Request::get("/")
        .header(header::HOST, "evil.example:8080")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&s.app, request).await.status(),
        StatusCode::MISDIRECTED_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_need_the_token_even_on_loopback() {
    let s = setup();
    let form = format!("bead={}&reason=not+needed", s.fx.beads[0]);
    let response = send(&s.app, post("/action/close", &form, None)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let wrong = "gt_dashboard_8080=0000";
    let response = send(&s.app, post("/action/close", &form, Some(wrong))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        s.fx.store().show(&s.fx.beads[0]).unwrap().issue.status,
        "open"
    );
    let response = send(&s.app, get("/?token=0000")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_token_a_bead_closes_and_a_failed_request_is_retried() {
    let s = setup();
    let cookie = login(&s).await;
    let form = format!("bead={}&reason=not+needed", s.fx.beads[0]);
    let response = send(&s.app, post("/action/close", &form, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        text(response)
            .await
            .contains(&format!("closed {}", s.fx.beads[0]))
    );
    assert_eq!(
        s.fx.store().show(&s.fx.beads[0]).unwrap().issue.status,
        "closed"
    );

    let form = format!("mr={}", s.fx.failed_mr);
    let response = send(&s.app, post("/action/retry", &form, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("queued again"));
    // A second retry finds it queued: the library's transition refuses, nothing changes.
    let response = send(&s.app, post("/action/retry", &form, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(response).await.contains("queued"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_action_input_is_named_and_changes_nothing() {
    let s = setup();
    let cookie = login(&s).await;
    let response = send(
        &s.app,
        post("/action/close", "bead=zz-nope&reason=x", Some(&cookie)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("zz-nope"));
    let response = send(&s.app, post("/action/retry", "mr=banana", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(response).await.contains("banana"));
    let form = "address=not%20an%20address!&message=hi";
    let response = send(&s.app, post("/action/nudge", form, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = format!("bead={}&reason=+", s.fx.beads[0]);
    let response = send(&s.app, post("/action/close", &form, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s.fx.store().show(&s.fx.beads[0]).unwrap().issue.status,
        "open"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_from_another_origin_is_refused() {
    let s = setup();
    let cookie = login(&s).await;
    let mut request = post(
        "/action/retry",
        &format!("mr={}", s.fx.failed_mr),
        Some(&cookie),
    );
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://evil.example".parse().unwrap());
    assert_eq!(send(&s.app, request).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_loopback_every_request_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(dir.path());
    let token = web::Token::generate().unwrap();
    let app = web::router(fx.dashboard("0.0.0.0:8080".parse().unwrap(), Some(token.clone())));
    let request = |path: &str, cookie: Option<&str>| {
        let mut r = Request::get(path).header(header::HOST, "10.1.2.3:8080");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.body(Body::empty()).unwrap()
    };
    for path in [
        "/",
        "/panel/convoys",
        "/events/stream",
        "/assets/htmx.min.js",
    ] {
        assert_eq!(
            send(&app, request(path, None)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let response = send(&app, request(&format!("/?token={}", token.as_str()), None)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap();
    assert_eq!(
        send(&app, request("/", Some(cookie))).await.status(),
        StatusCode::OK
    );
}

#[test]
fn beyond_loopback_the_dashboard_refuses_to_start_without_a_token() {
    let err = web::Access::new("0.0.0.0:8080".parse().unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("without a token"), "{err}");
}
