//! Hourly cloud price presets. They are scenario inputs (`cost.cloud_preset`), so they live
//! in [`crate::scenario::prices`]; re-exported here for the cost reports.

pub use crate::scenario::prices::*;
