//! The import's cycle check: the file's blocking edges, with the store's, must not close a
//! cycle that `bd dep add` would refuse.

use std::collections::{HashMap, HashSet, VecDeque};

use rusqlite::Connection;

use super::{Record, record_err};
use crate::error::{Error, Result};
use crate::ops::deps::ORDERING_KINDS;
use crate::readiness;

/// An edge of the file, with the line it came from.
pub(super) struct FileEdge<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub kind: &'a str,
    /// The file (of a backup) and line of the record the edge came with.
    pub file: Option<&'a str>,
    pub line: usize,
}

/// Refuses the import if its blocking edges, together with the store's, close a cycle: the
/// same kinds `bd dep add` checks (`blocks` with `conditional-blocks`, and `parent-child` on
/// its own). The imported issues' edges replace theirs in the store, so the graph checked is
/// the one the import would leave. Linear: one pass over the store's blocking edges and one
/// strongly-connected-components pass per kind group; an edge of the file closes a cycle
/// exactly when both its ends are in one component. Cycles among the store's own edges
/// that the file does not touch (an old store) are left for `bd doctor` to report.
///
/// `file_edges` are the file's edges, in file order (those of other kinds, and those pointing
/// outside, `external:`, are passed over here); `imported()` lists the ids the file imports.
/// `store` is `None`
/// when the store has no issues, hence no edges (the bulk path, which runs this on a thread
/// of its own).
pub(super) fn refuse_cycles<'a>(
    imported: impl Fn() -> foldhash::HashSet<&'a str>,
    file_edges: &[FileEdge<'a>],
    store: Option<&Connection>,
) -> Result<()> {
    let mut imported_ids: Option<foldhash::HashSet<&str>> = None;
    let hierarchy: &[&str] = &["parent-child"];
    for kinds in [ORDERING_KINDS, hierarchy] {
        let file_edges: Vec<&FileEdge<'_>> = file_edges
            .iter()
            .filter(|e| kinds.contains(&e.kind) && !e.to.starts_with("external:"))
            .collect();
        if file_edges.is_empty() {
            continue;
        }
        let mut stored = match store {
            Some(tx) => stored_edges(tx, kinds)?,
            None => Vec::new(),
        };
        if !stored.is_empty() {
            // The store's edges from imported issues are replaced by the file's.
            let imported = imported_ids.get_or_insert_with(&imported);
            stored.retain(|(from, _)| !imported.contains(from.as_str()));
        }
        // Sized for the file's edges up front: growing a map of 100 000 ids step by step
        // rehashes every id several times over.
        let mut graph = Graph::with_capacity(stored.len() + file_edges.len());
        for (from, to) in &stored {
            graph.edge(from, to);
        }
        let ends: Vec<(usize, usize)> = file_edges
            .iter()
            .map(|e| graph.edge(e.from, e.to))
            .collect();
        let successors = graph.successors();
        let component = graph.components(&successors);
        for ((from, to), e) in ends.into_iter().zip(file_edges) {
            if component[from] == component[to] {
                let mut path = vec![e.from.to_owned()];
                path.extend(graph.path(&successors, to, from, &component));
                let cycle = Error::Cycle {
                    from: e.from.to_owned(),
                    to: e.to.to_owned(),
                    kind: e.kind.to_owned(),
                    path,
                };
                return Err(record_err(e.file, e.line, e.from, &cycle));
            }
        }
    }
    Ok(())
}

/// The edges of the whole `records`, for [`refuse_cycles`].
pub(super) fn record_edges<'a>(records: &[&'a Record]) -> Vec<FileEdge<'a>> {
    records
        .iter()
        .flat_map(|rec| {
            rec.deps.iter().map(|d| FileEdge {
                from: &d.issue_id,
                to: &d.depends_on_id,
                kind: &d.kind,
                file: rec.file.as_deref(),
                line: rec.line,
            })
        })
        .collect()
}

/// The store's edges of `kinds`.
fn stored_edges(tx: &Connection, kinds: &[&str]) -> Result<Vec<(String, String)>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT issue_id, depends_on_id FROM dependencies WHERE type IN {}",
        readiness::sql_list(&kinds.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
    ))?;
    let edges = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(edges.collect::<rusqlite::Result<_>>()?)
}

/// The successors of each node of a [`Graph`]: those of `v` are
/// `targets[starts[v]..starts[v + 1]]`.
struct Successors {
    starts: Vec<usize>,
    targets: Vec<usize>,
}

impl Successors {
    fn of(&self, v: usize) -> &[usize] {
        &self.targets[self.starts[v]..self.starts[v + 1]]
    }
}

/// A directed graph over issue ids, for [`refuse_cycles`].
struct Graph<'a> {
    index: foldhash::HashMap<&'a str, usize>,
    names: Vec<&'a str>,
    /// The edges as added: (from, to) node numbers.
    edges: Vec<(usize, usize)>,
}

impl<'a> Graph<'a> {
    /// A graph with room for about as many nodes as `edges` (an issue's blocking edges are
    /// one on average; most nodes are the source of one and the target of another).
    fn with_capacity(edges: usize) -> Self {
        let nodes = edges;
        Self {
            index: foldhash::HashMap::with_capacity_and_hasher(nodes, Default::default()),
            names: Vec::with_capacity(nodes),
            edges: Vec::with_capacity(edges),
        }
    }

    fn node(&mut self, id: &'a str) -> usize {
        let fresh = self.names.len();
        let i = *self.index.entry(id).or_insert(fresh);
        if i == fresh {
            self.names.push(id);
        }
        i
    }

    /// Adds the edge; returns its ends' node numbers.
    fn edge(&mut self, from: &'a str, to: &'a str) -> (usize, usize) {
        let (a, b) = (self.node(from), self.node(to));
        self.edges.push((a, b));
        (a, b)
    }

    /// Each node's successors, in the order their edges were added, in one array (no list
    /// of its own to allocate for each node).
    fn successors(&self) -> Successors {
        let n = self.names.len();
        let mut starts = vec![0usize; n + 1];
        for &(from, _) in &self.edges {
            starts[from + 1] += 1;
        }
        for v in 0..n {
            starts[v + 1] += starts[v];
        }
        let mut fill = starts.clone();
        let mut targets = vec![0usize; self.edges.len()];
        for &(from, to) in &self.edges {
            targets[fill[from]] = to;
            fill[from] += 1;
        }
        Successors { starts, targets }
    }

    /// Each node's strongly connected component (Tarjan's algorithm, iterative).
    fn components(&self, successors: &Successors) -> Vec<usize> {
        const UNSEEN: usize = usize::MAX;
        let n = self.names.len();
        let (mut index, mut low, mut component) = (vec![UNSEEN; n], vec![0; n], vec![UNSEEN; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut counter, mut components) = (Vec::new(), 0, 0);
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            let mut work = vec![(root, 0usize)];
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some((v, i)) = work.last().copied() {
                if let Some(&w) = successors.of(v).get(i) {
                    if let Some(top) = work.last_mut() {
                        top.1 += 1;
                    }
                    if index[w] == UNSEEN {
                        index[w] = counter;
                        low[w] = counter;
                        counter += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = components;
                        if w == v {
                            break;
                        }
                    }
                    components += 1;
                }
            }
        }
        component
    }

    /// The ids on a shortest path from `start` to `goal` within their component.
    fn path(
        &self,
        successors: &Successors,
        start: usize,
        goal: usize,
        component: &[usize],
    ) -> Vec<String> {
        let mut came_from: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = HashSet::from([start]);
        while let Some(v) = queue.pop_front() {
            if v == goal {
                break;
            }
            for &w in successors.of(v) {
                if component[w] == component[start] && seen.insert(w) {
                    came_from.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        let mut path = vec![goal];
        let mut cur = goal;
        while let Some(&prev) = came_from.get(&cur) {
            path.push(prev);
            cur = prev;
        }
        path.reverse();
        path.into_iter().map(|i| self.names[i].to_owned()).collect()
    }
}
