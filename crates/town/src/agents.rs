//! Agent presets: how to start, prime, detect and resume each coding-agent CLI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A user preset, or an override of a built-in one: every field optional, applied over the
/// built-in preset of the same name (or over nothing, for a new preset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresetOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_prompt_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_settings_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_flag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_style: Option<String>,
}
