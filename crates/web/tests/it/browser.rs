//! The dashboard in a real headless Chromium, driven through chromedriver (WebDriver): the
//! page loads, shows the town's convoy, and updates itself when a bead lands, with no reload.
//! Skips when `chromedriver` is missing, unless `GT_TEST_REQUIRE_EXTERNAL_TOOLS=1` (CI).

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::fixture::{Fixture, context};

/// chromedriver, killed when the test ends however it ends.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver(env: &testkit::TestEnv) -> Driver {
    let port = free_port();
    let child = env
        .command("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    testkit::wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .expect("chromedriver listens");
    driver
}

async fn browser(driver: &Driver) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions"
        ]}),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

async fn progress(client: &fantoccini::Client) -> String {
    match client.find(Locator::Css("#convoys .progress")).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        // Mid-swap the element may be gone for an instant.
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_updates_itself_when_a_bead_lands() {
    if !testkit::require_cmd("chromedriver") {
        return;
    }
    let env = testkit::TestEnv::new();
    let fx = Fixture::new(env.root());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let token = web::Token::generate().unwrap();
    let state = fx.dashboard(bound, Some(token.clone()));
    let url = web::Access::new(bound, Some(token)).unwrap().login_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let driver = start_driver(&env);
    let client = browser(&driver).await;
    client.goto(&url).await.unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/");
    assert!(client.source().await.unwrap().contains("Reporting"));
    assert_eq!(progress(&client).await, "0/2");
    // A mark on the page's window: a reload would drop it.
    client
        .execute("window.__still_here = true; return true;", vec![])
        .await
        .unwrap();
    // Wait for the event stream to be open before the change.
    let open = "return !!document.body['htmx-internal-data'] && \
                !!document.body['htmx-internal-data'].sseEventSource && \
                document.body['htmx-internal-data'].sseEventSource.readyState === 1;";
    let started = Instant::now();
    while client.execute(open, vec![]).await.unwrap() != serde_json::json!(true) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the event stream never opened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Another process's write: the bead lands.
    let mut store = beads::Store::open(&fx.town.beads_dir(), context()).unwrap();
    store
        .close(
            &fx.beads[0],
            &beads::ops::update::CloseOptions {
                reason: "landed".into(),
                force: false,
                session: String::new(),
            },
        )
        .unwrap();
    let landed = Instant::now();
    loop {
        if progress(&client).await == "1/2" {
            break;
        }
        assert!(
            landed.elapsed() < Duration::from_secs(1),
            "the page did not show the landing within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let kept = client
        .execute("return window.__still_here === true;", vec![])
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!(true), "the page reloaded");

    client.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
