//! town
