//! `gt dashboard`: prints its URL with the token once, serves the town, refuses a request
//! without the token when bound beyond loopback, and names a taken port as the user's error.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use testkit::TestEnv;

use super::{GT, gt, stderr};

fn town(env: &TestEnv) -> std::path::PathBuf {
    let root = env.work().join("town");
    let out = gt(env, &["install", root.to_str().expect("a UTF-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    root
}

/// The dashboard, killed when the test ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Installs a town, starts `gt dashboard args…` in it and returns it with the URL it printed
/// (its line is `dashboard: <url>`).
fn serve(env: &TestEnv, args: &[&str]) -> (Served, String) {
    let root = town(env);
    let mut child = env
        .command(GT)
        .arg("dashboard")
        .args(args)
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gt dashboard");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the URL line");
    let url = line
        .trim()
        .strip_prefix("dashboard: ")
        .expect("the URL line");
    (Served(child), url.to_owned())
}

/// One HTTP/1.1 GET; the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response[9..12].parse().expect("a status code");
    (status, response)
}

fn port_of(url: &str) -> u16 {
    let rest = url.split("://").nth(1).expect("a URL");
    let host = rest.split('/').next().expect("a host");
    host.rsplit(':')
        .next()
        .expect("a port")
        .parse()
        .expect("a port number")
}

#[test]
fn on_loopback_it_prints_a_login_url_and_serves_the_town() {
    let env = TestEnv::new();
    let (_served, url) = serve(&env, &["--port", "0"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = url.split("?token=").nth(1).expect("a token in the URL");
    assert_eq!(token.len(), 64);
    let (status, page) = get(port_of(&url), "/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<section id=\"convoys\""), "{page}");
}

#[test]
fn beyond_loopback_a_request_without_the_token_is_refused() {
    let env = TestEnv::new();
    let (_served, url) = serve(&env, &["--port", "0", "--bind", "0.0.0.0"]);
    assert!(url.contains("?token="), "{url}");
    let (status, body) = get(port_of(&url), "/");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("needs its token"), "{body}");
}

#[test]
fn a_taken_port_is_the_users_error_with_a_hint() {
    let env = TestEnv::new();
    let root = town(&env);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let port = holder.local_addr().expect("its address").port().to_string();
    let out = env
        .command(GT)
        .args(["dashboard", "--port", &port])
        .current_dir(&root)
        .output()
        .expect("run gt dashboard");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.contains("hint: another program holds that port"),
        "{err}"
    );
}
