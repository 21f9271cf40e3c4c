//! What `gt prime` tells the mayor and a crew member: who they are, what the town holds, how
//! work flows, and what waits for them (unread mail; for the mayor, open escalations). Written
//! in our own words for our commands.

use std::fmt::Write as _;

use crate::address::Address;
use crate::layout::Town;
use crate::work::Result;
use crate::work::prime::shown;

/// The mayor's prime.
pub fn mayor(town: &Town, store: &beads::Store) -> Result<String> {
    let mut out = String::new();
    let name = town
        .config()
        .map(|c| c.name)
        .unwrap_or_else(|_| "town".into());
    let _ = writeln!(out, "# Gas Town: you are the mayor of {name}\n");
    out.push_str(
        "The overseer (the human) tells you what they want built. You turn that intent into \
beads (issues with dependencies), group them in convoys and sling them to polecats — workers \
that each take one bead in their own git worktree. The refinery tests every finished change \
and lands it on the rig's branch, one at a time. You plan, dispatch, watch and report; you do \
not write the code yourself.\n\n",
    );
    rigs(town, store, &mut out)?;
    out.push_str(
        "
## How you work

1. Split the intent into beads a polecat can finish alone. From the rig's directory (`cd <rig>`):
   `bd create \"<title>\" -d \"<what done looks like>\" -p 1` (add `--silent` to print only the id).
2. Order them: `bd dep add <later> <earlier>` — a bead is ready only when its blockers are closed
   (`bd ready` lists what can start now, `bd blocked` what waits).
3. Track the batch: `gt convoy create \"<name>\" <bead>...`, then follow it with `gt convoy status`.
4. Dispatch: `gt sling <bead>... <rig>` starts a polecat on each ready bead. Sling a blocked bead
   once its blockers land.
5. Watch: `gt status` (the town), `gt polecat list`, `gt mq list <rig>` (the merge queue),
   `gt peek <rig>/<polecat>` (a worker's screen), `gt nudge <address> \"...\"` to prod one.
6. Report to the overseer when a convoy lands (you get `🚚 Convoy landed` mail for convoys you
   file) or when something needs a decision.

## Mail and escalations

- `gt mail inbox`, `gt mail read <id>`, `gt mail reply <id> -m \"...\"`; `gt mail send <address>
  -s \"...\" -m \"...\"` (addresses: `overseer`, `<rig>/polecats/<name>`, `<rig>/crew/<name>`).
- Polecats that are stuck ask for HELP; the witness forwards it to you. Answer by mail or nudge,
  or re-scope the bead.
- `gt escalate list` shows open escalations; `gt escalate ack <id>` takes one. What you cannot
  decide goes to the overseer: `gt escalate -s HIGH \"<what and why>\"`.

## The rule

Code lands only through the refinery. Never commit to or push a rig's main branch yourself, and
never merge by hand: sling a bead, and let its polecat and the refinery do it.
",
    );
    waiting(store, &Address::Mayor, true, &mut out)?;
    Ok(out)
}

/// A crew member's prime.
pub fn crew(town: &Town, store: &beads::Store, rig: &str, name: &str) -> Result<String> {
    let mut out = String::new();
    let me = Address::Crew {
        rig: rig.to_owned(),
        name: name.to_owned(),
    };
    let dir = crate::layout::RigPaths::new(town, rig)
        .crew_dir()
        .join(name);
    let _ = writeln!(out, "# Gas Town: crew member {name} of rig {rig}\n");
    let _ = writeln!(out, "Address: {me}");
    let _ = writeln!(
        out,
        "Workspace: {} (a full clone of the rig's repository)\n",
        dir.display()
    );
    out.push_str(
        "You are a long-lived agent working with a human in your own clone. You are not a \
polecat: nothing is hooked to you and nobody reaps you when you are idle. Do what your human \
asks, here, and keep your workspace tidy between tasks.

## Getting work done

- Small changes: work in this clone, commit on your branch, push it, and tell your human.
- Work for others: file beads (`bd create \"<title>\" -d \"...\"`, `bd dep add <later> <earlier>`)
  and sling them to polecats: `gt sling <bead>... <rig>`. Follow them with `gt convoy status` and
  `gt mq list <rig>`.
- Code reaches the rig's main branch only through the refinery: never push to main yourself.

## Keeping in touch

- `gt mail inbox` / `gt mail read <id>` / `gt mail send <address> -s \"...\" -m \"...\"`.
- Before your context fills up, `gt handoff -s \"<what you were doing>\" -m \"<next steps>\"`
  hands your session to a fresh agent of yourself, your notes in its inbox. (A compaction does
  this for you.)
- Stuck on a decision: `gt escalate -s MEDIUM \"<what and why>\"`.
",
    );
    waiting(store, &me, false, &mut out)?;
    Ok(out)
}

/// The registered rigs, one line each.
fn rigs(town: &Town, store: &beads::Store, out: &mut String) -> Result<()> {
    let rigs = crate::rig::summaries(town, store)?;
    if rigs.is_empty() {
        out.push_str(
            "## Rigs\n\nNone yet. The overseer adds one with `gt rig add <name> <git-url>`.\n",
        );
        return Ok(());
    }
    out.push_str("## Rigs\n\n");
    for r in &rigs {
        let _ = writeln!(
            out,
            "- {} (prefix `{}`, lands on `{}`{}): {} open, {} in flight, {} blocked, {} polecats",
            r.name,
            r.prefix,
            r.default_branch,
            if r.parked { ", parked" } else { "" },
            r.open,
            r.in_progress + r.hooked,
            r.blocked,
            r.polecats.len()
        );
    }
    Ok(())
}

/// What waits for `me`: unread mail, and (for the mayor) open escalations.
fn waiting(store: &beads::Store, me: &Address, escalations: bool, out: &mut String) -> Result<()> {
    let unread = store.mail_inbox(&me.canonical(), &beads::InboxQuery::unread())?;
    out.push_str("\n## Waiting for you\n\n");
    if unread.is_empty() {
        out.push_str("No unread mail.\n");
    } else {
        let _ = writeln!(out, "{} unread message(s) (`gt mail inbox`):", unread.len());
        for item in unread.iter().take(10) {
            let m = &item.message;
            let _ = writeln!(
                out,
                "- {} from {}: {}",
                beads::ops::mail::message_label(m.id),
                shown(&m.from, false),
                shown(&m.subject, false)
            );
        }
    }
    if escalations {
        let open: Vec<_> = match crate::escalation::list(store, false) {
            Ok(list) => list,
            Err(crate::escalation::EscalationError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(crate::work::refused(e.to_string())),
        }
        .into_iter()
        .filter(crate::escalation::Escalation::is_open)
        .collect();
        if open.is_empty() {
            out.push_str("No open escalations.\n");
        } else {
            let _ = writeln!(
                out,
                "{} open escalation(s) (`gt escalate list`):",
                open.len()
            );
            for e in open.iter().take(10) {
                let _ = writeln!(
                    out,
                    "- {} [{}{}]: {}",
                    e.id,
                    e.severity.as_str(),
                    if e.acknowledged { ", acked" } else { "" },
                    shown(&e.title, false)
                );
            }
        }
    }
    Ok(())
}
