//! `gt dashboard`: serves the town in a browser (`web`) until interrupted. The only place `gt`
//! starts tokio.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Args;

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The port to listen on (0: any free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on. Anything but loopback shows the town to the network: every
    /// request then needs the token printed at start.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Open the dashboard in the default browser (`xdg-open`).
    #[arg(long)]
    pub open: bool,
}

/// Worker threads for the server: pages are rendered on the blocking pool, so the async side
/// only moves bytes.
const WORKERS: usize = 2;

pub fn run(args: &DashboardArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let wanted = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(|source| web::Error::Bind {
                bind: wanted,
                source,
            })?;
        let bound = listener.local_addr().map_err(web::Error::Serve)?;
        let access = web::Access::new(bound, Some(web::Token::generate()?))?;
        let url = access.login_url();
        let state = web::Dashboard::new(town, store, runtimes, access, host::clock::from_env())?;
        // Printed once: the token is in this URL and nowhere else.
        ui.line(format!("dashboard: {url}"))?;
        ui.flush()?;
        if args.open
            && let Err(err) = host::process::run_inherit("xdg-open", &[&url])
        {
            ui.status(format!(
                "could not open a browser ({err}); open the URL above"
            ));
        }
        web::serve(listener, state, async {
            // Ctrl-C ends the server; if the signal cannot be watched, only killing it does.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
        Ok(())
    })
}
