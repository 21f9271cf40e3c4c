//! beads
