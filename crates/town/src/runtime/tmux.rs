//! [`TmuxRuntime`]: one tmux session per agent, on the town's own tmux server.
//!
//! Callers name sessions as the store and users do (`gt-furiosa`). The server may be shared by
//! several towns (`GT_TMUX_SOCKET`), so the tmux session behind a name carries the town's tag
//! ([`TmuxRuntime::tmux_name`]: `gt-furiosa-1a2b3c4d`) and is stamped with the town's root
//! ([`host::tmux::OWNER_OPTION`]) when created. Every operation looks at the stamp first and
//! refuses ([`RuntimeError::Foreign`]) a session another town made, should two names ever meet.

use std::path::Path;
use std::time::{Duration, Instant};

use host::tmux::{PaneInfo, Tmux, TmuxError};

mod attach;
mod delivery;
mod dialogs;

pub use attach::AttachCommand;
pub use delivery::DEFAULT_PROMPT;
pub(crate) use dialogs::last_menu;

use super::{
    CAPTURE_LINES, DEFAULT_KILL_GRACE, Runtime, RuntimeError, SendWhen, SessionHandle, SessionSpec,
    canonical_root, check_session_name, check_spec, is_prompt_line, poll, runs_any,
    socket_for_town, tail_for_error, town_tag,
};
use crate::agents::{DialogRule, Readiness};

pub(super) const KIND: &str = "tmux";
/// How many lines readiness and delivery checks look at.
const SCREEN_LINES: usize = 100;
/// How long pasted text may take to show in the pane.
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// How long after answering a dialog we wait before answering it again if it still shows.
const REANSWER_AFTER: Duration = Duration::from_secs(2);
/// The pause between the keys of a dialog answer, so the program reads them as two presses.
const KEY_PAUSE: Duration = Duration::from_millis(100);
/// How long a declared dialog must show unchanged before it is answered. A CLI draws its first
/// screen before it reads its terminal key by key: an arrow key sent then is echoed, or read
/// as a lone Escape (which cancels Claude Code's trust screen and exits).
const SETTLE: Duration = Duration::from_millis(700);

/// Agent sessions in tmux.
#[derive(Debug, Clone)]
pub struct TmuxRuntime {
    /// Stamps the sessions it creates with `town`.
    tmux: Tmux,
    /// The town's canonical root, as stamped on its sessions.
    town: String,
    /// The town's [`town_tag`], the suffix of its tmux session names.
    tag: String,
    kill_grace: Duration,
    send_timeout: Duration,
}

impl TmuxRuntime {
    /// The sessions of the town at `town_root` on `tmux`'s server.
    pub fn new(tmux: Tmux, town_root: &Path) -> Self {
        let town = canonical_root(town_root).to_string_lossy().into_owned();
        Self {
            tmux: tmux.with_owner(town.clone()),
            town,
            tag: town_tag(town_root),
            kill_grace: DEFAULT_KILL_GRACE,
            send_timeout: DEFAULT_SEND_TIMEOUT,
        }
    }

    /// Sessions on the server of the town at `town_root`: socket `socket` if given (from
    /// `GT_TMUX_SOCKET`), else [`socket_for_town`].
    pub fn for_town(town_root: &Path, socket: Option<&str>) -> Self {
        let socket = socket.map_or_else(|| socket_for_town(town_root), str::to_owned);
        Self::new(Tmux::new(socket), town_root)
    }

    /// The tmux session that holds this town's session `name`: `<name>-<town tag>`, so towns
    /// sharing a server never share a session name.
    pub fn tmux_name(&self, name: &str) -> String {
        format!("{name}-{}", self.tag)
    }

    /// How long a stopped session's processes get between `SIGTERM` and `SIGKILL`.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long pasted text may take to show in the pane (3 s).
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// The logical names of this town's sessions on the server: tagged with the town's tag and
    /// stamped as its own (another town's or the user's sessions are never listed).
    pub fn town_sessions(&self) -> Result<Vec<String>, RuntimeError> {
        Ok(self
            .town_panes()?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// The town's sessions whose agent runs (pane not dead), read in one tmux call: what a
    /// view of many agents asks instead of [`Runtime::is_alive`] once per agent.
    pub fn live_sessions(&self) -> Result<std::collections::HashSet<String>, RuntimeError> {
        Ok(self
            .town_panes()?
            .into_iter()
            .filter(|(_, pane)| !pane.dead)
            .map(|(name, _)| name)
            .collect())
    }

    /// The first pane of each session stamped as this town's, by logical session name, in
    /// one tmux call.
    fn town_panes(&self) -> Result<Vec<(String, PaneInfo)>, RuntimeError> {
        let suffix = self.tmux_name("");
        Ok(self
            .tmux
            .all_panes()
            .map_err(|e| tmux_error("*", e))?
            .into_iter()
            .filter(|(_, pane)| pane.owner == self.town)
            .filter_map(|(tmux_name, pane)| {
                let name = tmux_name.strip_suffix(&suffix)?;
                check_session_name(name).ok()?;
                Some((name.to_owned(), pane))
            })
            .collect())
    }

    /// Stops the tmux server when no session at all is left on it; returns whether it did.
    pub fn stop_server_if_empty(&self) -> Result<bool, RuntimeError> {
        let tmux_error = |e| tmux_error("*", e);
        if !self.tmux.server_running().map_err(tmux_error)?
            || !self.tmux.list_sessions().map_err(tmux_error)?.is_empty()
        {
            return Ok(false);
        }
        self.tmux.kill_server().map_err(tmux_error)?;
        Ok(true)
    }

    /// The tmux server the sessions live on.
    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    /// Session `name`'s pane, if the session exists; [`RuntimeError::Foreign`] if the tmux
    /// session is not stamped as this town's.
    fn pane(&self, name: &str) -> Result<Option<PaneInfo>, RuntimeError> {
        let tmux_name = self.tmux_name(name);
        match self
            .tmux
            .pane(&tmux_name)
            .map_err(|e| tmux_error(name, e))?
        {
            Some(pane) if pane.owner != self.town => {
                tracing::warn!(session = name, tmux_session = %tmux_name, owner = %pane.owner, "a tmux session of another town");
                Err(RuntimeError::Foreign {
                    session: name.to_owned(),
                    tmux_session: tmux_name,
                    owner: pane.owner,
                })
            }
            pane => Ok(pane),
        }
    }

    /// The session's pane if its program still runs; [`RuntimeError::NotFound`] or
    /// [`RuntimeError::Exited`] (with its output) otherwise.
    fn running_pane(&self, name: &str) -> Result<PaneInfo, RuntimeError> {
        let pane = self.pane(name)?.ok_or_else(|| not_found(name))?;
        if pane.dead {
            let output = self
                .tmux
                .capture(&self.tmux_name(name), SCREEN_LINES)
                .unwrap_or_default();
            return Err(RuntimeError::Exited {
                session: name.to_owned(),
                status: pane.dead_status.map_or_else(
                    || "killed by a signal".to_owned(),
                    |s| format!("exit status {s}"),
                ),
                output: tail_for_error(&output),
            });
        }
        Ok(pane)
    }

    fn screen(&self, name: &str) -> Result<String, RuntimeError> {
        self.tmux
            .capture(&self.tmux_name(name), SCREEN_LINES)
            .map_err(|e| tmux_error(name, e))
    }

    fn keys(&self, name: &str, keys: &[&str]) -> Result<(), RuntimeError> {
        self.tmux
            .send_keys(&self.tmux_name(name), keys)
            .map_err(|e| tmux_error(name, e))
    }

    /// Records the agent's ready prompt on its session ([`host::tmux::READY_OPTION`]), so
    /// whoever delivers text later can tell its idle prompt from half-typed input.
    fn record_prompt(&self, name: &str, readiness: &Readiness) -> Result<(), RuntimeError> {
        let Readiness::Prompt { prefix, .. } = readiness else {
            return Ok(());
        };
        self.tmux
            .set_user_option(&self.tmux_name(name), host::tmux::READY_OPTION, prefix)
            .map_err(|e| tmux_error(name, e))
    }

    fn answer(&self, name: &str, dialog: Dialog) -> Result<(), RuntimeError> {
        match dialog {
            Dialog::Trust => {
                tracing::info!(
                    session = name,
                    "accepting the workspace trust dialog (Enter)"
                );
                self.keys(name, &["Enter"])
            }
            Dialog::SignInMethod { option } | Dialog::ApiKeyMethod { option } => {
                tracing::info!(
                    session = name,
                    ?dialog,
                    "choosing to sign in with the API key in the environment"
                );
                self.keys(name, &[&option.to_string()])
            }
            Dialog::ApiKeyFromEnv => {
                tracing::info!(
                    session = name,
                    "saving the API key the agent found in its environment (Enter)"
                );
                self.keys(name, &["Enter"])
            }
            Dialog::ApiKeyMissing => Err(RuntimeError::Unanswerable {
                session: name.to_owned(),
                why: "it asks for an API key and none is in its environment: set \
                      OPENAI_API_KEY where `gt` runs (the codex preset passes `OPENAI_*` \
                      through), or sign in once with `codex login`"
                    .to_owned(),
                output: tail_for_error(&self.screen(name).unwrap_or_default()),
            }),
        }
    }

    /// Takes the next step of the answer to the declared dialog `rule` shown in `region`:
    /// keys, or the error a refused screen is.
    fn answer_declared(
        &self,
        name: &str,
        rule: &DialogRule,
        region: &[&str],
    ) -> Result<(), RuntimeError> {
        match dialogs::next_step(rule, region) {
            dialogs::Step::Wait => Ok(()),
            dialogs::Step::Refuse(why) => Err(RuntimeError::Unanswerable {
                session: name.to_owned(),
                why,
                output: tail_for_error(&region.join("\n")),
            }),
            dialogs::Step::Keys(keys) => {
                tracing::info!(session = name, dialog = %rule.name, ?keys, "answering a startup screen");
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        std::thread::sleep(KEY_PAUSE);
                    }
                    self.keys(name, &[key])?;
                }
                Ok(())
            }
        }
    }

    fn wait_for_prompt(
        &self,
        name: &str,
        prefix: &str,
        rules: &[DialogRule],
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let start = Instant::now();
        // What the pane showed when it was last answered (the same dialog with its cursor in
        // the same place is answered again only after a while), and when.
        let mut answered: Option<(String, Instant)> = None;
        let mut last = String::new();
        // Since when the pane has shown `last` unchanged.
        let mut unchanged_since = Instant::now();
        let ready = poll(timeout, || {
            // Read the screen before asking whether the agent still runs: a quick agent may show
            // its prompt, do its work and exit between two polls, and it was ready all the same.
            if let Ok(screen) = self.screen(name) {
                if screen_state(&screen, prefix, rules) == Screen::Ready {
                    return Ok(Some(()));
                }
                if screen != last {
                    unchanged_since = Instant::now();
                }
                last = screen;
            }
            self.running_pane(name)?;
            let lines: Vec<&str> = last.lines().collect();
            let state = screen_state(&last, prefix, rules);
            let seen = match &state {
                Screen::Ready => return Ok(Some(())),
                Screen::Starting => return Ok(None),
                Screen::Dialog(dialog) => format!("{dialog:?}"),
                Screen::Declared { .. } if unchanged_since.elapsed() < SETTLE => return Ok(None),
                Screen::Declared { rule, menu } => format!("{} {menu:?}", rule.name),
            };
            let again = answered
                .as_ref()
                .is_none_or(|(prev, at)| *prev != seen || at.elapsed() >= REANSWER_AFTER);
            if again {
                match state {
                    Screen::Dialog(dialog) => self.answer(name, dialog)?,
                    Screen::Declared { rule, .. } => {
                        let region = dialogs::showing(&lines, prefix, rules)
                            .map_or(&lines[..], |(_, region)| region);
                        self.answer_declared(name, rule, region)?;
                    }
                    Screen::Ready | Screen::Starting => {}
                }
                answered = Some((seen, Instant::now()));
            }
            Ok(None)
        })?;
        match ready {
            Some(()) => Ok(()),
            None => Err(RuntimeError::NotReady {
                session: name.to_owned(),
                prefix: prefix.to_owned(),
                waited: start.elapsed(),
                output: tail_for_error(&last),
            }),
        }
    }
}

impl Runtime for TmuxRuntime {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn start(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError> {
        check_spec(spec)?;
        let name = &spec.name;
        match self.pane(name)? {
            Some(pane) if !pane.dead => return Err(already_running(name)),
            Some(_) => {
                tracing::info!(session = %name, "replacing a session whose agent has exited");
                self.stop(name)?;
            }
            None => {}
        }
        let ids = self
            .tmux
            .new_session(&self.tmux_name(name), &spec.cwd, &spec.env, &spec.argv)
            .map_err(|e| match e {
                TmuxError::Failed { ref stderr, .. } if stderr.contains("duplicate session") => {
                    already_running(name)
                }
                e => tmux_error(name, e),
            })?;
        self.record_prompt(name, &spec.readiness)?;
        Ok(SessionHandle {
            name: name.clone(),
            pane_id: Some(ids.pane_id),
            pid: ids.pid,
        })
    }

    fn wait_ready(
        &self,
        name: &str,
        readiness: &Readiness,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        check_session_name(name)?;
        // Whose session it is, before its screen is read.
        self.pane(name)?;
        match readiness {
            Readiness::Prompt {
                prefix, dialogs, ..
            } => self.wait_for_prompt(name, prefix, dialogs, timeout),
            Readiness::Delay { ms } => {
                let delay = Duration::from_millis(*ms).min(timeout);
                poll(delay, || self.running_pane(name).map(|_| None::<()>))?;
                self.running_pane(name).map(|_| ())
            }
        }
    }

    /// See [`delivery`]: one paste, checked, then Enter, checked, under the session's lock.
    fn send(&self, name: &str, text: &str, when: SendWhen) -> Result<(), RuntimeError> {
        check_session_name(name)?;
        self.deliver(name, text, when)
    }

    fn capture(&self, name: &str) -> Result<String, RuntimeError> {
        check_session_name(name)?;
        if self.pane(name)?.is_none() {
            return Err(not_found(name));
        }
        self.tmux
            .capture(&self.tmux_name(name), CAPTURE_LINES)
            .map_err(|e| tmux_error(name, e))
    }

    fn is_alive(&self, name: &str, process_names: &[String]) -> Result<bool, RuntimeError> {
        check_session_name(name)?;
        Ok(match self.pane(name) {
            Ok(Some(pane)) if !pane.dead => {
                process_names.is_empty() || runs_any(pane.pid, process_names)
            }
            // Another town's agent is not this town's agent alive.
            Ok(_) | Err(RuntimeError::Foreign { .. }) => false,
            Err(e) => return Err(e),
        })
    }

    fn pid(&self, name: &str) -> Result<Option<u32>, RuntimeError> {
        check_session_name(name)?;
        Ok(self.pane(name)?.filter(|p| !p.dead).map(|p| p.pid))
    }

    /// The pane stays after its agent exits (`remain-on-exit`), with the status tmux recorded.
    fn exit_status(&self, name: &str) -> Result<Option<i32>, RuntimeError> {
        check_session_name(name)?;
        Ok(self
            .pane(name)?
            .filter(|p| p.dead)
            .and_then(|p| p.dead_status))
    }

    /// When the session's window last showed output (`#{window_activity}`); keys typed into it
    /// do not count.
    fn last_output(&self, name: &str) -> Result<Option<jiff::Timestamp>, RuntimeError> {
        check_session_name(name)?;
        Ok(self
            .pane(name)?
            .and_then(|p| p.last_output)
            .and_then(|s| jiff::Timestamp::from_second(s).ok()))
    }

    /// The pane's own process is the shell waiting on the agent (`tmux::pane_command`); tmux
    /// would continue it at once, so only the agent and what it started are frozen.
    fn freeze(&self, name: &str, freeze: bool) -> Result<bool, RuntimeError> {
        let Some(pid) = self.pid(name)? else {
            return Ok(false);
        };
        host::spawn::freeze_tree(pid, freeze, false).map_err(|source| RuntimeError::Process {
            action: if freeze { "freeze" } else { "thaw" },
            session: name.to_owned(),
            source,
        })?;
        Ok(true)
    }

    fn stop(&self, name: &str) -> Result<(), RuntimeError> {
        check_session_name(name)?;
        if self.pane(name)?.is_none() {
            return Ok(());
        }
        self.tmux
            .kill_session(&self.tmux_name(name), self.kill_grace)
            .map_err(|e| tmux_error(name, e))
    }

    fn respawn(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError> {
        check_spec(spec)?;
        let name = &spec.name;
        self.pane(name)?.ok_or_else(|| not_found(name))?;
        let ids = self
            .tmux
            .respawn_pane(
                &self.tmux_name(name),
                &spec.cwd,
                &spec.env,
                &spec.argv,
                self.kill_grace,
            )
            .map_err(|e| tmux_error(name, e))?;
        self.record_prompt(name, &spec.readiness)?;
        Ok(SessionHandle {
            name: name.clone(),
            pane_id: Some(ids.pane_id),
            pid: ids.pid,
        })
    }
}

fn tmux_error(name: &str, source: TmuxError) -> RuntimeError {
    match source {
        TmuxError::NoSession { .. } => not_found(name),
        source => RuntimeError::Tmux {
            session: name.to_owned(),
            source,
        },
    }
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound {
        session: name.to_owned(),
        runtime: KIND,
    }
}

fn already_running(name: &str) -> RuntimeError {
    RuntimeError::AlreadyRunning {
        session: name.to_owned(),
        runtime: KIND,
    }
}

/// A startup dialog an agent shows before its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialog {
    /// "Do you trust the files in this folder?" with `1. Yes, proceed` selected (Claude Code),
    /// or "Trust this folder?" with `1. Trust and continue` (Codex): Enter.
    Trust,
    /// Codex's welcome, shown without a stored login even when `OPENAI_API_KEY` is set: the
    /// number of `Sign in another way` ("Use an API key or another provider").
    SignInMethod { option: u8 },
    /// Codex's "Sign in another way": the number of `Use an OpenAI API key`.
    ApiKeyMethod { option: u8 },
    /// Codex's API key form, filled from `OPENAI_API_KEY` ("Detected OPENAI_API_KEY
    /// environment variable"): Enter saves it to `~/.codex/auth.json`, so it shows once.
    ApiKeyFromEnv,
    /// Codex's API key form with no key in the environment: nothing to answer with.
    ApiKeyMissing,
}

/// What a pane shows while an agent starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Screen<'r> {
    /// The prompt, with no dialog after it.
    Ready,
    /// A dialog readiness knows of itself.
    Dialog(Dialog),
    /// A dialog the preset declares, and its menu as the pane shows it.
    Declared {
        rule: &'r DialogRule,
        menu: Option<dialogs::Menu>,
    },
    /// Neither yet.
    Starting,
}

/// Reads a captured screen: first the dialogs the preset declares (`rules`). Only what follows
/// the last prompt line counts for the others, so a dialog that was answered and scrolled up
/// does not hide the prompt below it; a menu's cursor line (`❯ No, exit`) is no prompt line.
fn screen_state<'r>(screen: &str, prefix: &str, rules: &'r [DialogRule]) -> Screen<'r> {
    if prefix.trim().is_empty() {
        return Screen::Ready;
    }
    let lines: Vec<&str> = screen.lines().collect();
    if let Some((rule, region)) = dialogs::showing(&lines, prefix, rules) {
        return Screen::Declared {
            rule,
            menu: dialogs::last_menu(region),
        };
    }
    let prompt = (0..lines.len())
        .rev()
        .find(|&i| is_prompt_line(lines[i], prefix) && dialogs::menu_at(&lines, i).is_none());
    let after = prompt.map_or(&lines[..], |i| &lines[i + 1..]);
    match (detect_dialog(after), prompt) {
        (Some(dialog), _) => Screen::Dialog(dialog),
        (None, Some(_)) if is_provisional(after) => Screen::Starting,
        (None, Some(_)) => Screen::Ready,
        (None, None) => Screen::Starting,
    }
}

/// Whether the lines under a prompt show Codex's provisional screen: Codex draws its prompt
/// with only `? for shortcuts` under it while its app server starts, then replaces it with the
/// sign-in or trust screens if it has any; its session's prompt has the status line (`<model>
/// default · <dir>`, `← for agents · ? for shortcuts`) under it.
fn is_provisional(after_prompt: &[&str]) -> bool {
    let mut rest = after_prompt
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty());
    rest.next() == Some("? for shortcuts") && rest.next().is_none()
}

fn detect_dialog(lines: &[&str]) -> Option<Dialog> {
    let text = lines.join("\n").to_lowercase();
    if text.contains("paste or type your api key") {
        return Some(if text.contains("detected openai_api_key") {
            Dialog::ApiKeyFromEnv
        } else {
            Dialog::ApiKeyMissing
        });
    }
    if let Some(option) = option_number(lines, "use an openai api key") {
        return Some(Dialog::ApiKeyMethod { option });
    }
    if text.contains("sign in with chatgpt")
        && let Some(option) = option_number(lines, "sign in another way")
    {
        return Some(Dialog::SignInMethod { option });
    }
    let trust = text.contains("trust") && (text.contains("folder") || text.contains("files"));
    (trust && (text.contains("1. yes") || text.contains("1. trust and continue")))
        .then_some(Dialog::Trust)
}

/// The number of the menu option whose label starts with `label` (lowercase), as in
/// `  3. Sign in another way` or `> 1. Use an OpenAI API key`.
fn option_number(lines: &[&str], label: &str) -> Option<u8> {
    lines.iter().find_map(|line| {
        let line =
            line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '>' | '›' | '❯'));
        let (number, rest) = line.split_once(". ")?;
        let number: u8 = number.parse().ok()?;
        rest.to_lowercase().starts_with(label).then_some(number)
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use testkit::{TmuxServer, require_cmd, wait_for, wait_until};

    use super::*;

    const T: Duration = Duration::from_secs(10);
    const PROMPT: &str = "❯ ";
    const TRUST: &str = "Do you trust the files in this folder?\n❯ 1. Yes, proceed\n  2. No";

    fn prompt() -> Readiness {
        Readiness::Prompt {
            prefix: PROMPT.to_owned(),
            fallback_ms: 10_000,
            dialogs: Vec::new(),
        }
    }

    #[test]
    fn screens_are_read() {
        assert_eq!(screen_state("loading…\n", PROMPT, &[]), Screen::Starting);
        assert_eq!(screen_state("welcome\n❯\n", PROMPT, &[]), Screen::Ready);
        assert_eq!(
            screen_state(&format!("{TRUST}\n"), PROMPT, &[]),
            Screen::Dialog(Dialog::Trust)
        );
        // A menu without numbers, cursor on its first option: no prompt, and not ready.
        assert_eq!(
            screen_state(
                " ❯ No, exit\n   Yes, I accept\n Enter to confirm · Esc to cancel\n",
                PROMPT,
                &[]
            ),
            Screen::Starting
        );
        assert_eq!(
            screen_state(&format!("{TRUST}\nanswered\n❯\n"), PROMPT, &[]),
            Screen::Ready,
            "an answered dialog above the prompt"
        );
        assert_eq!(screen_state("", "", &[]), Screen::Ready);
    }

    // --- on a private tmux server -------------------------------------------------------

    struct Fixture {
        _server: TmuxServer,
        runtime: TmuxRuntime,
        dir: tempfile::TempDir,
    }

    fn fixture() -> Option<Fixture> {
        if !require_cmd("tmux") {
            return None;
        }
        let server = TmuxServer::start();
        let dir = tempfile::tempdir().unwrap();
        let runtime = town_runtime(&server, dir.path());
        Some(Fixture {
            _server: server,
            runtime,
            dir,
        })
    }

    fn town_runtime(server: &TmuxServer, town: &Path) -> TmuxRuntime {
        TmuxRuntime::new(Tmux::new(server.socket_name()), town)
            .with_kill_grace(Duration::from_secs(2))
            .with_send_timeout(Duration::from_millis(500))
    }

    impl Fixture {
        fn spec(&self, name: &str, script: &str) -> SessionSpec {
            self.spec_argv(name, &["sh", "-c", script])
        }

        fn spec_argv(&self, name: &str, argv: &[&str]) -> SessionSpec {
            SessionSpec {
                name: name.to_owned(),
                cwd: self.dir.path().to_owned(),
                env: vec![("GT_SESSION".to_owned(), name.to_owned())],
                argv: argv.iter().map(|w| (*w).to_owned()).collect(),
                readiness: prompt(),
                process_names: Vec::new(),
            }
        }

        fn start(&self, name: &str, script: &str) -> SessionHandle {
            self.runtime.start(&self.spec(name, script)).unwrap()
        }

        fn wait_output(&self, name: &str, needle: &str) -> String {
            wait_for(T, || {
                let text = self.runtime.capture(name).unwrap();
                text.contains(needle).then_some(text)
            })
            .unwrap_or_else(|e| {
                panic!(
                    "{e}: no `{needle}` in:\n{}",
                    self.runtime.capture(name).unwrap()
                )
            })
        }

        fn marker(&self) -> PathBuf {
            self.dir
                .path()
                .join(format!("pwned-{}", std::process::id()))
        }
    }

    #[test]
    fn waits_for_a_prompt_that_comes_late() {
        let Some(f) = fixture() else { return };
        let h = f.start("late", "sleep 0.3; printf 'ready? ❯ \\n❯ '; exec cat");
        assert!(h.pane_id.as_deref().is_some_and(|p| p.starts_with('%')));
        assert_eq!(f.runtime.kind(), "tmux");
        f.runtime.wait_ready("late", &prompt(), T).unwrap();
        assert!(f.runtime.capture("late").unwrap().contains("ready? ❯"));
        assert!(f.runtime.is_alive("late", &[]).unwrap());
        let wrote = f.runtime.last_output("late").unwrap().expect("it wrote");
        let now = jiff::Timestamp::try_from(std::time::SystemTime::now()).unwrap();
        assert!((now - wrote).get_seconds().abs() < 60, "{wrote}");
        assert_eq!(f.runtime.last_output("ghost").unwrap(), None);
        assert_eq!(f.runtime.town_sessions().unwrap(), ["late"]);
    }

    /// Codex 0.169's startup screens, as captured from the real CLI (blank lines and the logo
    /// left out).
    mod codex {
        pub const WELCOME: &str = "  Welcome to Codex, OpenAI's command-line coding agent\n\
            \x20 Choose how you want to use Codex.\n\
            > 1. Sign in with ChatGPT\n\
            \x20    Usage included with Plus, Pro, Business, and Enterprise plans\n\
            \x20 2. Sign in with Device Code\n\
            \x20    Sign in from another device with a one-time code\n\
            \x20 3. Sign in another way\n\
            \x20    Use an API key or another provider\n\
            \x20 Press enter to continue\n";
        pub const OTHER_WAY: &str = "  Welcome to Codex, OpenAI's command-line coding agent\n\
            \x20 Sign in another way\n\
            > 1. Use an OpenAI API key\n\
            \x20    Pay for what you use\n\
            \x20 2. Use Amazon Bedrock\n\
            \x20    Connect using your AWS credentials\n\
            \x20 Press enter to continue\n\
            \x20 Press esc to go back\n";
        pub const API_KEY: &str = "> Use your own OpenAI API key for usage-based billing\n\
            \x20 Paste or type your API key below.\n\
            \x20 Detected OPENAI_API_KEY environment variable.\n\
            \x20 Paste a different key if you prefer to use another account.\n\
            ╭API key──────╮\n│sk-test      │\n╰─────────────╯\n\
            \x20 Press enter to save\n\
            \x20 Press esc to go back\n";
        pub const NO_API_KEY: &str = "> Use your own OpenAI API key for usage-based billing\n\
            \x20 Paste or type your API key below.\n\
            ╭API key──────╮\n│             │\n╰─────────────╯\n\
            \x20 Press enter to save\n";
        pub const TRUST: &str = "  Folder access\n  /w/proj\n\
            \x20 Trust this folder? Codex can read, edit, and run files here, subject to your \
            permission settings.\n\
            › 1. Trust and continue\n\
            \x20 2. Back to Agent Command Center\n\
            \x20 enter continue · esc back\n";
        pub const UPDATE: &str = "  Update available · 0.169.0 → 0.170.0\n\
            \x20 Release notes: https://github.com/openai/codex/releases/latest\n\
            › 1. Update now (runs `npm install -g @openai/codex`)\n\
            \x20 2. Skip\n\
            \x20 3. Skip until next version\n\
            \x20 enter continue · esc skip\n";
        /// Drawn before Codex knows whether to show the screens above.
        pub const PROVISIONAL: &str = "  >_ OpenAI Codex (v0.169.0)\n\
            \x20    /w/proj\n\
            › Ask Codex to do anything\n\
            \x20 ? for shortcuts\n";
        pub const READY: &str = "  >_ OpenAI Codex (v0.169.0)\n\
            › Ask Codex to do anything\n\
            \x20 gpt-5.1-codex-mini default · /w/proj\n\
            \x20 ← for agents · ? for shortcuts\n";
    }

    #[test]
    fn codex_s_startup_screens_are_read() {
        const P: &str = "› ";
        let state = |screen: &str| screen_state(screen, P, &[]);
        assert_eq!(
            state(codex::WELCOME),
            Screen::Dialog(Dialog::SignInMethod { option: 3 })
        );
        assert_eq!(
            state(codex::OTHER_WAY),
            Screen::Dialog(Dialog::ApiKeyMethod { option: 1 })
        );
        assert_eq!(state(codex::API_KEY), Screen::Dialog(Dialog::ApiKeyFromEnv));
        assert_eq!(
            state(codex::NO_API_KEY),
            Screen::Dialog(Dialog::ApiKeyMissing)
        );
        assert_eq!(state(codex::TRUST), Screen::Dialog(Dialog::Trust));
        // The preset declares the update notice and its own trust screen.
        let preset = crate::agents::builtin("codex").unwrap();
        let Readiness::Prompt { dialogs, .. } = &preset.readiness else {
            panic!("codex waits for its prompt");
        };
        let declared = |screen: &str| match screen_state(screen, P, dialogs) {
            Screen::Declared { rule, .. } => rule.name.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(declared(codex::UPDATE), "update notice");
        assert_eq!(declared(codex::TRUST), "workspace trust");
        assert_eq!(state(codex::READY), Screen::Ready);
        assert_eq!(state(codex::PROVISIONAL), Screen::Starting);
        assert_eq!(
            state(&format!("{}{}", codex::TRUST, codex::READY)),
            Screen::Ready,
            "an answered trust screen above the prompt"
        );
    }

    #[test]
    fn codex_s_sign_in_is_walked_with_the_key_from_the_environment() {
        let Some(f) = fixture() else { return };
        let show = |screen: &str| format!("printf '%s' '{}'", screen.replace('\'', ""));
        // The provisional prompt first; then each screen waits for its answer: `3`, then `1`,
        // then Enter, then Enter.
        let script = format!(
            "clear() {{ printf '\\033[2J\\033[H'; }}; \
             {}; sleep 1; clear; \
             {}; read -rn1 a; [ \"$a\" = 3 ] || exit 3; clear; {}; read -rn1 b; [ \"$b\" = 1 ] || exit 4; \
             clear; {}; read c; clear; {}; read d; clear; {}; exec cat",
            show(codex::PROVISIONAL),
            show(codex::WELCOME),
            show(codex::OTHER_WAY),
            show(codex::API_KEY),
            show(codex::TRUST),
            show(codex::READY),
        );
        f.runtime
            .start(&f.spec_argv("codex", &["bash", "-c", &script]))
            .unwrap();
        let ready = Readiness::Prompt {
            prefix: "› ".to_owned(),
            fallback_ms: 3_000,
            dialogs: Vec::new(),
        };
        f.runtime.wait_ready("codex", &ready, T).unwrap();
        let text = f.runtime.capture("codex").unwrap();
        assert!(text.contains("Ask Codex to do anything"), "{text}");
    }

    #[test]
    fn codex_s_sign_in_without_a_key_fails_at_once_naming_the_variable() {
        let Some(f) = fixture() else { return };
        let script = format!("printf '%s' '{}'; exec cat", codex::NO_API_KEY);
        f.start("keyless", &script);
        let ready = Readiness::Prompt {
            prefix: "› ".to_owned(),
            fallback_ms: 3_000,
            dialogs: Vec::new(),
        };
        let start = Instant::now();
        let err = f.runtime.wait_ready("keyless", &ready, T).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let msg = err.to_string();
        assert!(
            matches!(err, RuntimeError::Unanswerable { .. })
                && msg.contains("OPENAI_API_KEY")
                && msg.contains("codex login")
                && msg.contains("Paste or type your API key"),
            "{msg}"
        );
    }

    #[test]
    fn answers_the_trust_dialog_before_the_prompt() {
        let Some(f) = fixture() else { return };
        let script = format!("printf '{TRUST}\\n'; read a; echo answered; printf '❯ '; exec cat");
        f.start("trusty", &script);
        f.runtime.wait_ready("trusty", &prompt(), T).unwrap();
        let text = f.runtime.capture("trusty").unwrap();
        assert!(text.contains("answered\n❯"), "{text}");
    }

    /// A menu like Claude Code's bypass-permissions warning, cursor first on `No, exit`, that
    /// moves with the arrow keys and exits unless Enter is pressed on `Yes, I accept`.
    const BYPASS_MENU: &str = r#"sel=0
draw() {
  printf '\033[2J\033[H  WARNING: Claude Code running in Bypass Permissions mode\n'
  if [ $sel = 0 ]; then printf '  ❯ No, exit\n    Yes, I accept\n'
  else printf '    No, exit\n  ❯ Yes, I accept\n'; fi
  printf '  Enter to confirm · Esc to cancel\n'
}
draw
while IFS= read -rsn1 k; do
  case "$k" in
    $'\e') read -rsn2 k; case "$k" in '[B') sel=1;; '[A') sel=0;; esac; draw;;
    '') [ $sel = 1 ] || exit 9; printf '\033[2J\033[Haccepted\n❯ '; exec cat;;
  esac
done"#;

    #[test]
    fn a_declared_menu_is_answered_by_moving_its_cursor_as_the_pane_shows_it() {
        let Some(f) = fixture() else { return };
        f.runtime
            .start(&f.spec_argv("bypass", &["bash", "-c", BYPASS_MENU]))
            .unwrap();
        let claude = crate::agents::builtin("claude").unwrap();
        f.runtime
            .wait_ready("bypass", &claude.readiness, T)
            .unwrap();
        let text = f.runtime.capture("bypass").unwrap();
        assert!(text.contains("accepted"), "{text}");
    }

    #[test]
    fn a_prompt_that_never_comes_times_out_with_the_output() {
        let Some(f) = fixture() else { return };
        f.start("mute", "echo still-loading; exec cat");
        f.wait_output("mute", "still-loading");
        let err = f
            .runtime
            .wait_ready("mute", &prompt(), Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(err, RuntimeError::NotReady { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("`mute`") && msg.contains("still-loading"),
            "{msg}"
        );
    }

    #[test]
    fn an_agent_that_exits_fails_fast_with_its_output() {
        let Some(f) = fixture() else { return };
        f.start("crash", "echo boom-output; exit 7");
        let start = Instant::now();
        let err = f.runtime.wait_ready("crash", &prompt(), T).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let RuntimeError::Exited { status, output, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(status, "exit status 7");
        assert!(output.contains("boom-output"), "{output}");
        assert!(err.to_string().contains("has exited"), "{err}");
        let err = f
            .runtime
            .wait_ready("crash", &Readiness::Delay { ms: 5_000 }, T)
            .unwrap_err();
        assert!(matches!(err, RuntimeError::Exited { .. }), "{err:?}");
        assert!(!f.runtime.is_alive("crash", &[]).unwrap());
        assert_eq!(f.runtime.exit_status("crash").unwrap(), Some(7));
        // A dead session is replaced by a new start.
        f.start("crash", "exec sleep 300");
        f.runtime
            .wait_ready("crash", &Readiness::Delay { ms: 50 }, T)
            .unwrap();
        assert_eq!(f.runtime.exit_status("crash").unwrap(), None);
        assert!(f.runtime.is_alive("crash", &[]).unwrap());
    }

    #[test]
    fn send_pastes_text_to_a_plain_program_and_verifies_it() {
        let Some(f) = fixture() else { return };
        f.start(
            "echo",
            "while IFS= read -r l; do printf 'got[%s]\\n' \"$l\"; done",
        );
        f.runtime
            .send("echo", "hello world", SendWhen::Now)
            .unwrap();
        f.wait_output("echo", "got[hello world]");
        // The same text again is seen as new, not matched against the old copy.
        f.runtime
            .send("echo", "hello world", SendWhen::Now)
            .unwrap();
        wait_until(T, || {
            f.runtime
                .capture("echo")
                .unwrap()
                .matches("got[hello world]")
                .count()
                == 2
        })
        .unwrap();
    }

    #[test]
    fn hostile_text_and_argv_words_are_never_executed() {
        let Some(f) = fixture() else { return };
        let m = f.marker();
        let m = m.display();
        let hostile_word = format!("$(touch {m}) `touch {m}` 'q' \"d\";");
        let spec = f.spec_argv(
            "hostile",
            &[
                "sh",
                "-c",
                "printf 'arg[%s]\\n' \"$1\"; while IFS= read -r l; do printf 'got[%s]\\n' \"$l\"; done",
                "sh",
                &hostile_word,
            ],
        );
        f.runtime.start(&spec).unwrap();
        f.wait_output("hostile", &format!("arg[{hostile_word}]"));
        f.runtime
            .send("hostile", &hostile_word, SendWhen::Now)
            .unwrap();
        f.wait_output("hostile", &format!("got[{hostile_word}]"));
        assert!(!f.marker().exists(), "a hostile word was executed");
    }

    #[test]
    fn text_that_never_shows_is_an_error_not_a_silent_ok() {
        let Some(f) = fixture() else { return };
        f.start("deaf", "stty -echo; echo deaf-ready; exec sleep 300");
        f.wait_output("deaf", "deaf-ready");
        let err = f
            .runtime
            .send("deaf", "anyone there", SendWhen::Now)
            .unwrap_err();
        assert!(matches!(err, RuntimeError::NotDelivered { .. }), "{err:?}");
        assert!(err.to_string().contains("`deaf`"), "{err}");
    }

    #[test]
    fn start_refuses_a_live_session_and_missing_sessions_are_not_found() {
        let Some(f) = fixture() else { return };
        f.start("dup", "exec sleep 300");
        let err = f
            .runtime
            .start(&f.spec("dup", "exec sleep 300"))
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::AlreadyRunning { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("`dup`"), "{err}");
        assert!(matches!(
            f.runtime.capture("ghost"),
            Err(RuntimeError::NotFound { .. })
        ));
        assert!(matches!(
            f.runtime.send("ghost", "hi", SendWhen::Now),
            Err(RuntimeError::NotFound { .. })
        ));
        assert!(!f.runtime.is_alive("ghost", &[]).unwrap());
        f.runtime.stop("ghost").unwrap();
        assert!(matches!(
            f.runtime.respawn(&f.spec("ghost", "true")),
            Err(RuntimeError::NotFound { .. })
        ));
        assert!(matches!(
            f.runtime.start(&f.spec("bad.name", "true")),
            Err(RuntimeError::InvalidName { .. })
        ));
    }

    #[test]
    fn is_alive_checks_process_names_in_the_tree() {
        let Some(f) = fixture() else { return };
        let h = f.start("named", "sleep 300 & exec cat");
        wait_until(T, || !host::spawn::descendants(h.pid).is_empty()).unwrap();
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(f.runtime.is_alive("named", &names(&["cat"])).unwrap());
        assert!(
            f.runtime
                .is_alive("named", &names(&["claude", "sleep"]))
                .unwrap()
        );
        assert!(
            !f.runtime
                .is_alive("named", &names(&["claude", "node"]))
                .unwrap()
        );
    }

    #[test]
    fn stop_kills_the_whole_process_group() {
        let Some(f) = fixture() else { return };
        let h = f.start("tree", "sleep 300 & sleep 300");
        // The shell starts the two sleeps one after the other: wait until both run.
        let sleeps: Vec<u32> = wait_for(T, || {
            let sleeps: Vec<u32> = std::iter::once(h.pid)
                .chain(host::spawn::descendants(h.pid))
                .filter(|&p| host::spawn::process_name(p).as_deref() == Some("sleep"))
                .collect();
            (sleeps.len() == 2).then_some(sleeps)
        })
        .unwrap();
        f.runtime.stop("tree").unwrap();
        for pid in sleeps {
            wait_until(T, || !host::spawn::is_alive(pid)).unwrap();
        }
        assert!(!f.runtime.is_alive("tree", &[]).unwrap());
        assert!(
            !f.runtime
                .tmux()
                .has_session(&f.runtime.tmux_name("tree"))
                .unwrap()
        );
    }

    #[test]
    fn respawn_replaces_the_agent_in_the_same_pane() {
        let Some(f) = fixture() else { return };
        let first = f.start("re", "echo one; exec sleep 300");
        f.wait_output("re", "one");
        let second = f
            .runtime
            .respawn(&f.spec("re", "echo two; exec sleep 300"))
            .unwrap();
        assert_eq!(second.pane_id, first.pane_id);
        assert_ne!(second.pid, first.pid);
        f.wait_output("re", "two");
        assert!(!host::spawn::is_alive(first.pid));
    }

    #[test]
    fn two_towns_on_one_server_each_keep_their_own_session_of_a_name() {
        let Some(a) = fixture() else { return };
        let town_b = tempfile::tempdir().unwrap();
        let b = town_runtime(&a._server, town_b.path());
        assert_ne!(a.runtime.tmux_name("gt-x"), b.tmux_name("gt-x"));
        a.start("gt-x", "echo town-a; exec sleep 300");
        b.start(&a.spec("gt-x", "echo town-b; exec sleep 300"))
            .unwrap();
        a.wait_output("gt-x", "town-a");
        wait_until(T, || b.capture("gt-x").unwrap().contains("town-b")).unwrap();
        assert!(!a.runtime.capture("gt-x").unwrap().contains("town-b"));
        b.stop("gt-x").unwrap();
        assert!(!b.is_alive("gt-x", &[]).unwrap());
        assert!(a.runtime.is_alive("gt-x", &[]).unwrap());
    }

    #[test]
    fn a_session_stamped_by_another_town_is_never_touched() {
        let Some(f) = fixture() else { return };
        let tmux_name = f.runtime.tmux_name("gt-clash");
        // Another town whose session got this town's tmux name (a hash collision, or a hand).
        let other = f.runtime.tmux().clone().with_owner("/elsewhere/town");
        let sh = |script: &str| vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        let ids = other
            .new_session(&tmux_name, f.dir.path(), &[], &sh("echo theirs; exec cat"))
            .unwrap();
        let foreign = |r: Result<(), RuntimeError>| match r {
            Err(RuntimeError::Foreign { owner, .. }) => assert_eq!(owner, "/elsewhere/town"),
            other => panic!("{other:?}"),
        };
        assert!(!f.runtime.is_alive("gt-clash", &[]).unwrap());
        foreign(f.runtime.capture("gt-clash").map(drop));
        foreign(f.runtime.send("gt-clash", "hello", SendWhen::Now));
        foreign(f.runtime.stop("gt-clash"));
        foreign(f.runtime.respawn(&f.spec("gt-clash", "true")).map(drop));
        foreign(f.runtime.start(&f.spec("gt-clash", "true")).map(drop));
        foreign(f.runtime.wait_ready("gt-clash", &prompt(), T));
        let err = f.runtime.stop("gt-clash").unwrap_err().to_string();
        assert!(
            err.contains("/elsewhere/town") && err.contains(&tmux_name),
            "{err}"
        );
        // Still running, untouched: no `hello` typed, the same program.
        let pane = other.pane(&tmux_name).unwrap().unwrap();
        assert_eq!((pane.pid, pane.dead), (ids.pid, false));
        let text = other.capture(&tmux_name, 100).unwrap();
        assert!(text.contains("theirs") && !text.contains("hello"), "{text}");
        // Dead, it is still not replaced.
        host::spawn::kill_group(ids.pid, Duration::from_secs(2)).unwrap();
        wait_until(T, || other.pane(&tmux_name).unwrap().unwrap().dead).unwrap();
        foreign(f.runtime.start(&f.spec("gt-clash", "true")).map(drop));
        assert_eq!(other.pane(&tmux_name).unwrap().unwrap().pid, ids.pid);
    }

    #[test]
    fn for_town_uses_the_override_or_the_town_hash() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            TmuxRuntime::for_town(dir.path(), Some("gt-custom"))
                .tmux()
                .socket(),
            "gt-custom"
        );
        assert_eq!(
            TmuxRuntime::for_town(dir.path(), None).tmux().socket(),
            socket_for_town(dir.path())
        );
    }
}
